import SRIOVConfig
import SRIOVCore

/// `sriovd apply`: make the host what the configuration and the journal say, before sriovd or any VM
/// starts (at boot, VFs are gone, and with autoprobe off they come back driverless).
extension LeaseEngine {
    public struct ApplyReport: Sendable, Equatable {
        /// What was changed (or, in a dry run, would be), one line each.
        public var changed: [String] = []
        /// What already matched.
        public var unchanged: [String] = []
        /// What could not be done, with the reason and the remedy.
        public var problems: [String] = []

        public init() {}
    }

    /// Applies `pfs:` (VF count through 0, `sriov_drivers_autoprobe` first), then puts every VF of an
    /// active lease back on vfio-pci with the lease's settings. Idempotent: a second run changes nothing.
    /// Open the engine with `reconcile: false` first, or reconcile would quarantine the driverless VFs of
    /// a reboot as drift before they could be restored.
    public func apply(dryRun: Bool, timeout: Duration = .seconds(120), requestedBy: String = "sriovd apply",
                      progress: @escaping @Sendable (String) -> Void = { _ in }) async -> ApplyReport {
        var report = ApplyReport()
        await applyDesiredPFs(dryRun: dryRun, timeout: timeout, progress: progress, into: &report)
        invalidateInventory()
        await restoreLeasedVFs(dryRun: dryRun, requestedBy: requestedBy, into: &report)
        return report
    }

    /// Kernel interface: `/sys/bus/pci/devices/<pf>/sriov_numvfs` and `sriov_drivers_autoprobe` (through
    /// `NumVFsChange`).
    func applyDesiredPFs(dryRun: Bool, timeout: Duration, progress: @escaping @Sendable (String) -> Void,
                         into report: inout ApplyReport) async {
        let inventory: HostInventory
        do { inventory = try host.source.inventory() } catch {
            report.problems.append("cannot read the host: \(error.message)")
            return
        }
        let held = book.heldVFs
        for (address, desired) in plan.desiredPFs.sorted(by: { $0.key < $1.key }) {
            guard let pf = inventory.pfs.first(where: { $0.pciAddress == address }) else {
                report.problems.append("\(address) (\(desired.pf)): the PF is gone from the host; check `sriovctl inventory`")
                continue
            }
            let setAutoprobe = desired.autoprobe.flatMap { $0 == pf.driversAutoprobe ? nil : $0 }
            let wanted = "\(desired.numVFs) VFs" + (desired.autoprobe.map { ", autoprobe \($0 ? "on" : "off")" } ?? "")
            if pf.numVFs == desired.numVFs && setAutoprobe == nil {
                report.unchanged.append("\(pf.label): \(wanted), as configured")
                continue
            }
            if pf.numVFs != desired.numVFs && pf.numVFs > 0 {
                // Going through 0 removes every VF: never yank leased VFs from their VMs.
                let leased = pf.vfs.compactMap { vf in held[vf.pciAddress].map { (vf.pciAddress, $0) } }
                if let (vf, lease) = leased.first {
                    report.problems.append("\(pf.label): cannot change sriov_numvfs from \(pf.numVFs) to \(desired.numVFs): \(leased.count) leased VF\(leased.count == 1 ? "" : "s") would vanish (\(vf), lease \(lease)); release \(leased.count == 1 ? "it" : "them") first (`sriovctl lease release`), then run apply again")
                    continue
                }
            }
            var what: [String] = []
            if let setAutoprobe { what.append("autoprobe \(pf.driversAutoprobe.map { $0 ? "on" : "off" } ?? "unknown") -> \(setAutoprobe ? "on" : "off")") }
            if pf.numVFs != desired.numVFs { what.append("VFs \(pf.numVFs) -> \(desired.numVFs)") }
            if dryRun {
                report.changed.append("\(pf.label): would set \(what.joined(separator: ", "))")
                continue
            }
            let change = NumVFsChange(source: host.source, control: host.control)
            do throws(SRIOVError) {
                let outcome = try await change.run(PFTarget(pf), to: desired.numVFs,
                                                   autoprobe: setAutoprobe, force: false, timeout: timeout, progress: progress)
                report.changed.append("\(pf.label): set \(what.joined(separator: ", "))" + (outcome.after == desired.numVFs ? "" : " (has \(outcome.after))"))
            } catch {
                report.problems.append(error.message)
            }
        }
    }

