import SRIOVAPI
import SRIOVCore

/// `sriovctl libvirt-hook`: libvirt's QEMU hook (`/etc/libvirt/hooks/qemu`, or a script in
/// `/etc/libvirt/hooks/qemu.d/`), called as `<domain> <operation> <sub-operation> <extra>` with the
/// domain's XML on stdin.
///
/// A domain opts in with `<metadata><sriovd:lease xmlns:sriovd='urn:sriovd:libvirt:1' pool='uplink'/>`
/// and carries the VFs as `<hostdev mode='subsystem' type='pci' managed='no'>` (or `<interface
/// type='hostdev' managed='no'>`) entries: a prepare hook cannot change the domain's XML, so the hook
/// leases exactly those VFs (all from the pool, free and healthy, or nothing), before libvirt prepares
/// the domain's host devices, which for managed='no' must already be on vfio-pci.
public enum LibvirtHook {
    public static let namespace = "urn:sriovd:libvirt:1"

    /// What the hook does for one call.
    public enum Action: Sendable, Equatable {
        /// Not a domain of ours, or an operation that needs nothing (`started`, `migrate`, ...).
        case ignore(String)
        /// `prepare begin`: acquire (the request id makes a retry return the same lease).
        case acquire(LeaseRequest)
        /// `release end`: release the lease of this request id, if there is one.
        case release(requestID: String)
    }

    /// The request id of a domain's lease: the same for every start of the domain, so a retried
    /// prepare returns the lease the first one made.
    public static func requestID(uuid: String) -> String { "libvirt-" + uuid }

    /// Decides what a call does from libvirt's arguments and the domain XML. A domain without our
    /// namespace anywhere in its XML is ignored without parsing it.
    public static func action(arguments: [String], domainXML: String) throws(SRIOVError) -> Action {
        guard arguments.count >= 3 else {
            throw SRIOVError(.invalidArgument, "libvirt-hook takes libvirt's arguments: <domain> <operation> <sub-operation> [<extra>], with the domain XML on stdin (install it as /etc/libvirt/hooks/qemu; see Docs/guide/04-hypervisors.md)")
        }
        let (operation, sub) = (arguments[1], arguments[2])
        let relevant = (operation == "prepare" && sub == "begin") || (operation == "release" && sub == "end")
        guard relevant else { return .ignore("\(operation) \(sub): nothing to do") }
        guard domainXML.contains(namespace) else { return .ignore("domain \(arguments[0]) has no sriovd metadata") }
        guard let request = try request(fromDomainXML: domainXML) else {
            return .ignore("domain \(arguments[0]) has no <sriovd:lease> in its <metadata>")
        }
        if operation == "prepare" { return .acquire(request) }
        return .release(requestID: request.requestID ?? "")
    }

    static let settingsAttributes = ["pool", "owner", "mac", "vlan", "qos", "trust", "spoofchk", "min-tx-rate", "max-tx-rate"]

    /// The lease a domain's XML asks for, or nil when its metadata holds no `<sriovd:lease>`.
    public static func request(fromDomainXML xml: String) throws(SRIOVError) -> LeaseRequest? {
        let domain = try MiniXML.parse(xml)
        guard domain.localName == "domain", domain.namespace == nil else {
            throw SRIOVError(.invalidArgument, "the XML on stdin is not a libvirt domain (root element <\(domain.name)>)")
        }
        let ours = domain.child("metadata")?.all("lease", namespace: namespace) ?? []
        guard let meta = ours.first else { return nil }
        guard ours.count == 1 else {
            throw SRIOVError(.invalidArgument, "the domain's metadata holds \(ours.count) <sriovd:lease> elements; give one")
        }
        for key in meta.attributes.keys where !key.hasPrefix("xmlns") && !settingsAttributes.contains(key) {
            throw SRIOVError(.invalidArgument, "unknown attribute \(key) on <sriovd:lease>; known: \(settingsAttributes.joined(separator: ", "))")
        }
        guard let uuidText = domain.child("uuid")?.text.trimmingSpaces, !uuidText.isEmpty else {
            throw SRIOVError(.invalidArgument, "the domain XML has no <uuid>: libvirt always writes one; is this the XML libvirt passed?")
        }
        let uuid = try LeaseConsumer.uuid(uuidText)
        guard let pool = meta.attributes["pool"], !pool.isEmpty else {
            throw SRIOVError(.invalidArgument, "<sriovd:lease> needs pool='<name>' (the pool its hostdevs come from)")
        }
        let name = domain.child("name")?.text.trimmingSpaces ?? ""
        var owner = meta.attributes["owner"] ?? name
        if meta.attributes["owner"] == nil, (try? LeaseRequest.checkName(owner, what: "owner")) == nil { owner = uuid }
        var settings = VFSettings()
        do throws(SRIOVError) {
            if let mac = meta.attributes["mac"] { settings.mac = try MACAddress(assignable: mac) }
            if let vlan = meta.attributes["vlan"] {
                let qos = try meta.attributes["qos"].map { q throws(SRIOVError) in try VLAN.parseQoS(q) } ?? 0
                settings.vlan = try VLAN(id: try VLAN.parseID(vlan), qos: qos)
            } else if meta.attributes["qos"] != nil {
                throw SRIOVError(.invalidArgument, "qos goes with vlan; add vlan='<id>'")
            }
            settings.trust = try meta.attributes["trust"].map { t throws(SRIOVError) in try onOff(t, "trust") }
            settings.spoofCheck = try meta.attributes["spoofchk"].map { t throws(SRIOVError) in try onOff(t, "spoofchk") }
            settings.minTxRate = try meta.attributes["min-tx-rate"].map { t throws(SRIOVError) in try rate(t, "min-tx-rate") }
            settings.maxTxRate = try meta.attributes["max-tx-rate"].map { t throws(SRIOVError) in try rate(t, "max-tx-rate") }
        } catch {
            throw SRIOVError(.invalidArgument, "<sriovd:lease>: \(error.message)")
        }
        let vfs = try unmanagedHostdevs(domain)
        guard !vfs.isEmpty else {
            throw SRIOVError(.invalidArgument, "domain \(name) asks for a lease from pool \(pool) but has no <hostdev mode='subsystem' type='pci' managed='no'> (or <interface type='hostdev' managed='no'>) for it: add the VFs to lease (`sriovctl pool list` shows the pool; `sriovctl lease show <id> --format libvirt` prints the element)")
        }
        let request = LeaseRequest(pool: pool, owner: owner, count: vfs.count, settings: settings,
                                   requestID: requestID(uuid: uuid), consumer: .libvirt(uuid: uuid), vfs: vfs)
        do throws(SRIOVError) { try request.validate() } catch {
            throw SRIOVError(.invalidArgument, "domain \(name): \(error.message)")
        }
        return request
    }

