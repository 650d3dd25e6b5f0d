import SRIOVConfig
import SRIOVCore

/// Chooses VFs for a request: pure, all or nothing, with the reason when it cannot.
public struct Allocator: Sendable {
    public let plan: PoolPlan

    public init(plan: PoolPlan) {
        self.plan = plan
    }

    /// A PF's free pool VFs, as positions in the inventory (no copies of the PF per VF).
    struct FreeOnPF {
        var pf: Int
        var address: PCIAddress
        /// Positions in `inventory.pfs[pf].vfs`.
        var vfs: [Int]
    }

    public func choose(_ request: LeaseRequest, book: LeaseBook, inventory: HostInventory) throws(SRIOVError) -> [(VirtualFunction, PhysicalFunction)] {
        try choose(request, book: book, inventory: inventory, groups: Allocator.groupIndex(inventory))
    }

    /// The inventory's IOMMU groups by id (the engine keeps one per inventory it reads).
    public static func groupIndex(_ inventory: HostInventory) -> [Int: IOMMUGroup] {
        var groups: [Int: IOMMUGroup] = [:]
        groups.reserveCapacity(inventory.host.iommuGroups.count)
        for group in inventory.host.iommuGroups where groups[group.id] == nil { groups[group.id] = group }
        return groups
    }

    /// `choose` with the group index precomputed: one pass over the pool's VFs, PF-level reasons
    /// decided once per PF.
    public func choose(_ request: LeaseRequest, book: LeaseBook, inventory: HostInventory,
                       groups: [Int: IOMMUGroup]) throws(SRIOVError) -> [(VirtualFunction, PhysicalFunction)] {
        guard let pool = plan.config(of: request.pool) else {
            let names = plan.pools.keys.sorted()
            throw SRIOVError(.notFound, "no pool named \(Quote.shell(request.pool)); " + (names.isEmpty
                ? "the configuration defines no pools (see Config/sriovd.yaml)"
                : "configured pools: \(names.joined(separator: ", ")) (`sriovctl pool list`)"))
        }
        try checkPolicy(request, pool: pool, book: book)
        var rejected: [String: Int] = [:]
        var free: [FreeOnPF] = []
        let held = book.heldVFs
        let quarantined = book.quarantinedVFs
        for (p, pf) in inventory.pfs.enumerated() {
            let pfReason: String? = if pf.isManagement || plan.protectedPFs.contains(pf.pciAddress) { "on a protected PF" }
                else if let numa = request.numaNode, pf.numaNode?.value != numa { "on another NUMA node" }
                else { nil }
            var onPF = FreeOnPF(pf: p, address: pf.pciAddress, vfs: [])
            for (v, vf) in pf.vfs.enumerated() where plan.pool(of: vf.pciAddress) == request.pool {
                if let why = unavailable(vf, quarantined: quarantined, held: held, groups: groups, pfReason: pfReason) {
                    rejected[why, default: 0] += 1
                } else {
                    onPF.vfs.append(v)
                }
            }
            if !onPF.vfs.isEmpty { free.append(onPF) }
        }
        let chosen = try place(request, free: free, inventory: inventory, rejected: rejected,
                               poolSize: plan.pools[request.pool]?.count ?? 0)
        return chosen.map { (inventory.pfs[$0.pf].vfs[$0.vf], inventory.pfs[$0.pf]) }
    }

    func checkPolicy(_ request: LeaseRequest, pool: PoolConfig, book: LeaseBook) throws(SRIOVError) {
        let policy = pool.policy
        let s = request.settings
        let name = request.pool
        // Untagged (VLAN 0) is allowed only where the policy lists "0" (or lists no VLANs at all).
        if let vlan = s.vlan, !policy.allows(vlan: Int(vlan.id)) {
            throw SRIOVError(.permissionDenied, "pool \(name) does not allow VLAN \(vlan.id)\(vlan.id == 0 ? " (untagged)" : ""): allowed VLANs are \(policy.allowedVLANsDescription)")
        }
        if s.trust == true && !policy.allowTrust {
            throw SRIOVError(.permissionDenied, "pool \(name) does not allow trusted VFs (trust on lets a VM change its MAC and go promiscuous); an admin can set policy.allow_trust: true")
        }
        if s.spoofCheck == false && !policy.allowSpoofCheckOff {
            throw SRIOVError(.permissionDenied, "pool \(name) does not allow spoof checking off (needed only for bonds/VRRP inside the VM); an admin can set policy.allow_spoofchk_off: true")
        }
        if let mac = s.mac {
            guard policy.allowMAC else {
                throw SRIOVError(.permissionDenied, "pool \(name) assigns MACs itself and does not accept --mac")
            }
            if !policy.macPrefixes.isEmpty,
               !policy.macPrefixes.contains(where: { mac.description.hasPrefix($0.lowercased()) }) {
                throw SRIOVError(.permissionDenied, "MAC \(mac) is outside pool \(name)'s prefixes (\(policy.macPrefixes.joined(separator: ", ")))")
            }
        }
        if let limit = policy.maxLeasesPerOwner {
            let have = book.leases.values.filter { $0.owner == request.owner && $0.pool == name }.count
            if have >= limit {
                throw SRIOVError(.busy, "owner \(request.owner) already holds \(have) leases from pool \(name), the most its policy allows (max_leases_per_owner: \(limit)); release one first")
            }
        }
    }

