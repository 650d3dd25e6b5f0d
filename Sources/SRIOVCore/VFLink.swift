/// One VF setting, as one RTM_SETLINK request carries it.
public enum VFSettingRequest: Sendable, Equatable, CustomStringConvertible {
    case mac(MACAddress)
    case vlan(VLAN)
    /// min and max in Mbit/s; the kernel takes both at once (IFLA_VF_RATE).
    case rate(min: UInt32, max: UInt32)
    case spoofCheck(Bool)
    case trust(Bool)
    case linkState(VFLinkState)
    case queryRSS(Bool)

    public var field: VFSettings.Field {
        switch self {
        case .mac: return .mac
        case .vlan: return .vlan
        case .rate: return .rate
        case .spoofCheck: return .spoofCheck
        case .trust: return .trust
        case .linkState: return .linkState
        case .queryRSS: return .queryRSS
        }
    }

    /// As iproute2 would spell it after `vf N`.
    public var description: String {
        func onOff(_ b: Bool) -> String { b ? "on" : "off" }
        switch self {
        case .mac(let m): return "mac \(m)"
        case .vlan(let v): return v.description
        case .rate(let min, let max): return "min_tx_rate \(min) max_tx_rate \(max)"
        case .spoofCheck(let b): return "spoofchk \(onOff(b))"
        case .trust(let b): return "trust \(onOff(b))"
        case .linkState(let s): return "state \(s)"
        case .queryRSS(let b): return "query_rss \(onOff(b))"
        }
    }
}

/// All VFs of one PF as the kernel reports them in one RTM_GETLINK.
public struct VFReadout: Sendable, Codable, Equatable {
    public var interface: InterfaceName
    /// IFLA_NUM_VF: how many VFs the PF has.
    public var numVFs: Int
    /// The VFs the kernel described, by index.
    public var vfs: [VFState]
    /// VF indexes below `numVFs` the kernel's reply left out (IFLA_VFINFO_LIST cut short); never dropped
    /// silently: callers show them as unknown.
    public var missing: [Int]
    /// The nested list's 16-bit length wrapped and sriovd walked the entries past it.
    public var recoveredPastTruncatedLength: Bool
    /// The PF's own link is up (IFF_UP and carrier as operstate), if known.
    public var operState: String?

    public init(interface: InterfaceName, numVFs: Int, vfs: [VFState], missing: [Int] = [],
                recoveredPastTruncatedLength: Bool = false, operState: String? = nil) {
        self.interface = interface
        self.numVFs = numVFs
        self.vfs = vfs
        self.missing = missing
        self.recoveredPastTruncatedLength = recoveredPastTruncatedLength
        self.operState = operState
    }

    public func vf(_ index: Int) -> VFState? { vfs.first { $0.index == index } }
}

/// The netlink side of a PF: read every VF's settings, change one setting of one VF.
///
/// Implemented by `SRIOVNetlink.NetlinkVFLink` (libnl, the real kernel) and by
/// `SRIOVSimulator.SimulatedHost` (netlink/<pf>.state, with per-driver quirks).
public protocol VFLinkControl: Sendable {
    /// Equivalent to: `ip -d link show <pf>` (RTM_GETLINK with RTEXT_FILTER_VF).
    func readVFs(pf: InterfaceName) async throws(SRIOVError) -> VFReadout
    /// Equivalent to: `ip link set <pf> vf <n> <setting>` (one RTM_SETLINK). Errors carry the errno.
    func apply(_ request: VFSettingRequest, vf: Int, pf: InterfaceName) async throws(SRIOVError)
    /// Applies `requests` in order and stops at the first refusal, whose position and error it returns
    /// (nil: all applied). Equivalent to one `ip link set <pf> vf <n> ...` per request (netlink sends
    /// several in one RTM_SETLINK where the kernel applies them in the same order).
    func apply(_ requests: [VFSettingRequest], vf: Int, pf: InterfaceName) async -> (index: Int, error: SRIOVError)?
    /// Equivalent to: `ip -s -d link show <pf>` — one RTM_GETLINK with statistics (IFLA_VF_STATS), every
    /// VF's counters. The default refuses: a link control that cannot count says so.
    func readVFStats(pf: InterfaceName) async throws(SRIOVError) -> VFStatsReadout
}

extension VFLinkControl {
    public func readVFStats(pf: InterfaceName) async throws(SRIOVError) -> VFStatsReadout {
        throw SRIOVError(.unsupported, "\(pf): this host cannot read VF counters")
    }

    /// One RTM_SETLINK per request; an implementation that can apply several at once overrides it.
    public func apply(_ requests: [VFSettingRequest], vf: Int, pf: InterfaceName) async -> (index: Int, error: SRIOVError)? {
        for (index, request) in requests.enumerated() {
            do { try await apply(request, vf: vf, pf: pf) } catch { return (index, error) }
        }
        return nil
    }
}

