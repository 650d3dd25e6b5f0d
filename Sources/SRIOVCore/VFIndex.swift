/// The index of a VF on its PF (the `N` of `virtfnN` and of `ip link set <pf> vf N`).
public struct VFIndex: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    /// PCIe's `TotalVFs` is a 16-bit field.
    public static let maxValue = 65534
    public let value: Int

    public init(_ value: Int) throws(SRIOVError) {
        guard (0...VFIndex.maxValue).contains(value) else {
            throw SRIOVError(.invalidArgument, "invalid VF index \(value): it must be 0 or more (at most \(VFIndex.maxValue))")
        }
        self.value = value
    }

    public init(parsing text: String) throws(SRIOVError) {
        guard let v = Int(text.trimmingSpaces) else {
            throw SRIOVError(.invalidArgument, "invalid VF index \(Quote.shell(text)): not a number; use 0, 1, 2, ...")
        }
        try self.init(v)
    }

    /// Checks the index against the VFs the PF has now.
    public func check(numVFs: Int, pf: String) throws(SRIOVError) {
        guard value < numVFs else {
            let have = numVFs == 0 ? "no VFs" : numVFs == 1 ? "1 VF (0)" : "\(numVFs) VFs (0-\(numVFs - 1))"
            throw SRIOVError(.notFound, "\(pf): VF \(value) does not exist: the PF has \(have); create more with `sriovctl pf set-numvfs`")
        }
    }

    public var description: String { String(value) }
    public static func < (lhs: VFIndex, rhs: VFIndex) -> Bool { lhs.value < rhs.value }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let v = try container.decode(Int.self)
        do { try self.init(v) } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

/// A NUMA node number as sysfs reports it; `-1` (no affinity) is represented as no node at all.
public struct NUMANode: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public let value: Int

    public init(_ value: Int) throws(SRIOVError) {
        guard (0...4095).contains(value) else {
            throw SRIOVError(.invalidArgument, "invalid NUMA node \(value): it must be 0 or more (as in /sys/devices/system/node/nodeN)")
        }
        self.value = value
    }

    public init(parsing text: String) throws(SRIOVError) {
        guard let v = Int(text.trimmingSpaces) else {
            throw SRIOVError(.invalidArgument, "invalid NUMA node \(Quote.shell(text)): not a number")
        }
        try self.init(v)
    }

    /// The node from a sysfs `numa_node` value: -1 means none.
    public static func fromSysfs(_ text: String) -> NUMANode? {
        guard let v = Int(text.trimmingSpaces), v >= 0 else { return nil }
        return try? NUMANode(v)
    }

    public var description: String { String(value) }
    public static func < (lhs: NUMANode, rhs: NUMANode) -> Bool { lhs.value < rhs.value }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let v = try container.decode(Int.self)
        do { try self.init(v) } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}
