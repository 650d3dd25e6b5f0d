import SRIOVConfig
import SRIOVCore

/// The promises sriovd keeps, checkable against the real host at any time (tests, crash injection):
/// every pool VF is free (unbound from vfio-pci, no override, scrubbed), held by exactly one lease,
/// or quarantined with a reason; no lease holds a VF twice; every active lease's VFs are on vfio-pci.
public enum Invariants {
    public static func check(book: LeaseBook, plan: PoolPlan, inventory: HostInventory,
                             readouts: [InterfaceName: VFReadout]) -> [String] {
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
        var vfs: [PCIAddress: (VirtualFunction, PhysicalFunction)] = [:]
        for pf in inventory.pfs { for vf in pf.vfs { vfs[vf.pciAddress] = (vf, pf) } }
        for (pool, members) in plan.pools {
            for address in members {
                guard let (vf, pf) = vfs[address] else { continue }
                if let q = book.quarantine[address.description] {
                    if q.reason.isEmpty { problems.append("\(address) is quarantined without a reason") }
                    continue
                }
                if let ids = holders[address], let id = ids.first, let lease = book.lease(id) {
                    if lease.state == .active && vf.driver != "vfio-pci" {
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
}
