import SRIOVConfig
import SRIOVCore

extension LeaseEngine {
    /// What one batch of host events did (for the watcher's log, metrics and tests).
    public struct ObserveReport: Sendable, Equatable {
        /// The whole host was read (a safety-net pass, lost events, or no cached view yet).
        public var fullPass = false
        /// VFs whose driver or group was re-read into the cached inventory.
        public var patchedDevices = 0
        /// PFs whose VF list was re-read (VFs came or went).
        public var rereadPFs: [PCIAddress] = []
        public var drift: [DriftRecord] = []
        /// Restores that did not stick (the VF was quarantined instead), with the reason.
        public var restoreFailures: [String] = []
        public var lost: [LeaseID] = []
        /// VFs of lost leases that came back (quarantined until checked).
        public var returned: [PCIAddress] = []
        /// VFs that joined a pool (new under a pooled PF), and those quarantined because they were not clean.
        public var joined: [PCIAddress] = []
        public var joinedQuarantined: [PCIAddress] = []
        /// Link changes of PF netdevs in the batch (carrier, operstate): `pfLinksChanged(_:)` gets them.
        public var pfLinks: [LinkEvent] = []
        public var errors: [String] = []

        public init() {}
    }

    /// Patches the cached inventory from a batch of host events (per device, or per PF when VFs came or
    /// went; the whole host only on a full pass), then checks every leased VF the batch touched against
    /// its lease: vanished VFs mark their lease `lost`, VFs of a lost lease that come back are quarantined,
    /// new VFs under a pooled PF join their pool once seen clean, and drift is handled as the pool's
    /// `on_drift` says. The entry point of `HostWatcher` (SRIOVService).
    public func observe(_ batch: HostEventBatch) async -> ObserveReport {
        var report = ObserveReport()
        guard !batch.isEmpty else { return report }
        // A lease step's own changes announce themselves as events while the step runs: the batch
        // waits for the steps running now to end (at most `observeQuietWait`), so its reads do not
        // compete with theirs for the kernel's locks, and most of what it reads is then settled.
        _ = await awaitNoOperations(timeout: observeQuietWait)
        let previousPlan = plan
        // Which PFs (by PCI address) to judge leases on; nil = all.
        var affected: Set<PCIAddress>? = []
        var vfSetChanged = false
        if batch.fullPass || cachedInventory == nil {
            // Discovered off the actor (thousands of sysfs reads), as the background refresh does;
            // what lease steps patch meanwhile is replayed onto it.
            let started = uptime.now
            let generation = inventoryGeneration
            refreshingInventory = true
            patchesDuringRefresh = []
            let found = await LeaseEngine.discover(host.source, plan: plan)
            finishRefresh(found, started: started, generation: generation)
            if cachedInventory == nil {
                // Dropped meanwhile (a VF-count change): read it here, once.
                do throws(SRIOVError) {
                    installInventory((uptime.now, try host.source.inventory()))
                } catch {
                    report.errors.append("cannot read the host: \(error.message)")
                    return report
                }
            }
            report.fullPass = true
            affected = nil
            vfSetChanged = true
        } else {
            // The devices the events name are read off the actor (sysfs reads take the device lock
            // that binds hold); a status a lease step patched meanwhile is newer and is kept.
            let serial = patchSerial
            let reads = await LeaseEngine.readDevices(host.source, batch.devices.compactMap { $1 == .add || $1 == .remove ? nil : $0 })
            let changed = patchDevices(batch.devices, reads: reads.filter { (lastPatched[$0.key] ?? 0) <= serial }, report: &report)
            vfSetChanged = !report.rereadPFs.isEmpty
            affected?.formUnion(changed)
        }
        guard let inventory = cachedInventory?.inventory else { return report }
        // The view as of now: a lease claimed or let go after this is not judged on it (below).
        let viewEpoch = busy.epoch
        // VF settings announced by the PF's netdev (RTM_NEWLINK with IFLA_VFINFO_LIST).
        var pfOfInterface: [InterfaceName: PCIAddress] = [:]
        for pf in inventory.pfs { for iface in pf.interfaces { pfOfInterface[iface] = pf.pciAddress } }
        for iface in batch.vfInfoChanged { if let pf = pfOfInterface[iface] { affected?.insert(pf) } }
        for (name, link) in batch.links {
            guard let pf = pfOfInterface[name] else { continue }
            report.pfLinks.append(link)
            // Any RTM_NEWLINK of a PF may be a VF setting: after `ip link set <pf> vf N ...` the kernel
            // notifies with netdev_state_change(), whose message carries no VF list (it is built
            // without RTEXT_FILTER_VF), so the PF's VFs are read again.
            affected?.insert(pf)
        }
        report.pfLinks.sort { ($0.interface?.name ?? "") < ($1.interface?.name ?? "") }
        if !report.pfLinks.isEmpty { await pfLinksChanged(report.pfLinks) }
        if vfSetChanged && pfWrites.numVFs == nil { rebindPools(inventory, previous: previousPlan, report: &report) }
        await judgeLeases(inventory, as: viewEpoch, affected: affected, report: &report)
        return report
    }

