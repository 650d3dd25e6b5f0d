/// A VF's administrative link state as set from the PF (`ip link set <pf> vf N state ...`).
public enum VFLinkState: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Follow the PF's link.
    case auto
    /// Always up, even with the PF's link down (VF-to-VF traffic).
    case enable
    /// Always down.
    case disable

    public init(parsing text: String) throws(SRIOVError) {
        guard let s = VFLinkState(rawValue: text.lowercased()) else {
            throw SRIOVError(.invalidArgument, "invalid VF link state \(Quote.shell(text)): use auto, enable or disable")
        }
        self = s
    }

    public var description: String { rawValue }
}

/// An on/off switch as iproute2 spells it.
public enum Toggle {
    public static func parse(_ text: String, what: String) throws(SRIOVError) -> Bool {
        switch text.lowercased() {
        case "on", "true", "yes", "1": return true
        case "off", "false", "no", "0": return false
        default: throw SRIOVError(.invalidArgument, "invalid value \(Quote.shell(text)) for \(what): use on or off")
        }
    }
}

/// A transmit rate in Mbit/s, as `ip link set ... vf N min_tx_rate/max_tx_rate` takes it (0 = no limit).
public enum TxRate {
    public static func parse(_ text: String, what: String) throws(SRIOVError) -> UInt32 {
        guard let v = Int64(text.trimmingSpaces) else {
            throw SRIOVError(.invalidArgument, "invalid \(what) \(Quote.shell(text)): not a whole number of Mbit/s")
        }
        guard v >= 0 else {
            throw SRIOVError(.invalidArgument, "invalid \(what) \(v): a rate cannot be negative; use 0 for no limit")
        }
        guard v <= Int64(UInt32.max) else {
            throw SRIOVError(.invalidArgument, "invalid \(what) \(v): above the kernel's 32-bit limit of \(UInt32.max) Mbit/s")
        }
        return UInt32(v)
    }
}

/// Settings to apply to one VF from its PF. `nil` fields are left as they are.
///
/// Applied in the fixed order of `VFSettings.Field.allCases`: MAC, VLAN, rates, spoof check, trust, link
/// state, query_rss — MAC before trust because an untrusted VF's MAC is locked once set from the PF.
public struct VFSettings: Hashable, Sendable, Codable {
    public enum Field: String, Sendable, CaseIterable, Codable, CustomStringConvertible {
        case mac, vlan, rate, spoofCheck = "spoofchk", trust, linkState = "state", queryRSS = "query_rss"
        public var description: String { rawValue }
    }

    public var mac: MACAddress?
    public var vlan: VLAN?
    public var spoofCheck: Bool?
    public var trust: Bool?
    public var linkState: VFLinkState?
    public var minTxRate: UInt32?
    public var maxTxRate: UInt32?
    public var queryRSS: Bool?

    public init(mac: MACAddress? = nil, vlan: VLAN? = nil, spoofCheck: Bool? = nil, trust: Bool? = nil,
                linkState: VFLinkState? = nil, minTxRate: UInt32? = nil, maxTxRate: UInt32? = nil,
                queryRSS: Bool? = nil) {
        self.mac = mac
        self.vlan = vlan
        self.spoofCheck = spoofCheck
        self.trust = trust
        self.linkState = linkState
        self.minTxRate = minTxRate
        self.maxTxRate = maxTxRate
        self.queryRSS = queryRSS
    }

    /// The settings a released VF is scrubbed to: no MAC, no VLAN, spoof check on, trust off, no rate
    /// limits, link state auto.
    public static let scrubbed = VFSettings(mac: .zero, vlan: VLAN.none, spoofCheck: true, trust: false,
                                            linkState: .auto, minTxRate: 0, maxTxRate: 0)

    public var isEmpty: Bool { fields.isEmpty }

    /// The fields this value sets, in application order.
    public var fields: [Field] {
        Field.allCases.filter { field in
            switch field {
            case .mac: return mac != nil
            case .vlan: return vlan != nil
            case .rate: return minTxRate != nil || maxTxRate != nil
            case .spoofCheck: return spoofCheck != nil
            case .trust: return trust != nil
            case .linkState: return linkState != nil
            case .queryRSS: return queryRSS != nil
            }
        }
    }

    /// One field whose reported value is not the one these settings set.
    public struct Difference: Sendable, Equatable {
        /// As `ip link` names it: mac, vlan, qos, vlan-proto, min_tx_rate, max_tx_rate, spoofchk, trust, query_rss, state.
        public var field: String
        public var wanted: String
        public var actual: String
    }