/// One VF's traffic counters as the kernel reports them in `IFLA_VF_STATS` (nested in the VF's
/// `IFLA_VF_INFO`). A counter the reply did not carry is nil: "not reported", never 0.
///
/// Kernel fact: the kernel fills these from the PF driver's `ndo_get_vf_stats`; for a driver without it
/// (netdevsim, igb in 6.1) it still sends every counter, as 0. Only a missing attribute (an older kernel
/// without RX/TX_DROPPED, a VF entry without IFLA_VF_STATS) says "not reported".
public struct VFCounters: Sendable, Equatable, Hashable {
    public var rxPackets: UInt64?
    public var txPackets: UInt64?
    public var rxBytes: UInt64?
    public var txBytes: UInt64?
    public var broadcast: UInt64?
    public var multicast: UInt64?
    public var rxDropped: UInt64?
    public var txDropped: UInt64?

    public init(rxPackets: UInt64? = nil, txPackets: UInt64? = nil, rxBytes: UInt64? = nil, txBytes: UInt64? = nil,
                broadcast: UInt64? = nil, multicast: UInt64? = nil, rxDropped: UInt64? = nil, txDropped: UInt64? = nil) {
        self.rxPackets = rxPackets
        self.txPackets = txPackets
        self.rxBytes = rxBytes
        self.txBytes = txBytes
        self.broadcast = broadcast
        self.multicast = multicast
        self.rxDropped = rxDropped
        self.txDropped = txDropped
    }

    /// Every counter present, all 0: what a kernel sends for a VF whose driver counted nothing.
    public static let zero = VFCounters(rxPackets: 0, txPackets: 0, rxBytes: 0, txBytes: 0, broadcast: 0, multicast: 0,
                                        rxDropped: 0, txDropped: 0)
    /// No counter reported.
    public static let unreported = VFCounters()

    /// The counters by name, in `Field` order (the names of the JSON keys and of the metrics).
    public enum Field: String, Sendable, CaseIterable {
        case rxPackets, txPackets, rxBytes, txBytes, broadcast, multicast, rxDropped, txDropped

        /// The Prometheus metric: `sriovd_vf_<snake>_total`.
        public var metricName: String {
            switch self {
            case .rxPackets: "sriovd_vf_rx_packets_total"
            case .txPackets: "sriovd_vf_tx_packets_total"
            case .rxBytes: "sriovd_vf_rx_bytes_total"
            case .txBytes: "sriovd_vf_tx_bytes_total"
            case .broadcast: "sriovd_vf_rx_broadcast_packets_total"
            case .multicast: "sriovd_vf_rx_multicast_packets_total"
            case .rxDropped: "sriovd_vf_rx_dropped_packets_total"
            case .txDropped: "sriovd_vf_tx_dropped_packets_total"
            }
        }

        /// As `sriovctl lease show --stats` labels it.
        public var label: String {
            switch self {
            case .rxPackets: "rx packets"
            case .txPackets: "tx packets"
            case .rxBytes: "rx bytes"
            case .txBytes: "tx bytes"
            case .broadcast: "rx broadcast"
            case .multicast: "rx multicast"
            case .rxDropped: "rx dropped"
            case .txDropped: "tx dropped"
            }
        }
    }

    public subscript(field: Field) -> UInt64? {
        get {
            switch field {
            case .rxPackets: rxPackets
            case .txPackets: txPackets
            case .rxBytes: rxBytes
            case .txBytes: txBytes
            case .broadcast: broadcast
            case .multicast: multicast
            case .rxDropped: rxDropped
            case .txDropped: txDropped
            }
        }
        set {
            switch field {
            case .rxPackets: rxPackets = newValue
            case .txPackets: txPackets = newValue
            case .rxBytes: rxBytes = newValue
            case .txBytes: txBytes = newValue
            case .broadcast: broadcast = newValue
            case .multicast: multicast = newValue
            case .rxDropped: rxDropped = newValue
            case .txDropped: txDropped = newValue
            }
        }
    }
}

extension VFCounters: Codable {
    /// Every counter is written: a number, or null when not reported (the API's schema requires each key).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: MemberKey.self)
        for field in Field.allCases {
            if let value = self[field] { try c.encode(value, forKey: MemberKey(stringValue: field.rawValue)) } else {
                try c.encodeNil(forKey: MemberKey(stringValue: field.rawValue))
            }
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: MemberKey.self)
        self.init()
        for field in Field.allCases {
            self[field] = try c.decodeIfPresent(UInt64.self, forKey: MemberKey(stringValue: field.rawValue))
        }
    }
}

/// Every VF's counters of one PF, from one RTM_GETLINK (`ip -s -d link show <pf>`).
public struct VFStatsReadout: Sendable, Equatable {
    public var interface: InterfaceName
    /// IFLA_NUM_VF.
    public var numVFs: Int
    /// By VF index, for every VF entry the reply carried; `.unreported` for an entry without IFLA_VF_STATS.
    public var counters: [Int: VFCounters]
    /// VF indexes below `numVFs` the reply left out: their counters are not reported.
    public var missing: [Int]
    /// The VF list's 16-bit length wrapped and the entries past it were read.
    public var recoveredPastTruncatedLength: Bool

    public init(interface: InterfaceName, numVFs: Int, counters: [Int: VFCounters], missing: [Int] = [],
                recoveredPastTruncatedLength: Bool = false) {
        self.interface = interface
        self.numVFs = numVFs
        self.counters = counters
        self.missing = missing
        self.recoveredPastTruncatedLength = recoveredPastTruncatedLength
    }
}
