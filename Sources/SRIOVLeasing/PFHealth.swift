import SRIOVConfig
import SRIOVCore

/// PF health in the allocator: a pool's `require_link: up` keeps VFs of a PF without carrier out of new
/// leases, and a draining PF's VFs too. The carrier is read at acquire time (one small sysfs read per
/// PF the choice takes from), so it holds without any event listener; `refreshPFLinks` turns changes into
/// `pf.down` / `pf.up` events naming the leases on the PF.
extension LeaseEngine {
    /// The allocator's choice for `request`, with the pool's PFs that are out as a whole left out.
    ///
    /// The carrier is read only where it decides something: the choice is made first with only the
    /// draining PFs left out, and kept if every PF it took from has carrier now (one read per PF
    /// chosen from, not one per PF of the pool). Otherwise, or when that choice is refused, the
    /// choice is made again with every PF's carrier read, as the refusal's notes need. Either way no
    /// VF of a PF without carrier is chosen.
    func chooseVFs(_ request: LeaseRequest, inventory: HostInventory,
                   groups: [Int: IOMMUGroup]) throws(SRIOVError) -> [(VirtualFunction, PhysicalFunction)] {
        let index = allocationIndex(request.pool, inventory, groups: groups)
        let allocator = Allocator(plan: plan)
        if (plan.config(of: request.pool)?.requireLink ?? .up) == .up {
            let draining = exclusions(request.pool, index: index, inventory: inventory, readCarrier: false)
            if let chosen = try? allocator.choose(request, book: book, inventory: inventory, groups: groups, index: index, excluded: draining) {
                var checked: Set<PCIAddress> = []
                let allUp = chosen.allSatisfy { _, pf in
                    guard let interface = pf.interfaces.first, checked.insert(pf.pciAddress).inserted else { return true }
                    return host.source.pfLink(interface).hasCarrier
                }
                if allUp { return chosen }
            }
        }
        return try allocator.choose(request, book: book, inventory: inventory, groups: groups, index: index,
                                    excluded: exclusions(request.pool, index: index, inventory: inventory))
    }

    /// The PFs of `pool` whose VFs no new lease may take: draining ones, and, unless the pool says
    /// `require_link: any`, those with a netdev and no carrier (read now).
    ///
    /// Kernel interface: `/sys/class/net/<pf>/carrier`, `operstate` (`HostInventorySource.pfLink`).
    /// `readCarrier` false: the draining PFs only.
    func exclusions(_ pool: String, index: Allocator.PoolIndex, inventory: HostInventory,
                    readCarrier: Bool = true) -> [PCIAddress: PFExclusion] {
        let requireUp = readCarrier && (plan.config(of: pool)?.requireLink ?? .up) == .up
        guard requireUp || !book.draining.isEmpty else { return [:] }
        var excluded: [PCIAddress: PFExclusion] = [:]
        var last = -1
        // The index lists a pool's VFs PF by PF: one look per PF.
        for slot in index.slots where slot.pf != last {
            last = slot.pf
            let pf = inventory.pfs[slot.pf]
            if excluded[pf.pciAddress] != nil { continue }
            if book.draining[pf.pciAddress.description] != nil {
                excluded[pf.pciAddress] = .draining
                continue
            }
            guard requireUp, let interface = pf.interfaces.first else { continue }
            let link = host.source.pfLink(interface)
            if !link.hasCarrier { excluded[pf.pciAddress] = .noCarrier }
        }
        return excluded
    }

    /// The PFs with VFs in a pool, from the cached inventory (read now if there is none).
    func pooledPFs() throws(SRIOVError) -> [PhysicalFunction] {
        let inventory = try allocationInventory()
        var pooled: Set<PCIAddress> = []
        for vfs in plan.pools.values { pooled.formUnion(vfs) }
        return inventory.pfs.filter { pf in pf.vfs.contains { pooled.contains($0.pciAddress) } }
    }

