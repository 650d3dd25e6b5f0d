/// The VLAN tag protocol a VF's port VLAN is inserted with.
public enum VLANProtocol: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Customer VLAN, ethertype 0x8100.
    case dot1Q = "802.1Q"
    /// Service VLAN (QinQ outer tag), ethertype 0x88a8.
    case dot1AD = "802.1ad"

    public var etherType: UInt16 { self == .dot1Q ? 0x8100 : 0x88a8 }

    public init(etherType: UInt16) throws(SRIOVError) {
        switch etherType {
        case 0x8100: self = .dot1Q
        case 0x88a8: self = .dot1AD
        default:
            throw SRIOVError(.invalidArgument, "unknown VLAN protocol ethertype 0x\(Hex.format(UInt64(etherType), width: 4)); sriovd knows 0x8100 (802.1Q) and 0x88a8 (802.1ad)")
        }
    }

    /// Accepts `802.1Q`, `802.1ad` (any case) as iproute2 spells them.
    public init(parsing text: String) throws(SRIOVError) {
        switch text.lowercased() {
        case "802.1q": self = .dot1Q
        case "802.1ad": self = .dot1AD
        default:
            throw SRIOVError(.invalidArgument, "invalid VLAN protocol \(Quote.shell(text)): use 802.1Q or 802.1ad")
        }
    }

    public var description: String { rawValue }
}

/// A VF's port VLAN: id 0...4094 (0 = no tag), priority (QoS) 0...7, protocol.
public struct VLAN: Hashable, Sendable, Codable, CustomStringConvertible {
    public static let maxID: UInt16 = 4094
    public static let none = VLAN(uncheckedID: 0, qos: 0, proto: .dot1Q)

    public let id: UInt16
    public let qos: UInt8
    public let proto: VLANProtocol

    init(uncheckedID id: UInt16, qos: UInt8, proto: VLANProtocol) {
        self.id = id
        self.qos = qos
        self.proto = proto
    }

    public init(id: Int, qos: Int = 0, proto: VLANProtocol = .dot1Q) throws(SRIOVError) {
        guard (0...Int(VLAN.maxID)).contains(id) else {
            let why = id == 4095 ? "4095 is reserved by 802.1Q" : "it must be 0-4094"
            throw SRIOVError(.invalidArgument, "invalid VLAN id \(id): \(why); use 1-4094, or 0 for no VLAN")
        }
        guard (0...7).contains(qos) else {
            throw SRIOVError(.invalidArgument, "invalid VLAN QoS (priority) \(qos): it must be 0-7")
        }
        self.id = UInt16(id)
        self.qos = UInt8(qos)
        self.proto = proto
    }

    /// Parses a VLAN id given as text (e.g. a CLI argument).
    public static func parseID(_ text: String) throws(SRIOVError) -> Int {
        guard let value = Int(text.trimmingSpaces) else {
            throw SRIOVError(.invalidArgument, "invalid VLAN id \(Quote.shell(text)): not a number; use 1-4094, or 0 for no VLAN")
        }
        _ = try VLAN(id: value)
        return value
    }

    public static func parseQoS(_ text: String) throws(SRIOVError) -> Int {
        guard let value = Int(text.trimmingSpaces) else {
            throw SRIOVError(.invalidArgument, "invalid VLAN QoS \(Quote.shell(text)): not a number; it must be 0-7")
        }
        _ = try VLAN(id: 0, qos: value)
        return value
    }

    public var isTagged: Bool { id != 0 }

    public var description: String {
        var s = "vlan \(id)"
        if qos != 0 { s += " qos \(qos)" }
        if proto != .dot1Q { s += " proto \(proto)" }
        return s
    }
}

extension String {
    /// The string without leading and trailing ASCII white space (no Foundation needed).
    public var trimmingSpaces: String {
        let isSpace = { (c: Character) in c == " " || c == "\n" || c == "\t" || c == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