    /// Every VF of an active lease: settings read back against the lease's, restored if they differ
    /// (a reboot or a driver reload resets them), then driver_override + drivers_probe onto vfio-pci.
    /// Kernel interface: netlink RTM_SETLINK/RTM_GETLINK on the PF, `driver/unbind`, `driver_override`,
    /// `drivers_probe`.
    func restoreLeasedVFs(dryRun: Bool, requestedBy: String, into report: inout ApplyReport) async {
        var readouts: [InterfaceName: VFReadout] = [:]
        for listed in leases() where !busy.contains(listed.id) {
            // Looked up again: an earlier lease's steps awaited, and this one may have been released meanwhile.
            guard let lease = book.lease(listed.id) else { continue }
            guard lease.state == .active else {
                report.unchanged.append("lease \(lease.id): \(lease.state.rawValue) was interrupted; sriovd's reconcile at start-up finishes it")
                continue
            }
            busy.insert(lease.id)
            defer { busy.remove(lease.id) }
            var restored = false
            var failed = false
            for vf in lease.vfs {
                let label = "lease \(lease.id) VF \(vf.pciAddress) (\(vf.pfInterface?.name ?? vf.pf.description) VF \(vf.index))"
                if let q = book.quarantine[vf.pciAddress.description] {
                    report.unchanged.append("\(label): quarantined (\(q.reason)); left alone")
                    continue
                }
                let device: DeviceStatus?
                do { device = try host.source.device(vf.pciAddress) } catch {
                    report.problems.append("\(label): \(error.message)")
                    failed = true
                    continue
                }
                guard let device else {
                    report.problems.append("\(label): the VF does not exist (its PF has fewer VFs than when it was leased); set the PF's num_vfs in pfs: so it comes back, or release the lease")
                    failed = true
                    continue
                }
                var actions: [String] = []
                if let iface = vf.pfInterface, !vf.settings.isEmpty {
                    do throws(SRIOVError) {
                        if readouts[iface] == nil { readouts[iface] = try await host.link.readVFs(pf: iface) }
                        let target = VFConfigurator.Target(interface: iface, label: "\(vf.pf) (\(iface))", driver: nil)
                        let matches = readouts[iface]?.vf(vf.index).map { state in
                            (try? VFConfigurator.verify(vf.settings, against: state, vf: vf.index, pf: target)) != nil
                        } ?? false
                        if !matches {
                            actions.append("settings restored (\(vf.settings.fields.map { "\($0)" }.joined(separator: ", ")))")
                            if !dryRun {
                                _ = try await VFConfigurator(link: host.link).apply(vf.settings, vf: vf.index, on: target)
                                readouts[iface] = nil
                            }
                        }
                    } catch {
                        report.problems.append("\(label): cannot restore its settings: \(error.message)")
                        failed = true
                        continue
                    }
                }
                if device.driver != "vfio-pci" {
                    actions.append("bound to vfio-pci (was \(device.driver ?? "unbound"))")
                    if !dryRun {
                        do throws(SRIOVError) { try bindToVFIO(vf.pciAddress) } catch {
                            report.problems.append("\(label): cannot bind it to vfio-pci: \(error.message)")
                            failed = true
                            continue
                        }
                    }
                }
                if actions.isEmpty {
                    report.unchanged.append("\(label): on vfio-pci with its settings")
                } else {
                    report.changed.append("\(label): \(dryRun ? "would be " : "")\(actions.joined(separator: ", "))")
                    restored = true
                }
            }
            guard restored, !dryRun, !failed else { continue }
            do throws(SRIOVError) {
                let devices = try verifyBound(try self.lease(lease.id))
                // IOMMU group numbers may differ after a reboot: record where the VFs are now.
                if devices.contains(where: { address, node in lease.vfs.first { $0.pciAddress == address }?.vfioDevice != node }) {
                    try await record(.activated(lease: lease.id, vfioDevices: devices))
                }
                // The kernel made the nodes again as root's: the VM's user gets them back, unless the
                // groups were renumbered (a grant's `previous` belongs to the group it was taken from).
                if lease.request.wantsDeviceOwner {
                    let granted = Set(lease.vfioGrants?.map(\.group) ?? [])
                    let now = Set(devices.values.compactMap { node in node.split(separator: "/").last.flatMap { Int($0) } })
                    if granted == now {
                        try await grantDeviceNodes(lease.id)
                    } else {
                        report.problems.append("lease \(lease.id): its IOMMU groups are now \(now.sorted()) (granted: \(granted.sorted())); /dev/vfio was not given to its device user again: release the lease and acquire anew")
                    }
                }
                await audit(requestedBy, "lease.restore", "\(lease.id)", "ok")
            } catch {
                report.problems.append("lease \(lease.id): \(error.message)")
                await audit(requestedBy, "lease.restore", "\(lease.id)", "failed: \(error.message)")
            }
        }
    }
}