    /// Re-reads the link of every PF with pooled VFs and journals a `pf.link` record for each whose
    /// carrier changed since the last read (events `pf.down` / `pf.up`, naming the leases on it). The
    /// first read of a PF is remembered without an event. sriovd calls it on every reaper tick.
    ///
    /// Kernel interface: `/sys/class/net/<pf>/carrier`, `operstate` (`HostInventorySource.pfLink`).
    @discardableResult
    public func refreshPFLinks() async -> [PFLinkRecord] {
        let pfs: [PhysicalFunction]
        do throws(SRIOVError) { pfs = try pooledPFs() } catch {
            logger.warning("PF links not checked: the host could not be read", metadata: ["error": "\(error.message)"])
            return []
        }
        var changes: [PFLinkRecord] = []
        for pf in pfs {
            if let change = noteLink(of: pf) { changes.append(change) }
        }
        await journalLinkChanges(changes)
        return changes
    }

    /// One PF's link changed, as a kernel event says (rtnetlink RTM_NEWLINK, a uevent): `pf` is its
    /// netdev name or PCI address. Re-reads that PF only and journals `pf.link` if its carrier changed;
    /// nil when it did not, or when the PF has no pooled VFs.
    ///
    /// Kernel interface: `/sys/class/net/<pf>/carrier`, `operstate` (`HostInventorySource.pfLink`).
    @discardableResult
    public func pfLinkChanged(_ pf: String) async -> PFLinkRecord? {
        let pfs: [PhysicalFunction]
        do throws(SRIOVError) { pfs = try pooledPFs() } catch { return nil }
        let address = PCIAddress(pf)
        let name = InterfaceName(pf)
        guard let found = pfs.first(where: { $0.pciAddress == address || (name != nil && $0.interfaces.contains { $0 == name }) }),
              let change = noteLink(of: found) else { return nil }
        await journalLinkChanges([change])
        return change
    }

    /// Reads `pf`'s link and remembers it; the record to journal when its carrier changed.
    private func noteLink(of pf: PhysicalFunction) -> PFLinkRecord? {
        guard let interface = pf.interfaces.first else { return nil }
        let now = host.source.pfLink(interface)
        let before = pfLinks.updateValue(now, forKey: pf.pciAddress)
        guard let before, before.hasCarrier != now.hasCarrier else { return nil }
        return PFLinkRecord(pf: pf.pciAddress.description, interface: interface.name, carrier: now.carrier,
                            operState: now.operState, leases: leaseIDs(onPF: pf.pciAddress))
    }

    private func journalLinkChanges(_ changes: [PFLinkRecord]) async {
        guard !changes.isEmpty else { return }
        for change in changes {
            logger.warning(change.isUp ? "PF link is up again" : "PF has no carrier: its VFs are out of new leases where the pool requires link",
                           metadata: ["pf": "\(change.interface ?? change.pf)", "leases": "\(change.leases.joined(separator: ","))"])
        }
        do throws(SRIOVError) { try await record(changes.map(LeaseEvent.pfLink)) } catch {
            logger.error("PF link change not journaled", metadata: ["error": "\(error.message)"])
        }
    }

    /// Ids of the live leases with a VF on the PF at `address`, sorted.
    func leaseIDs(onPF address: PCIAddress) -> [String] {
        book.leases.values.filter { lease in lease.vfs.contains { $0.pf == address && $0.stage != .returned } }
            .map(\.id.value).sorted()
    }

    /// Each pooled PF's link as last read (`refreshPFLinks`), for pool status and metrics.
    public var pfLinkStates: [PCIAddress: PFLinkState] { pfLinks }
}

extension LeaseEngine {
    /// The link and drain state of each PF under `vfs`, in PCI order, read now (`pool list`).
    ///
    /// Kernel interface: `/sys/class/net/<pf>/carrier`, `operstate` (`HostInventorySource.pfLink`).
    func poolPFLinks(_ vfs: [PCIAddress], pfOf: [PCIAddress: PhysicalFunction]) -> [PoolPFLink] {
        var seen: Set<PCIAddress> = []
        var pfs: [PhysicalFunction] = []
        for vf in vfs { if let pf = pfOf[vf], seen.insert(pf.pciAddress).inserted { pfs.append(pf) } }
        return pfs.sorted { $0.pciAddress < $1.pciAddress }.map { pf in
            let link = pf.interfaces.first.map { host.source.pfLink($0) }
            return PoolPFLink(pf: pf.pciAddress.description, interface: pf.interfaces.first?.name, carrier: link?.carrier,
                              operState: link?.operState, draining: book.draining[pf.pciAddress.description] != nil)
        }
    }
}
