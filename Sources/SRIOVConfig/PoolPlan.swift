import SRIOVCore

/// A config bound to one host: which VF (PCI address) belongs to which pool, and which PFs are protected.
public struct PoolPlan: Sendable, Equatable {
    /// Pool name -> its VFs, sorted. Every configured pool has an entry, empty when it selects no VF.
    public var pools: [String: [PCIAddress]] {
        didSet { owner = PoolPlan.index(pools) }
    }
    /// Resolved PCI addresses of `protected_pfs` (the management NIC is added by the caller, not here).
    public var protectedPFs: Set<PCIAddress>
    /// The pools' configuration, in file order.
    public var poolConfigs: [PoolConfig]
    /// `pfs:` bound to PCI addresses: what `sriovd apply` should make true.
    public var desiredPFs: [PCIAddress: PFDesired]
    /// Things that are allowed but probably not meant (a pool with no VF, a pooled PF that autoprobes).
    public var warnings: [String]

    /// VF -> pool, kept in step with `pools`.
    private var owner: [PCIAddress: String]

    public init(pools: [String: [PCIAddress]], protectedPFs: Set<PCIAddress> = [], poolConfigs: [PoolConfig] = [],
                desiredPFs: [PCIAddress: PFDesired] = [:], warnings: [String] = []) {
        self.pools = pools
        self.protectedPFs = protectedPFs
        self.poolConfigs = poolConfigs
        self.desiredPFs = desiredPFs
        self.warnings = warnings
        self.owner = PoolPlan.index(pools)
    }

    /// The pool `vf` belongs to, if any.
    public func pool(of vf: PCIAddress) -> String? { owner[vf] }

    /// The configuration of the pool named `pool`.
    public func config(of pool: String) -> PoolConfig? { poolConfigs.first { $0.name == pool } }

    /// Every pooled VF.
    public var allPooledVFs: [PCIAddress] { owner.keys.sorted() }

    private static func index(_ pools: [String: [PCIAddress]]) -> [PCIAddress: String] {
        var owner: [PCIAddress: String] = [:]
        for (name, vfs) in pools.sorted(by: { $0.key < $1.key }) {
            for vf in vfs where owner[vf] == nil { owner[vf] = name }
        }
        return owner
    }
}