    /// Why a pool VF cannot be leased now, or nil (`pfReason`: its PF's, decided once per PF).
    func unavailable(_ vf: VirtualFunction, quarantined: Set<PCIAddress>, held: [PCIAddress: LeaseID],
                     groups: [Int: IOMMUGroup], pfReason: String?) -> String? {
        if held[vf.pciAddress] != nil { return "leased" }
        if !quarantined.isEmpty && quarantined.contains(vf.pciAddress) { return "quarantined" }
        if let pfReason { return pfReason }
        if vf.driver == "vfio-pci" { return "already bound to vfio-pci outside sriovd" }
        guard let groupID = vf.iommuGroup, let group = groups[groupID] else {
            return "without an IOMMU group"
        }
        for member in group.members where member.pciAddress != vf.pciAddress && !member.isBridge {
            // Never split a group: a VF must be alone in its group (or with bridges only).
            return "sharing IOMMU group \(groupID) with \(member.pciAddress)"
        }
        return nil
    }

    /// Picks positions (PF, VF) from the free VFs by placement.
    func place(_ request: LeaseRequest, free: [FreeOnPF], inventory: HostInventory, rejected: [String: Int],
               poolSize: Int) throws(SRIOVError) -> [(pf: Int, vf: Int)] {
        func shortage(_ what: String) -> SRIOVError {
            var why = rejected.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
            if why.isEmpty { why = ["none unavailable"] }
            return SRIOVError(.busy, "pool \(request.pool) cannot satisfy \(request.count) VF\(request.count == 1 ? "" : "s")\(request.numaNode.map { " on NUMA node \($0)" } ?? "") (\(request.placement.rawValue)): \(what); of its \(poolSize) VFs: \(why.joined(separator: ", ")). Nothing was reserved")
        }
        /// A PF's free VFs, lowest VF index first.
        func byIndex(_ onPF: FreeOnPF) -> [Int] {
            let vfs = inventory.pfs[onPF.pf].vfs
            return onPF.vfs.sorted { vfs[$0].index < vfs[$1].index }
        }
        switch request.placement {
        case .spread:
            guard free.count >= request.count else {
                throw shortage("spread needs \(request.count) distinct PFs with a free VF, \(free.count) have one")
            }
            // The PFs with the most free VFs first (keeps the pool balanced), lowest VF index on each.
            let pfs = free.sorted { a, b in a.vfs.count != b.vfs.count ? a.vfs.count > b.vfs.count : a.address < b.address }
            return pfs.prefix(request.count).compactMap { onPF in
                let vfs = inventory.pfs[onPF.pf].vfs
                return onPF.vfs.min { vfs[$0].index < vfs[$1].index }.map { (onPF.pf, $0) }
            }
        case .pack:
            let total = free.reduce(0) { $0 + $1.vfs.count }
            guard total >= request.count else {
                throw shortage("\(total) free")
            }
            // Best fit: the PF with the fewest free VFs that still holds the whole request; else fill
            // the fullest PFs first.
            let sorted = free.sorted { a, b in a.vfs.count != b.vfs.count ? a.vfs.count < b.vfs.count : a.address < b.address }
            if let fit = sorted.first(where: { $0.vfs.count >= request.count }) {
                return byIndex(fit).prefix(request.count).map { (fit.pf, $0) }
            }
            var out: [(pf: Int, vf: Int)] = []
            for onPF in sorted.reversed() {
                for v in byIndex(onPF) where out.count < request.count { out.append((onPF.pf, v)) }
            }
            return out
        }
    }
}
