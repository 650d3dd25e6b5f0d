import SRIOVCore

/// One field of a leased VF that differs from its lease: as the lease wants it and as the host has it.
/// `field` is `ip link`'s name of a VF setting (mac, vlan, qos, vlan-proto, spoofchk, trust, state,
/// min_tx_rate, max_tx_rate, query_rss), or `driver` / `iommu_group`.
public struct DriftChange: Codable, Sendable, Equatable, Hashable {
    public var field: String
    public var wanted: String
    public var actual: String

    public init(field: String, wanted: String, actual: String) {
        self.field = field
        self.wanted = wanted
        self.actual = actual
    }

    public var summary: String { "\(field) \(wanted) -> \(actual)" }
}

/// Drift found on one VF of a lease and what sriovd does about it (journal record `vf.drift`, engine
/// event `lease.drift`).
public struct DriftRecord: Codable, Sendable, Equatable {
    public var lease: LeaseID
    public var vf: PCIAddress
    /// The PF's interface and the VF's index on it, when known.
    public var interface: String?
    public var index: Int?
    public var changes: [DriftChange]
    public var action: DriftAction

    public init(lease: LeaseID, vf: PCIAddress, interface: String?, index: Int?, changes: [DriftChange], action: DriftAction) {
        self.lease = lease
        self.vf = vf
        self.interface = interface
        self.index = index
        self.changes = changes
        self.action = action
    }

    /// "vlan 0 -> 7, spoofchk on -> off (restore)".
    public var summary: String {
        changes.map(\.summary).joined(separator: ", ") + " (\(action.rawValue))"
    }
}
