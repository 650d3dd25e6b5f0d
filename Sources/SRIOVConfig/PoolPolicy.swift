import SRIOVCore

/// What a lease request may ask of a pool. The defaults are the safe ones: any VLAN, no trust, spoof
/// check stays on, the caller may choose its MAC.
public struct PoolPolicy: Sendable, Equatable, Codable {
    /// VLAN ids a request may use; empty means any. 0 (untagged) must be listed to be allowed when the
    /// list is not empty.
    public var allowedVLANs: [ClosedRange<Int>]
    /// May a request turn trust on.
    public var allowTrust: Bool
    /// May a request turn spoof checking off.
    public var allowSpoofCheckOff: Bool
    /// May a request set its own MAC.
    public var allowMAC: Bool
    /// When not empty, a requested MAC must start with one of these (lower case, `52:54:00`).
    public var macPrefixes: [String]
    /// nil = unlimited.
    public var maxLeasesPerOwner: Int?

    public init(allowedVLANs: [ClosedRange<Int>] = [], allowTrust: Bool = false, allowSpoofCheckOff: Bool = false,
                allowMAC: Bool = true, macPrefixes: [String] = [], maxLeasesPerOwner: Int? = nil) {
        self.allowedVLANs = allowedVLANs
        self.allowTrust = allowTrust
        self.allowSpoofCheckOff = allowSpoofCheckOff
        self.allowMAC = allowMAC
        self.macPrefixes = macPrefixes
        self.maxLeasesPerOwner = maxLeasesPerOwner
    }

    /// Whether VLAN `id` may be requested.
    public func allows(vlan id: Int) -> Bool {
        allowedVLANs.isEmpty || allowedVLANs.contains { $0.contains(id) }
    }

    /// Whether `mac` starts with one of the allowed prefixes (or no prefix is configured).
    public func allows(mac: MACAddress) -> Bool {
        macPrefixes.isEmpty || macPrefixes.contains { mac.description.hasPrefix($0) }
    }

    /// `100, 200-299` for messages.
    public var allowedVLANsDescription: String {
        allowedVLANs.isEmpty ? "any" : allowedVLANs.map(ConfigNumbers.show).joined(separator: ", ")
    }
}

extension PoolPolicy {
    static let keys = ["vlans", "allow_trust", "allow_spoofchk_off", "allow_mac", "mac_prefixes", "max_leases_per_owner"]

    static func parse(_ value: YAMLValue) throws(SRIOVError) -> PoolPolicy {
        let map = try value.mapping("a pool's policy", keys: keys)
        var policy = PoolPolicy()
        if let vlans = map["vlans"] {
            policy.allowedVLANs = try vlans.listOrScalar("VLAN ids and ranges").map { v throws(SRIOVError) in
                try parseVLANRange(v)
            }
        }
        if let v = map["allow_trust"] { policy.allowTrust = try v.bool("allow_trust") }
        if let v = map["allow_spoofchk_off"] { policy.allowSpoofCheckOff = try v.bool("allow_spoofchk_off") }
        if let v = map["allow_mac"] { policy.allowMAC = try v.bool("allow_mac") }
        if let v = map["mac_prefixes"] {
            policy.macPrefixes = try v.listOrScalar("MAC prefixes").map { p throws(SRIOVError) in try parseMACPrefix(p) }
        }
        policy.maxLeasesPerOwner = try map.optional("max_leases_per_owner") { v throws(SRIOVError) in
            try v.int("max_leases_per_owner", in: 1...1_000_000, hint: "leave the key out for no limit")
        }
        return policy
    }

    /// `100`, `"200-299"`.
    static func parseVLANRange(_ value: YAMLValue) throws(SRIOVError) -> ClosedRange<Int> {
        let text = try value.string("a VLAN id or range such as 100 or \"200-299\"")
        guard let (low, high) = ConfigNumbers.range(text) else {
            throw value.fail("\(Quote.shell(text)) is not a VLAN id or range; write 100 or \"200-299\"")
        }
        for id in [low, high] where !(0...Int(VLAN.maxID)).contains(id) {
            let why = id == 4095 ? "4095 is reserved by 802.1Q" : "VLAN ids are 0-4094"
            throw value.fail("VLAN \(id) in \(Quote.shell(text)) is out of range: \(why); use 1-4094 (0 = untagged)")
        }
        guard low <= high else {
            throw value.fail("VLAN range \(Quote.shell(text)) is reversed; write it low-high: \"\(high)-\(low)\"")
        }
        return low...high
    }

    /// `52:54:00`: one to six hex octets, returned in lower case.
    static func parseMACPrefix(_ value: YAMLValue) throws(SRIOVError) -> String {
        let text = try value.string("a MAC prefix such as \"52:54:00\"")
        let octets = text.split(separator: ":", omittingEmptySubsequences: false)
        let valid = (1...6).contains(octets.count) && octets.allSatisfy { octet in
            octet.utf8.count == 2 && octet.utf8.allSatisfy { b in
                (0x30...0x39).contains(b) || (0x41...0x46).contains(b) || (0x61...0x66).contains(b)
            }
        }
        guard valid else {
            throw value.fail("invalid MAC prefix \(Quote.shell(text)): write 1 to 6 hex octets separated by ':', such as \"52:54:00\" (quote it)")
        }
        return text.lowercased()
    }
}
