import SRIOVCore

extension LeaseEngine {
    public struct ReconcileReport: Sendable, Codable, Equatable {
        public var rolledForward: [LeaseID] = []
        public var rolledBack: [LeaseID] = []
        public var finishedReleases: [LeaseID] = []
        public var drift: [String] = []
        public var errors: [String] = []
    }

    /// After a crash or reboot: every lease whose last step was in flight is rolled forward or back by
    /// looking at the real host, and every active lease is checked for drift (VF vanished, VF count
    /// changed, driver changed by someone else); drifted VFs are quarantined with the reason.
    /// `known`: the host as the caller read it a moment ago (start-up reads it to resolve the pools),
    /// so it is not discovered twice.
    public func reconcile(using known: HostInventory? = nil) async -> ReconcileReport {
        var report = ReconcileReport()
        // No lease and no pool VF: nothing in the book to compare with the host (a `--direct` process
        // on a host without pools skips a discovery here).
        if book.leases.isEmpty && plan.pools.values.allSatisfy({ $0.isEmpty }) { return report }
        let inventory: HostInventory
        if let known {
            inventory = known
        } else {
            do { inventory = try host.source.inventory() } catch {
                report.errors.append("cannot read the host: \(error.message)")
                return report
            }
        }
        var vfs = Self.vfsByAddress(inventory)
        for listed in leases() where !busy.contains(listed.id) {
            // Looked up again: an earlier lease's steps awaited, and this one may have been released meanwhile.
            guard let lease = book.lease(listed.id) else { continue }
            busy.insert(lease.id)
            defer { busy.remove(lease.id) }
            do throws(SRIOVError) {
                switch lease.state {
                case .acquiring:
                    if lease.vfs.allSatisfy({ $0.stage == .binding }), let devices = try? verifyBound(lease),
                       await settingsMatch(lease), deviceNodesGranted(lease) {
                        // Every step ran; only the final record was missing.
                        try await record(.activated(lease: lease.id, vfioDevices: devices))
                        report.rolledForward.append(lease.id)
                    } else {
                        try await takeBack(lease.id, cause: .recovery, reason: "recovery: acquire was interrupted")
                        report.rolledBack.append(lease.id)
                    }
                case .releasing:
                    try await takeBack(lease.id, cause: .recovery, reason: "recovery: release was interrupted")
                    report.finishedReleases.append(lease.id)
                case .active:
                    for leased in lease.vfs where !book.isQuarantined(leased.pciAddress) {
                        let why: String?
                        if let vf = vfs[leased.pciAddress] {
                            why = vf.driver == "vfio-pci" ? nil
                                : "driver changed underneath to \(vf.driver ?? "none") (expected vfio-pci)"
                        } else {
                            let count = inventory.pfs.first { $0.pciAddress == leased.pf }?.numVFs
                            why = "VF vanished" + (count.map { " (its PF has \($0) VFs now)" } ?? " (its PF is gone)")
                        }
                        if let why {
                            try await record(.drift(lease: lease.id, vf: leased.pciAddress, reason: why))
                            report.drift.append("\(lease.id) \(leased.pciAddress): \(why)")
                        }
                    }
                }
            } catch {
                report.errors.append("\(lease.id): \(error.message)")
            }
        }
        // Rolling a lease back or finishing its release unbinds its VFs: the read above is stale for them
        // now (they were on vfio-pci then), so look again before judging who else holds a pool VF.
        if !report.rolledBack.isEmpty || !report.finishedReleases.isEmpty {
            do { vfs = Self.vfsByAddress(try host.source.inventory()) } catch {
                report.errors.append("cannot read the host again after recovery: \(error.message); pool VFs not checked for other users")
                vfs = [:]
            }
        }
        // A pool VF on vfio-pci that no lease holds: someone else uses it; keep it out of circulation.
        let held = book.heldVFs
        for (name, members) in plan.pools {
            for address in members where held[address] == nil && !book.isQuarantined(address) {
                guard let vf = vfs[address], vf.driver == "vfio-pci" else { continue }
                let why = "bound to vfio-pci but not leased by sriovd (pool \(name)): another tool may have passed it to a VM"
                do throws(SRIOVError) {
                    try await record(.quarantined(vf: address, reason: why, lease: nil))
                    report.drift.append("\(address): \(why)")
                } catch {
                    report.errors.append("\(address): \(error.message)")
                }
            }
        }
        if !report.drift.isEmpty || !report.rolledBack.isEmpty || !report.rolledForward.isEmpty {
            logger.notice("reconciled with the host", metadata: [
                "rolled_forward": "\(report.rolledForward.count)", "rolled_back": "\(report.rolledBack.count)",
                "drift": "\(report.drift.count)",
            ])
        }
        return report
    }

    static func vfsByAddress(_ inventory: HostInventory) -> [PCIAddress: VirtualFunction] {
        // PFs too, as whole devices: a PF leased whole is not a vanished VF.
        inventory.leasableFunctions.mapValues { $0.vf }
    }

    func settingsMatch(_ lease: Lease) async -> Bool {
        for vf in lease.vfs {
            guard let iface = vf.pfInterface, !vf.settings.isEmpty else { continue }
            guard let readout = try? await host.link.readVFs(pf: iface), let state = readout.vf(vf.index) else { return false }
            let target = VFConfigurator.Target(interface: iface, label: iface.name, driver: nil)
            if (try? VFConfigurator.verify(vf.settings, against: state, vf: vf.index, pf: target)) == nil { return false }
        }
        return true
    }
}