    /// How long a batch of host events waits for the lease steps running when it comes to end.
    nonisolated static let defaultObserveQuietWait: Duration = .milliseconds(500)

    /// Each device's status, read off the actor (left out: gone or unreadable, read again on the actor).
    @concurrent
    nonisolated static func readDevices(_ source: any HostInventorySource, _ addresses: [PCIAddress]) async -> [PCIAddress: DeviceStatus] {
        // The blocking host calls run on the host-step threads, not the cooperative pool.
        await HostStepThreads.run { () async -> [PCIAddress: DeviceStatus] in
            var reads: [PCIAddress: DeviceStatus] = [:]
            for address in addresses {
                guard let status = try? source.device(address) else { continue }
                reads[address] = status
            }
            return reads
        }
    }

    /// PF link changes (carrier, operstate) from the host's events, after the batch is patched in: the
    /// one place PF health reaches the engine: the cached `linkState` kept current, and each pooled PF's
    /// carrier read again (`pfLinkChanged`), which emits `pf.down` / `pf.up` naming its leases.
    func pfLinksChanged(_ links: [LinkEvent]) async {
        for link in links {
            guard let name = link.interface else { continue }
            // A PF's RTM_NEWLINK follows every VF setting changed through it: when it announces the
            // carrier and operstate it announced before, the link did not change and is not read.
            let announced = (carrier: link.carrier, operState: link.operState)
            if link.kind == .changed, link.carrier != nil || link.operState != nil,
               let before = announcedLinks[name], before.carrier == announced.carrier, before.operState == announced.operState {
                continue
            }
            announcedLinks[name] = link.kind == .removed ? nil : announced
            if let state = link.operState, cachedInventory != nil,
               let p = cachedInventory?.inventory.pfs.firstIndex(where: { $0.interfaces.contains(name) }) {
                patchCachedInventory { $0.pfs[p].linkState = state.rawValue }
            }
            // A pooled PF's carrier, read again: `pf.down` / `pf.up` naming its leases within the
            // batch window, not at the next reaper tick (PFHealth.swift).
            await pfLinkChanged(name.name)
        }
    }

