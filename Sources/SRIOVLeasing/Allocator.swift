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

    /// One pool's VFs over one inventory, with what stays true until the inventory is replaced:
    /// positions, and a VF's IOMMU group verdict. The engine keeps one per pool with its cached
    /// inventory (drivers are read from the inventory on each choice: patches change them in place).
    public struct PoolIndex: Sendable {
        struct Slot: Sendable {
            var pf: Int
            var vf: Int
            /// Why the VF's IOMMU group rules it out (nil: alone in its group, or with bridges).
            var groupReason: String?
        }
        var slots: [Slot] = []
        /// Pool VF -> its slot.
        var slotOf: [PCIAddress: Int] = [:]
    }

    public func poolIndex(_ pool: String, inventory: HostInventory, groups: [Int: IOMMUGroup]) -> PoolIndex {
        var index = PoolIndex()
        for (p, pf) in inventory.pfs.enumerated() {
            for (v, vf) in pf.vfs.enumerated() where plan.pool(of: vf.pciAddress) == pool {
                index.slotOf[vf.pciAddress] = index.slots.count
                index.slots.append(PoolIndex.Slot(pf: p, vf: v, groupReason: Allocator.groupReason(vf, groups: groups)))
            }
        }
        return index
    }

    /// Never split a group: a VF must be alone in its group (or with bridges only).
    static func groupReason(_ vf: VirtualFunction, groups: [Int: IOMMUGroup]) -> String? {
        guard let groupID = vf.iommuGroup, let group = groups[groupID] else {
            return "without an IOMMU group"
        }
        for member in group.members where member.pciAddress != vf.pciAddress && !member.isBridge {
            return "sharing IOMMU group \(groupID) with \(member.pciAddress)"
        }
        return nil
    }

    /// `choose` with the group index (and optionally the pool's index) precomputed: one pass over the
    /// pool's slots with array reads only; leased and quarantined VFs are marked from the book's
    /// (short) lists instead of looked up per VF; PF-level reasons decided once per PF. A VF's
    /// reason is the first of: leased, quarantined, its PF's, bound to vfio-pci, its group's.
    /// `excluded`: PFs whose VFs are out of new leases as a whole (no carrier under `require_link: up`,
    /// draining), decided by the engine; a refusal then says which and how to bring them back.
    public func choose(_ request: LeaseRequest, book: LeaseBook, inventory: HostInventory,
                       groups: [Int: IOMMUGroup], index: PoolIndex? = nil,
                       excluded: [PCIAddress: PFExclusion] = [:]) throws(SRIOVError) -> [(VirtualFunction, PhysicalFunction)] {
        guard let pool = plan.config(of: request.pool) else {
            let names = plan.pools.keys.sorted()
            throw SRIOVError(.notFound, "no pool named \(Quote.shell(request.pool)); " + (names.isEmpty
                ? "the configuration defines no pools (see Config/sriovd.yaml)"
                : "configured pools: \(names.joined(separator: ", ")) (`sriovctl pool list`)"))
        }
        try checkPolicy(request, pool: pool, book: book)
        if pool.wholeDevices {
            return try chooseWholeDevices(request, book: book, inventory: inventory, groups: groups)
        }
        let index = index ?? poolIndex(request.pool, inventory: inventory, groups: groups)
        let leasedMark: UInt8 = 1, quarantinedMark: UInt8 = 2
        var marks = [UInt8](repeating: 0, count: index.slots.count)
        book.forEachHeldVF { vf, _ in if let s = index.slotOf[vf] { marks[s] = leasedMark } }
        if !book.quarantine.isEmpty {
            for address in book.quarantinedVFs { if let s = index.slotOf[address], marks[s] == 0 { marks[s] = quarantinedMark } }
        }
        let pfReasons: [String?] = inventory.pfs.map { pf in
            if pf.isManagement || plan.protectedPFs.contains(pf.pciAddress) { return "on a protected PF" }
            if let exclusion = excluded[pf.pciAddress] { return exclusion.reason }
            if let numa = request.numaNode, pf.numaNode?.value != numa { return "on another NUMA node" }
            return nil
        }
        if let exact = request.vfs {
            return try chooseExactly(exact, request: request, index: index, marks: marks, leasedMark: leasedMark,
                                     quarantinedMark: quarantinedMark, pfReasons: pfReasons, book: book, inventory: inventory)
        }
        var leased = 0, quarantined = 0, onVFIO = 0
        var rejected: [String: Int] = [:]
        var free: [FreeOnPF] = []
        for (s, slot) in index.slots.enumerated() {
            if marks[s] == leasedMark { leased += 1; continue }
            if marks[s] == quarantinedMark { quarantined += 1; continue }
            if let why = pfReasons[slot.pf] { rejected[why, default: 0] += 1; continue }
            if inventory.pfs[slot.pf].vfs[slot.vf].driver == "vfio-pci" { onVFIO += 1; continue }
            if let why = slot.groupReason { rejected[why, default: 0] += 1; continue }
            if free.last?.pf != slot.pf {
                free.append(FreeOnPF(pf: slot.pf, address: inventory.pfs[slot.pf].pciAddress, vfs: []))
            }
            free[free.count - 1].vfs.append(slot.vf)
        }
        if leased > 0 { rejected["leased", default: 0] += leased }
        if quarantined > 0 { rejected["quarantined", default: 0] += quarantined }
        if onVFIO > 0 { rejected["already bound to vfio-pci outside sriovd", default: 0] += onVFIO }
        let chosen = try place(request, free: free, inventory: inventory, rejected: rejected,
                               poolSize: plan.pools[request.pool]?.count ?? 0,
                               notes: { excluded.isEmpty ? [] : exclusionNotes(request.pool, index: index, inventory: inventory, excluded: excluded) })
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

    /// Picks positions (PF, VF) from the free VFs by placement.
    func place(_ request: LeaseRequest, free: [FreeOnPF], inventory: HostInventory, rejected: [String: Int],
               poolSize: Int, notes: () -> [String] = { [] }) throws(SRIOVError) -> [(pf: Int, vf: Int)] {
        func shortage(_ what: String) -> SRIOVError {
            var why = rejected.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
            if why.isEmpty { why = ["none unavailable"] }
            return SRIOVError(.busy, "pool \(request.pool) cannot satisfy \(request.count) VF\(request.count == 1 ? "" : "s")\(request.numaNode.map { " on NUMA node \($0)" } ?? "") (\(request.placement.rawValue)): \(what); of its \(poolSize) VFs: \(why.joined(separator: ", ")). Nothing was reserved" + notes().map { ". " + $0 }.joined())
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

/// Why every VF of a PF is left out of new leases.
public enum PFExclusion: Sendable, Equatable {
    /// The pool says `require_link: up` and the PF has no carrier (or it could not be read).
    case noCarrier
    /// `pf drain`: the PF is in maintenance until `pf undrain`.
    case draining

    /// The reason a refusal counts VFs under.
    var reason: String {
        switch self {
        case .noCarrier: return "on a PF with no carrier"
        case .draining: return "on a draining PF"
        }
    }
}

extension Allocator {
    /// What a refusal adds when whole PFs were left out: how many of the pool's PFs, which, and the
    /// way back ("pool uplink: 2 of 3 PFs have no carrier (ens1f0, ens1f1); ...").
    func exclusionNotes(_ pool: String, index: PoolIndex, inventory: HostInventory,
                        excluded: [PCIAddress: PFExclusion]) -> [String] {
        var positions: [Int] = []
        for slot in index.slots where positions.last != slot.pf && !positions.contains(slot.pf) { positions.append(slot.pf) }
        let pfs = positions.map { inventory.pfs[$0] }
        let down = pfs.filter { excluded[$0.pciAddress] == .noCarrier }.map(\.displayName)
        let draining = pfs.filter { excluded[$0.pciAddress] == .draining }.map(\.displayName)
        var notes: [String] = []
        if !down.isEmpty {
            notes.append("pool \(pool): \(down.count) of \(pfs.count) PF\(pfs.count == 1 ? "" : "s") \(down.count == 1 ? "has" : "have") no carrier (\(down.joined(separator: ", "))); plug \(down.count == 1 ? "it" : "them") in (or `ip link set <pf> up`), or set require_link: any on the pool")
        }
        if !draining.isEmpty {
            notes.append("pool \(pool): \(draining.count) of \(pfs.count) PF\(pfs.count == 1 ? "" : "s") \(draining.count == 1 ? "is" : "are") draining (\(draining.joined(separator: ", "))); `sriovctl pf undrain <pf>` returns \(draining.count == 1 ? "it" : "them") to service")
        }
        return notes
    }
}

extension Allocator {
    /// The request's exact VFs (`LeaseRequest.vfs`), each a free, healthy member of the pool; else a
    /// refusal naming every VF that is not and why. Nothing is reserved either way.
    func chooseExactly(_ exact: [PCIAddress], request: LeaseRequest, index: PoolIndex, marks: [UInt8], leasedMark: UInt8,
                       quarantinedMark: UInt8, pfReasons: [String?], book: LeaseBook,
                       inventory: HostInventory) throws(SRIOVError) -> [(VirtualFunction, PhysicalFunction)] {
        var chosen: [(VirtualFunction, PhysicalFunction)] = []
        var refusals: [String] = []
        for address in exact {
            guard let s = index.slotOf[address] else {
                let other = plan.pool(of: address)
                refusals.append("\(address) is not in pool \(request.pool)" + (other.map { " (it is in pool \($0))" } ?? " (`sriovctl pool list` shows the pools' VFs)"))
                continue
            }
            let slot = index.slots[s]
            let vf = inventory.pfs[slot.pf].vfs[slot.vf]
            if marks[s] == leasedMark {
                refusals.append("\(address) is leased (\(book.holder(of: address).map { "lease \($0)" } ?? "another lease"))")
            } else if marks[s] == quarantinedMark {
                refusals.append("\(address) is quarantined (\(book.quarantine[address.description]?.reason ?? "see `sriovctl pool list`"))")
            } else if let why = pfReasons[slot.pf] {
                refusals.append("\(address) is \(why)")
            } else if vf.driver == "vfio-pci" {
                refusals.append("\(address) is already bound to vfio-pci outside sriovd")
            } else if let why = slot.groupReason {
                refusals.append("\(address) is \(why)")
            } else {
                chosen.append((vf, inventory.pfs[slot.pf]))
            }
        }
        guard refusals.isEmpty else {
            throw SRIOVError(.busy, "pool \(request.pool) cannot lease exactly \(exact.map { $0.description }.joined(separator: ", ")): \(refusals.joined(separator: "; ")). Nothing was reserved")
        }
        return chosen
    }
}
