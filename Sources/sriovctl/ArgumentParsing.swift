import ArgumentParser
import SRIOVCore

/// Domain types parsed at the option, with the domain type's own error message.
enum Parse {
    static func wrap<T>(_ body: () throws(SRIOVError) -> T) throws -> T {
        do { return try body() } catch { throw ValidationError(error.message) }
    }

    static func mac(_ s: String) throws -> MACAddress { try wrap { () throws(SRIOVError) in try MACAddress(assignable: s) } }
    static func vlanID(_ s: String) throws -> Int { try wrap { () throws(SRIOVError) in try VLAN.parseID(s) } }
    static func qos(_ s: String) throws -> Int { try wrap { () throws(SRIOVError) in try VLAN.parseQoS(s) } }
    static func vlanProto(_ s: String) throws -> VLANProtocol { try wrap { () throws(SRIOVError) in try VLANProtocol(parsing: s) } }
    static func linkState(_ s: String) throws -> VFLinkState { try wrap { () throws(SRIOVError) in try VFLinkState(parsing: s) } }
    static func vfIndex(_ s: String) throws -> VFIndex { try wrap { () throws(SRIOVError) in try VFIndex(parsing: s) } }
    static func onOff(_ what: String) -> @Sendable (String) throws -> Bool {
        { s in try wrap { () throws(SRIOVError) in try Toggle.parse(s, what: what) } }
    }
    static func rate(_ what: String) -> @Sendable (String) throws -> UInt32 {
        { s in try wrap { () throws(SRIOVError) in try TxRate.parse(s, what: what) } }
    }
    static func pciAddress(_ s: String) throws -> PCIAddress { try wrap { () throws(SRIOVError) in try PCIAddress(parsing: s) } }
    static func consumer(_ s: String) throws -> LeaseConsumer { try wrap { () throws(SRIOVError) in try LeaseConsumer(parsing: s) } }
    static func count(_ s: String) throws -> Int {
        guard let n = Int(s.trimmingSpaces), n >= 0, n <= 65535 else {
            throw ValidationError("invalid VF count \(Quote.shell(s)): use a whole number from 0 to the PF's sriov_totalvfs")
        }
        return n
    }
    static func eventCount(_ s: String) throws -> Int {
        guard let n = Int(s.trimmingSpaces), n > 0, n <= 1_000_000 else {
            throw ValidationError("invalid --count \(Quote.shell(s)): use a whole number from 1 to 1000000")
        }
        return n
    }

    static func seconds(_ s: String) throws -> Int {
        guard let n = Int(s.trimmingSpaces), n > 0, n <= 3600 else {
            throw ValidationError("invalid timeout \(Quote.shell(s)): use whole seconds from 1 to 3600")
        }
        return n
    }
}