    /// Re-reads what the PCI events name: one device for a bind, unbind or change of a known VF; the
    /// VF list of a PF that gained or lost VFs. Returns the PFs touched.
    private func patchDevices(_ devices: [PCIAddress: PCIDeviceEvent.Action], reads: [PCIAddress: DeviceStatus],
                              report: inout ObserveReport) -> Set<PCIAddress> {
        guard let cached = cachedInventory else { return [] }
        if cachedPositions.isEmpty { cachedPositions = LeaseEngine.positions(cached.inventory) }
        let pfIndex = Dictionary(cached.inventory.pfs.enumerated().map { ($1.pciAddress, $0) }, uniquingKeysWith: { a, _ in a })
        var reread = Set<PCIAddress>()
        var touched = Set<PCIAddress>()
        var unknownAdded = false
        for (address, action) in devices {
            if pfIndex[address] != nil {
                // The PF itself (driver reload, removal): its VFs follow.
                reread.insert(address)
                continue
            }
            guard let position = cachedPositions[address] else {
                if action != .remove { unknownAdded = true }
                continue
            }
            let pf = cached.inventory.pfs[position.pf].pciAddress
            touched.insert(pf)
            if action == .remove || action == .add {
                reread.insert(pf)
                continue
            }
            // Read off the actor before (`observe`), or here when a lease step patched it since.
            guard let status = reads[address] ?? (try? host.source.device(address)) else {
                reread.insert(pf)
                continue
            }
            patchCached(status)
            if let group = status.iommuGroup?.id, cachedInventory?.inventory.pfs[position.pf].vfs[position.vf].iommuGroup != group {
                patchCachedInventory { $0.pfs[position.pf].vfs[position.vf].iommuGroup = group }
                cachedGroups = nil
                cachedPoolIndexes = [:]
            }
            report.patchedDevices += 1
        }
        if unknownAdded {
            // A device the view does not know: a new VF of some PF (its uevent names only the VF).
            for pf in cached.inventory.pfs where host.source.presentVFs(of: pf.pciAddress) != pf.vfs.count {
                reread.insert(pf.pciAddress)
            }
        }
        for address in reread.sorted() {
            guard let p = cachedInventory?.inventory.pfs.firstIndex(where: { $0.pciAddress == address }) else { continue }
            do throws(SRIOVError) {
                let fresh = try host.source.physicalFunction(address)
                let before = Set(cachedInventory?.inventory.pfs[p].vfs.map(\.pciAddress) ?? [])
                // The VFs' IOMMU groups (the allocator reads groups from the host's list).
                var groups: [IOMMUGroup] = []
                for vf in fresh?.vfs ?? [] {
                    if let group = try host.source.device(vf.pciAddress)?.iommuGroup { groups.append(group) }
                }
                patchCachedInventory { inventory in
                    if let fresh { inventory.pfs[p] = fresh } else { inventory.pfs.remove(at: p) }
                    LeaseEngine.replaceGroups(of: before, with: groups, in: &inventory.host)
                }
            } catch {
                report.errors.append("\(address): cannot re-read the PF: \(error.message)")
                continue
            }
            report.rereadPFs.append(address)
            touched.insert(address)
        }
        if !report.rereadPFs.isEmpty {
            // Positions and indexes are rebuilt from the patched view; a background refresh begun
            // before may not see these changes, so it is discarded.
            cachedGroups = nil
            cachedPoolIndexes = [:]
            cachedPositions = [:]
            inventoryGeneration += 1
        }
        return touched
    }

    /// The host's IOMMU group list after a PF's VFs were re-read: groups of the VFs that were there are
    /// dropped (or lose those members), the groups just read are put in.
    nonisolated static func replaceGroups(of before: Set<PCIAddress>, with groups: [IOMMUGroup], in host: inout HostFacts) {
        var list = host.iommuGroups.compactMap { group -> IOMMUGroup? in
            guard group.members.contains(where: { before.contains($0.pciAddress) }) else { return group }
            var kept = group
            kept.members.removeAll { before.contains($0.pciAddress) }
            return kept.members.isEmpty ? nil : kept
        }
        for group in groups {
            if let i = list.firstIndex(where: { $0.id == group.id }) { list[i] = group } else { list.append(group) }
        }
        host.iommuGroups = list.sorted { $0.id < $1.id }
    }

    /// Binds the pools to the VFs in view after VFs came or went. New pool VFs join free only if they
    /// are seen clean (no vfio-pci, no override, scrubbed); others are quarantined with the reason.
    private func rebindPools(_ inventory: HostInventory, previous: PoolPlan, report: inout ObserveReport) {
        let resolved: PoolPlan
        do throws(SRIOVError) {
            resolved = try config.resolve(against: inventory)
        } catch {
            report.errors.append("the pools were not rebound to the VFs the host has now: \(error.message)")
            return
        }
        plan = resolved
        let before = Set(previous.allPooledVFs)
        report.joined = resolved.allPooledVFs.filter { !before.contains($0) && book.holder(of: $0) == nil }
    }

