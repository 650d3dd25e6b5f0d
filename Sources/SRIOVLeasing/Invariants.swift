import SRIOVConfig
import SRIOVCore

/// The promises sriovd keeps, checkable against the real host at any time (tests, crash injection):
/// every pool VF is free (unbound from vfio-pci, no override, scrubbed), held by exactly one lease,
/// or quarantined with a reason; no lease holds a VF twice; every active lease's VFs exist, are on
/// vfio-pci and carry the settings the lease applied (MAC, VLAN/QoS/protocol, spoofchk, trust, state,
/// rates); no lease is marked lost.
public enum Invariants {
    /// `unsettled`: VFs in the middle of a step while the host was read (their lease or quarantine
    /// changed between the book read before and the one after); they and their leases are not judged.
    public static func check(book: LeaseBook, plan: PoolPlan, inventory: HostInventory,
                             readouts: [InterfaceName: VFReadout], unsettled: Set<PCIAddress> = []) -> [String] {
        var book = book
        if !unsettled.isEmpty {
            book.leases = book.leases.filter { !$0.value.vfs.contains { unsettled.contains($0.pciAddress) } }
        }
        var problems: [String] = []
        var holders: [PCIAddress: [LeaseID]] = [:]
        for lease in book.leases.values {
            var seen = Set<PCIAddress>()
            for vf in lease.vfs where vf.stage != .returned {
                if !seen.insert(vf.pciAddress).inserted { problems.append("lease \(lease.id) holds \(vf.pciAddress) twice") }
                holders[vf.pciAddress, default: []].append(lease.id)
            }
        }
        for (vf, ids) in holders where ids.count > 1 {
            problems.append("\(vf) is held by \(ids.count) leases: \(ids.map(\.value).sorted().joined(separator: ", "))")
        }
        // PFs too, as whole devices (without interfaces: no VF settings to compare).
        let vfs = inventory.leasableFunctions
        for lease in book.leases.values {
            if lease.condition == .lost {
                // One line: its VFs are gone or new ones, so comparing their settings says nothing more.
                let why = lease.problems.isEmpty ? "its VFs vanished" : lease.problems.joined(separator: "; ")
                problems.append("lease \(lease.id) (owner \(lease.owner)) is lost: \(why); release it")
                continue
            }
            guard lease.state == .active else { continue }
            for held in lease.vfs where held.stage == .active {
                guard let (vf, pf) = vfs[held.pciAddress] else {
                    if lease.condition != .lost { problems.append("\(held.pciAddress) of active lease \(lease.id) is gone from the host") }
                    continue
                }
                // Only what the PF reports can be compared (a PF without a netdev has no VF settings).
                guard let iface = pf.interfaces.first, let state = readouts[iface]?.vf(vf.index) else { continue }
                for d in held.settings.differences(from: state) {
                    problems.append("\(held.pciAddress) (\(iface.name) VF \(vf.index)) of lease \(lease.id): \(d.field) is \(d.actual), the lease promised \(d.wanted)")
                }
            }
        }
        for (pool, members) in plan.pools {
            for address in members where !unsettled.contains(address) {
                guard let (vf, pf) = vfs[address] else { continue }
                if let q = book.quarantine[address.description] {
                    if q.reason.isEmpty { problems.append("\(address) is quarantined without a reason") }
                    continue
                }
                if let ids = holders[address], let id = ids.first, let lease = book.lease(id) {
                    if lease.state == .active && lease.condition != .lost && vf.driver != "vfio-pci" {
                        problems.append("\(address) of active lease \(id) is on \(vf.driver ?? "no driver"), not vfio-pci")
                    }
                    continue
                }
                // Free: must be clean.
                if vf.driver == "vfio-pci" { problems.append("free VF \(address) (pool \(pool)) is bound to vfio-pci") }
                if vf.driverOverride != nil { problems.append("free VF \(address) (pool \(pool)) has driver_override \(vf.driverOverride ?? "")") }
                if let iface = pf.interfaces.first, let state = readouts[iface]?.vf(vf.index) {
                    // A VF back on its host driver (rebind-host-driver) owns its MAC: igbvf, for one,
                    // assigns itself a random one, which the PF then reports.
                    let macClean = vf.driver != nil || state.mac == .zero || state.mac == .scrubPlaceholder
                    let clean = macClean && state.vlan == .none
                        && state.trust != true && state.spoofCheck != false && state.minTxRate == 0 && state.maxTxRate == 0
                    if !clean { problems.append("free VF \(address) (pool \(pool)) is not scrubbed: mac \(state.mac), \(state.vlan), trust \(state.trust.map { "\($0)" } ?? "-"), spoofchk \(state.spoofCheck.map { "\($0)" } ?? "-")") }
                }
            }
        }
        return problems.sorted()
    }

    /// The VFs whose lease (any field) or quarantine entry differs between two books.
    static func changed(from before: LeaseBook, to after: LeaseBook) -> Set<PCIAddress> {
        var changed = Set<PCIAddress>()
        guard before != after else { return changed }
        for id in Set(before.leases.keys).union(after.leases.keys) where before.leases[id] != after.leases[id] {
            for lease in [before.leases[id], after.leases[id]] { for vf in lease?.vfs ?? [] { changed.insert(vf.pciAddress) } }
        }
        for key in Set(before.quarantine.keys).union(after.quarantine.keys) where before.quarantine[key] != after.quarantine[key] {
            if let address = try? PCIAddress(parsing: key) { changed.insert(address) }
        }
        return changed
    }
}

extension LeaseEngine {
    /// The host as it is now (a full discovery; the allocator's cache is left alone).
    public func hostInventory() throws(SRIOVError) -> HostInventory {
        try host.source.inventory()
    }

    /// The promises checked against the host as it is now (`Invariants`): a fresh inventory and every
    /// PF's VF settings, read for this check.
    ///
    /// Kernel interface: sysfs (the inventory), RTM_GETLINK per PF with VFs (`ip -d link show <pf>`).
    ///
    /// Lease steps go on while the host is read (the reads await), so the book is taken before and
    /// after: a VF whose lease or quarantine entry changed in between was in the middle of a step
    /// and is not judged (found by Benchmarks/soak.py: a check beside 64 busy clients reported VFs
    /// of leases acquired during the read as "on no driver").
    public func check() async throws(SRIOVError) -> CheckReport {
        let before = self.book
        let inventory = try host.source.inventory()
        var readouts: [InterfaceName: VFReadout] = [:]
        for pf in inventory.pfs {
            guard let iface = pf.interfaces.first, !pf.vfs.isEmpty else { continue }
            readouts[iface] = try await host.link.readVFs(pf: iface)
        }
        let book = self.book
        let unsettled = Invariants.changed(from: before, to: book)
        return CheckReport(leases: book.leases.count, heldVFs: book.heldVFs.count, quarantined: book.quarantine.count,
                           broken: Invariants.check(book: book, plan: plan, inventory: inventory, readouts: readouts,
                                                    unsettled: unsettled))
    }
}
