/// What sriovd does when a leased VF no longer matches its lease (settings changed by another tool,
/// driver or IOMMU group changed), found after a host event or on the periodic full pass. Every choice
/// emits `lease.drift` with what changed, and counts in `/metrics`.
public enum DriftAction: String, Sendable, Equatable, Codable, CaseIterable {
    /// Put the lease's settings back through the VF configurator, read them back, audit it. The default:
    /// a lease's settings are what its VM was promised (a VLAN is its network), and only sriovd is meant
    /// to change them. What cannot be put back without the VM noticing (a driver or IOMMU group change)
    /// is quarantined instead, as is a restore that fails.
    case restore
    /// Mark the lease `drifted` and keep its VFs out of the pool once it is released, until
    /// `sriovctl vf unquarantine` scrubs them.
    case quarantine
    /// Mark the lease `drifted` with what changed; leave the host alone.
    case report

    public static let `default`: DriftAction = .restore
}