    /// Leases on `affected` PFs (nil: every lease): lost, returned, drifted.
    ///
    /// Lease steps run while the batch awaits (its host reads, its records): a lease released, scrubbed
    /// and its VF leased again meanwhile must not be judged by what was read before or during that,
    /// or the watcher would "restore" an old lease's settings onto a VF being scrubbed or leased to
    /// someone else. So a lease is looked up in the book again after every await, and judged only if
    /// no step of it was claimed or let go since `viewEpoch` (when the view was taken; every read of
    /// the batch comes after it). A lease skipped so is judged on the next event or the next full pass.
    private func judgeLeases(_ inventory: HostInventory, as viewEpoch: UInt64, affected: Set<PCIAddress>?, report: inout ObserveReport) async {
        // PFs too, as whole devices (without interfaces: no VF settings to compare).
        let vfs = inventory.leasableFunctions
        var readouts: [InterfaceName: VFReadout] = [:]
        // New pool VFs: free only once seen clean.
        for address in report.joined {
            guard let (vf, pf) = vfs[address] else { continue }
            var dirty: [String] = []
            if vf.driver == "vfio-pci" { dirty.append("bound to vfio-pci") }
            if let o = vf.driverOverride { dirty.append("driver_override \(o)") }
            if let iface = pf.interfaces.first, let state = await readout(iface, &readouts)?.vf(vf.index) {
                if !(state.mac == .zero || state.mac == .scrubPlaceholder || vf.driver != nil) { dirty.append("mac \(state.mac)") }
                if state.vlan != .none { dirty.append("\(state.vlan)") }
                if state.trust == true { dirty.append("trust on") }
                if state.spoofCheck == false { dirty.append("spoofchk off") }
                if state.minTxRate != 0 || state.maxTxRate != 0 { dirty.append("tx rate limits") }
            }
            guard !dirty.isEmpty, !book.isQuarantined(address) else { continue }
            let reason = "new VF under a pooled PF is not clean (\(dirty.joined(separator: ", "))); `sriovctl vf unquarantine \(address)` scrubs it into pool \(plan.pool(of: address) ?? "?")"
            do throws(SRIOVError) {
                try await record(.quarantined(vf: address, reason: reason, lease: nil))
                report.joinedQuarantined.append(address)
            } catch {
                report.errors.append("\(address): \(error.message)")
            }
        }
        report.joined.removeAll { report.joinedQuarantined.contains($0) }
        // Unchanged since `base` and still in the book (nil: skip it this batch).
        func unchanged(_ id: LeaseID, since base: UInt64) -> Lease? {
            busy.touched(id, after: base) ? nil : book.lease(id)
        }
        for listed in leases() {
            // The watcher's own drift handling claims the lease too; what it did is no reason to skip.
            var base = viewEpoch
            guard let lease = unchanged(listed.id, since: base) else { continue }
            let mine = lease.vfs.filter { $0.stage != .returned && (affected?.contains($0.pf) ?? true) }
            guard !mine.isEmpty else { continue }
            if lease.condition == .lost {
                // Its VFs coming back are not the VM's devices any more: kept out until checked.
                for held in mine where vfs[held.pciAddress] != nil && !book.isQuarantined(held.pciAddress) {
                    let reason = "came back after lease \(lease.id) was lost; kept out of the pool until checked (`sriovctl vf unquarantine \(held.pciAddress)` after the lease is released)"
                    do throws(SRIOVError) {
                        try await record(.quarantined(vf: held.pciAddress, reason: reason, lease: lease.id))
                        report.returned.append(held.pciAddress)
                    } catch {
                        report.errors.append("\(held.pciAddress): \(error.message)")
                    }
                }
                continue
            }
            let gone = mine.filter { vfs[$0.pciAddress] == nil }
            if !gone.isEmpty, lease.state != .releasing {
                let reason = gone.map { held in
                    let count = inventory.pfs.first { $0.pciAddress == held.pf }?.numVFs
                    return "\(held.pciAddress) vanished" + (count.map { " (its PF has \($0) VFs now)" } ?? " (its PF is gone)")
                }.joined(separator: "; ") + ", seen by the host watcher"
                do throws(SRIOVError) {
                    try await record(.marked(lease: lease.id, condition: .lost, reason: reason))
                    report.lost.append(lease.id)
                } catch {
                    report.errors.append("\(lease.id): \(error.message)")
                }
                continue
            }
            guard lease.state == .active else { continue }
            let action = plan.config(of: lease.pool)?.onDrift ?? .default
            // A change forced through sriovd (`vf set --force`) marked the lease drifted on purpose:
            // restoring would undo what the operator forced. Reporting it still says what differs.
            if action == .restore && lease.condition == .drifted { continue }
            for held in mine where held.stage == .active {
                guard let (vf, pf) = vfs[held.pciAddress] else { continue }
                var changes: [DriftChange] = []
                if vf.driver != "vfio-pci" { changes.append(DriftChange(field: "driver", wanted: "vfio-pci", actual: vf.driver ?? "none")) }
                if let group = held.iommuGroup, let now = vf.iommuGroup, group != now {
                    changes.append(DriftChange(field: "iommu_group", wanted: "\(group)", actual: "\(now)"))
                }
                let iface = held.pfInterface ?? pf.interfaces.first
                if let iface, let state = await readout(iface, &readouts)?.vf(vf.index) {
                    changes += held.settings.differences(from: state).map { DriftChange(field: $0.field, wanted: $0.wanted, actual: $0.actual) }
                }
                // The read awaited: judged only if the lease is as it was (not released, not re-leased).
                guard unchanged(lease.id, since: base)?.state == .active else { break }
                guard !changes.isEmpty else {
                    lastDrift[held.pciAddress] = nil
                    continue
                }
                // Reported once per distinct change (report), not again on every later event.
                guard lastDrift[held.pciAddress] != changes, !book.isQuarantined(held.pciAddress) else { continue }
                lastDrift[held.pciAddress] = changes
                await handleDrift(lease, held, vf: vf, iface: iface, changes: changes, action: action, report: &report)
                // Its claim was let go just now, with no await since: the lease's other VFs go on from here.
                base = busy.epoch
            }
        }
    }