    /// Every field these settings set that `state` (as the PF reports it) does not show, in application
    /// order. A flag the driver does not report counts as different ("unreported").
    public func differences(from state: VFState) -> [Difference] {
        var out: [Difference] = []
        func add(_ field: String, _ wanted: String, _ actual: String) { out.append(Difference(field: field, wanted: wanted, actual: actual)) }
        if let mac, state.mac != mac { add("mac", mac.description, state.mac.description) }
        if let vlan {
            if state.vlan.id != vlan.id { add("vlan", "\(vlan.id)", "\(state.vlan.id)") }
            if state.vlan.qos != vlan.qos { add("qos", "\(vlan.qos)", "\(state.vlan.qos)") }
            if vlan.id != 0 && state.vlan.proto != vlan.proto { add("vlan-proto", vlan.proto.rawValue, state.vlan.proto.rawValue) }
        }
        if let minTxRate, state.minTxRate != minTxRate { add("min_tx_rate", "\(minTxRate)", "\(state.minTxRate)") }
        if let maxTxRate, state.maxTxRate != maxTxRate { add("max_tx_rate", "\(maxTxRate)", "\(state.maxTxRate)") }
        func flag(_ name: String, _ wanted: Bool?, _ actual: Bool?) {
            guard let wanted else { return }
            guard let actual else { return add(name, wanted ? "on" : "off", "unreported (the driver does not report it)") }
            if actual != wanted { add(name, wanted ? "on" : "off", actual ? "on" : "off") }
        }
        flag("spoofchk", spoofCheck, state.spoofCheck)
        flag("trust", trust, state.trust)
        flag("query_rss", queryRSS, state.queryRSS)
        if let linkState, state.linkState != linkState { add("state", linkState.rawValue, state.linkState?.rawValue ?? "unreported") }
        return out
    }

    /// The settings as `ip link set ... vf N` words: "mac 52:54:00:00:00:01 vlan 7 qos 0 trust on".
    public var summary: String {
        var words: [String] = []
        if let mac { words.append("mac \(mac)") }
        if let vlan {
            words.append("vlan \(vlan.id)")
            if vlan.qos != 0 { words.append("qos \(vlan.qos)") }
            if vlan.id != 0 && vlan.proto != .dot1Q { words.append("proto \(vlan.proto.rawValue)") }
        }
        if let minTxRate { words.append("min_tx_rate \(minTxRate)") }
        if let maxTxRate { words.append("max_tx_rate \(maxTxRate)") }
        if let spoofCheck { words.append("spoofchk \(spoofCheck ? "on" : "off")") }
        if let trust { words.append("trust \(trust ? "on" : "off")") }
        if let linkState { words.append("state \(linkState.rawValue)") }
        if let queryRSS { words.append("query_rss \(queryRSS ? "on" : "off")") }
        return words.joined(separator: " ")
    }

    /// Checks combinations the kernel would refuse (min rate above a non-zero max rate).
    public func validate() throws(SRIOVError) {
        if let mac { try mac.checkAssignable() }
        if let minTxRate, let maxTxRate, maxTxRate != 0, minTxRate > maxTxRate {
            throw SRIOVError(.invalidArgument, "min_tx_rate \(minTxRate) is above max_tx_rate \(maxTxRate); the kernel rejects that (EINVAL): lower min or raise max")
        }
    }
}

/// A VF's settings as the PF reports them (RTM_GETLINK's IFLA_VFINFO_LIST entry).
public struct VFState: Hashable, Sendable, Codable {
    public var index: Int
    public var mac: MACAddress
    public var vlan: VLAN
    public var spoofCheck: Bool?
    public var trust: Bool?
    public var linkState: VFLinkState?
    public var minTxRate: UInt32
    public var maxTxRate: UInt32
    public var queryRSS: Bool?

    public init(index: Int, mac: MACAddress = .zero, vlan: VLAN = .none, spoofCheck: Bool? = true,
                trust: Bool? = false, linkState: VFLinkState? = .auto, minTxRate: UInt32 = 0,
                maxTxRate: UInt32 = 0, queryRSS: Bool? = false) {
        self.index = index
        self.mac = mac
        self.vlan = vlan
        self.spoofCheck = spoofCheck
        self.trust = trust
        self.linkState = linkState
        self.minTxRate = minTxRate
        self.maxTxRate = maxTxRate
        self.queryRSS = queryRSS
    }
}