    /// The PCI addresses of the domain's unmanaged PCI host devices, in document order.
    static func unmanagedHostdevs(_ domain: MiniXMLElement) throws(SRIOVError) -> [PCIAddress] {
        var out: [PCIAddress] = []
        for device in domain.child("devices")?.children ?? [] where device.namespace == nil {
            let isHostdev = device.localName == "hostdev" && device.attributes["mode"] == "subsystem" && device.attributes["type"] == "pci"
            let isInterface = device.localName == "interface" && device.attributes["type"] == "hostdev"
            guard isHostdev || isInterface, device.attributes["managed"] == "no" else { continue }
            guard let address = device.child("source")?.child("address") else {
                throw SRIOVError(.invalidArgument, "<\(device.localName) managed='no'> without <source><address .../></source>")
            }
            out.append(try pciAddress(address))
        }
        return out
    }

    /// `<address domain='0x0000' bus='0x03' slot='0x10' function='0x1'/>` (libvirt also accepts decimal).
    static func pciAddress(_ e: MiniXMLElement) throws(SRIOVError) -> PCIAddress {
        func field(_ key: String, max: UInt64, required: Bool = true) throws(SRIOVError) -> UInt64 {
            guard let text = e.attributes[key] else {
                if required { throw SRIOVError(.invalidArgument, "a hostdev's <address> has no \(key)='...'") }
                return 0
            }
            let value = text.hasPrefix("0x") || text.hasPrefix("0X") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
            guard let value, value <= max else {
                throw SRIOVError(.invalidArgument, "invalid \(key)='\(text)' in a hostdev's <address>: use 0x0 to 0x\(String(max, radix: 16))")
            }
            return value
        }
        if let type = e.attributes["type"], type != "pci" {
            throw SRIOVError(.invalidArgument, "a hostdev's <address type='\(type)'> is not a PCI address")
        }
        return try PCIAddress(domain: UInt32(try field("domain", max: 0xffff, required: false)), bus: UInt8(try field("bus", max: 0xff)),
                              device: UInt8(try field("slot", max: 0x1f)), function: UInt8(try field("function", max: 0x7)))
    }

    static func onOff(_ text: String, _ key: String) throws(SRIOVError) -> Bool {
        switch text {
        case "on", "yes": return true
        case "off", "no": return false
        default: throw SRIOVError(.invalidArgument, "invalid \(key)='\(text)': use on or off")
        }
    }

    static func rate(_ text: String, _ key: String) throws(SRIOVError) -> UInt32 {
        guard let value = UInt32(text) else { throw SRIOVError(.invalidArgument, "invalid \(key)='\(text)': use Mbit/s, 0 to \(UInt32.max)") }
        return value
    }

    /// Runs a call's action against sriovd (the caller opens `door` only for an action that is not
    /// `ignore`). Returns what happened, for the log; throws (and libvirt fails the domain's start) when
    /// prepare cannot lease. A failed acquire leaves nothing: sriovd rolls it back.
    public static func run(_ action: Action, door: any FrontDoor) async throws(SRIOVError) -> String {
        switch action {
        case .ignore(let why):
            return why
        case .acquire(let request):
            do throws(SRIOVError) {
                let lease = try await door.acquire(request)
                return "lease \(lease.id) for \(request.consumer?.description ?? request.owner): \(lease.vfs.map { $0.pciAddress.description }.joined(separator: ", ")) on vfio-pci"
            } catch {
                throw SRIOVError(error.code, "sriovd cannot lease the domain's VFs from pool \(request.pool): \(error.message)", cause: error.cause)
            }
        case .release(let requestID):
            var released: [String] = []
            for lease in try await door.leases(owner: nil) where lease.request.requestID == requestID {
                do throws(SRIOVError) {
                    _ = try await door.release(lease.id)
                    released.append(lease.id.description)
                } catch where error.code == .notFound {
                    // Released meanwhile (a retry, the reaper): what release end wants.
                }
            }
            return released.isEmpty ? "no lease for request id \(requestID): nothing to release" : "released \(released.joined(separator: ", "))"
        }
    }
}