    /// A PF's VF settings, read once per batch.
    ///
    /// Equivalent to: `ip -d link show <pf>`.
    private func readout(_ iface: InterfaceName, _ cache: inout [InterfaceName: VFReadout]) async -> VFReadout? {
        if let known = cache[iface] { return known }
        guard let fresh = try? await host.link.readVFs(pf: iface) else { return nil }
        cache[iface] = fresh
        return fresh
    }

    /// Journals the drift (before any restore) and, for `restore`, puts the lease's settings back and
    /// reads them back; what cannot be restored is quarantined instead.
    private func handleDrift(_ lease: Lease, _ held: LeasedVF, vf: VirtualFunction, iface: InterfaceName?, changes: [DriftChange],
                             action wanted: DriftAction, report: inout ObserveReport) async {
        let settingsOnly = changes.allSatisfy { $0.field != "driver" && $0.field != "iommu_group" }
        let action: DriftAction = wanted == .restore && !(settingsOnly && iface != nil) ? .quarantine : wanted
        let record = DriftRecord(lease: lease.id, vf: held.pciAddress, interface: iface?.name, index: vf.index, changes: changes, action: action)
        // Claimed before the first await: a release waits for (is refused during) the record and the
        // restore, rather than scrub the VF while the old settings are put back on it.
        busy.insert(lease.id)
        defer { busy.remove(lease.id) }
        do throws(SRIOVError) {
            try await self.record(.vfDrift(record))
            report.drift.append(record)
        } catch {
            report.errors.append("\(held.pciAddress): \(error.message)")
            return
        }
        logger.warning("drift on a leased VF", metadata: ["lease": "\(lease.id)", "bdf": "\(held.pciAddress)", "changes": "\(record.summary)"])
        guard action == .restore, let iface else { return }
        let target = VFConfigurator.Target(interface: iface, label: iface.name, driver: nil)
        let what = "\(iface.name) VF \(vf.index) (\(held.pciAddress)) of lease \(lease.id)"
        do throws(SRIOVError) {
            try await VFConfigurator(link: host.link).apply(held.settings, vf: vf.index, on: target)
            lastDrift[held.pciAddress] = nil
            await audit("sriovd", "lease.drift.restore", what, "restored: \(changes.map(\.summary).joined(separator: ", ")) (read back)")
        } catch {
            report.restoreFailures.append("\(what): \(error.message)")
            var failed = record
            failed.action = .quarantine
            do throws(SRIOVError) {
                try await self.record([.vfDrift(failed),
                                       auditEvent("sriovd", "lease.drift.restore", what, "failed: \(error.message); quarantined")])
                report.drift.append(failed)
            } catch {
                report.errors.append("\(held.pciAddress): \(error.message)")
            }
        }
    }
}

extension LeaseEngine {
    /// One VF as the engine's cached view has it now (nil without a view or for an unknown VF): what
    /// allocation sees, for tests and the host-events benchmark (no host read).
    public func cachedVF(_ address: PCIAddress) -> VirtualFunction? {
        guard let inventory = cachedInventory?.inventory else { return nil }
        for pf in inventory.pfs { if let vf = pf.vfs.first(where: { $0.pciAddress == address }) { return vf } }
        return nil
    }
}
