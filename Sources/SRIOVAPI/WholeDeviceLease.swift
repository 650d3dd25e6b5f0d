import SRIOVCore

extension LeasedVF {
    /// True when the lease holds this PCI function whole (a `devices:` pool): its `pf` is itself. Such
    /// an entry has no VF settings, and its host driver (`previousDriver`) is rebound on release.
    public var isWholeDevice: Bool { pf == pciAddress }
}
