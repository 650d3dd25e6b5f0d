import SRIOVConfig
import SRIOVCore

extension LeaseEngine {
    /// Releases a lease: per VF, unbind from vfio-pci, clear driver_override, scrub every setting and
    /// read it back, then leave it unbound or rebind its host driver (pool policy). A VF that fails a
    /// step is quarantined with the reason; the lease is gone either way.
    public func release(_ id: LeaseID, requestedBy: String? = nil, reason: String = "released") async throws(SRIOVError) -> Lease {
        let lease = try self.lease(id)
        if busy.contains(id) {
            throw SRIOVError(.busy, "lease \(id) is being \(lease.state == .acquiring ? "acquired" : "released") right now; retry in a moment")
        }
        busy.insert(id)
        defer { busy.remove(id) }
        try await takeBack(id, cause: .requested, reason: reason, audit: auditEvent(requestedBy, "lease.release", "\(id) owner \(lease.owner)", reason))
        return lease
    }

    /// Renews a lease's TTL (by the TTL it was created with, or `ttlSeconds`).
    public func renew(_ id: LeaseID, ttlSeconds: Int? = nil, requestedBy: String? = nil) async throws(SRIOVError) -> Lease {
        let lease = try self.lease(id)
        guard lease.state == .active else {
            throw SRIOVError(.busy, "lease \(id) is \(lease.state.rawValue), not active; only an active lease can be renewed")
        }
        guard let ttl = ttlSeconds ?? lease.request.ttlSeconds else {
            throw SRIOVError(.invalidArgument, "lease \(id) has no TTL, so there is nothing to renew; pass --ttl to give it one")
        }
        guard (1...(366 * 86400)).contains(ttl) else {
            throw SRIOVError(.invalidArgument, "invalid TTL \(ttl)s: use 1s to 366d")
        }
        try await record([.renewed(lease: id, expiresAt: clock.now() + Double(ttl)), auditEvent(requestedBy, "lease.renew", "\(id)", "ok")])
        return try self.lease(id)
    }

    /// Releases every active lease whose TTL has passed. Returns their ids.
    public func reapExpired() async -> [LeaseID] {
        let now = clock.now()
        var reaped: [LeaseID] = []
        for listed in leases() {
            // Looked up again: an earlier reclaim awaited, and this lease may have been released or renewed meanwhile.
            guard let lease = book.lease(listed.id), lease.state == .active, !busy.contains(lease.id) else { continue }
            guard let expiresAt = lease.expiresAt, expiresAt <= now else { continue }
            do throws(SRIOVError) {
                busy.insert(lease.id)
                defer { busy.remove(lease.id) }
                try await takeBack(lease.id, cause: .expired, reason: "expired (TTL passed without renew)",
                                   audit: auditEvent("sriovd", "lease.expire", "\(lease.id) owner \(lease.owner)", "reclaimed"))
                reaped.append(lease.id)
            } catch {
                logger.error("cannot reclaim an expired lease", metadata: ["lease": "\(lease.id)", "error": "\(error.message)"])
            }
        }
        return reaped
    }

    /// The release steps for every VF not yet returned, then the lease record goes away. `releasing`
    /// is written to the journal file before the host is touched (`recordWritten`: a killed sriovd
    /// leaves it behind); the outcomes (quarantines, returns, `released`, the audit record) are
    /// journaled together once the host steps are done, durable before the caller hears of it: the one
    /// durable wait of a release. A crash in between finds the lease releasing, and recovery runs the
    /// (idempotent) steps again; a power loss before the outcomes are durable finds it active or
    /// releasing after a reboot that took its VFs' state anyway, and the caller was not answered.
    func takeBack(_ id: LeaseID, cause: ReleaseCause, reason: String, audit: LeaseEvent? = nil) async throws(SRIOVError) {
        let lease = try self.lease(id)
        if lease.state != .releasing {
            try await recordWritten([.releasing(lease: id, cause: cause, reason: reason)])
        }
        let onRelease = plan.config(of: lease.pool)?.onRelease ?? .leaveUnbound
        var outcomes: [LeaseEvent] = []
        // The VM's user loses the devices' node first (on a real kernel it goes with vfio-pci anyway).
        for problem in restoreDeviceNodes(lease) {
            logger.error("/dev/vfio node not restored", metadata: ["lease": "\(id)", "problem": "\(problem)"])
        }
        for vf in lease.vfs where vf.stage != .returned {
            if vf.stage != .reserved && vf.stage != .saved {
                // Reserved or saved only: never touched, nothing to undo.
                do throws(SRIOVError) {
                    // A whole device always gets its host driver back (its netdev, its namespaces).
                    patchCached(try await hostScrubAndReturn(vf, action: vf.isWholeDevice ? .rebindHostDriver : onRelease))
                } catch {
                    invalidateInventory()
                    outcomes.append(.quarantined(vf: vf.pciAddress, reason: "release of lease \(id) failed: \(error.message)", lease: id))
                }
            }
            outcomes.append(.returned(lease: id, vf: vf.pciAddress))
        }
        outcomes.append(.released(lease: id))
        if let audit { outcomes.append(audit) }
        try await record(outcomes)
    }

    /// Rollback of a failed acquire: the same steps as a release, never throwing.
    func rollBack(_ id: LeaseID, reason: String, audit: LeaseEvent? = nil) async {
        do throws(SRIOVError) {
            try await takeBack(id, cause: .rollback, reason: reason, audit: audit)
        } catch {
            logger.critical("rollback could not be journaled; the VFs stay reserved until restart recovery", metadata: ["lease": "\(id)", "error": "\(error.message)"])
        }
    }

    /// Unbind, clear the override, scrub and verify, then leave unbound or rebind the host driver.
    /// Kernel interface: `driver/unbind`, `driver_override`, RTM_SETLINK, `drivers_probe`.
    func scrubAndReturn(_ vf: LeasedVF, action: ReleaseAction) async throws(SRIOVError) {
        do throws(SRIOVError) {
            patchCached(try await hostScrubAndReturn(vf, action: action))
        } catch {
            refreshCached(vf.pciAddress)
            throw error
        }
    }

    /// `scrubAndReturn` off the actor (the VF is still held by its lease, so nothing else touches it);
    /// returns the VF's status afterwards.
    @concurrent
    nonisolated func hostScrubAndReturn(_ vf: LeasedVF, action: ReleaseAction) async throws(SRIOVError) -> DeviceStatus {
        // The blocking host calls run on the host-step threads, not the cooperative pool.
        try await HostStepThreads.run { () async throws(SRIOVError) -> DeviceStatus in
            let address = vf.pciAddress
            try host.control.detach(address)
            if let iface = vf.pfInterface {
                try await scrub(vf, pf: iface)
            }
            if action == .rebindHostDriver {
                // With sriov_drivers_autoprobe 0 (what pools want) the kernel binds a VF only through
                // driver_override; drivers_probe answers success either way, so check the outcome.
                if let driver = vf.previousDriver, driver != "vfio-pci" {
                    try host.control.writeDriverOverride(driver, device: address)
                    try host.control.probe(address)
                    try host.control.writeDriverOverride(nil, device: address)
                } else {
                    try host.control.probe(address)
                }
            }
            let noun = vf.isWholeDevice ? "device" : "VF"
            guard let now = try host.source.device(address) else {
                throw SRIOVError(.notFound, "\(noun) \(address) vanished during release")
            }
            if now.driver == "vfio-pci" || now.driverOverride != nil {
                throw SRIOVError(.kernelRefused, "\(noun) \(address) is still bound to \(now.driver ?? "none") (override \(now.driverOverride ?? "none")) after unbinding")
            }
            if action == .leaveUnbound, let driver = now.driver {
                throw SRIOVError(.kernelRefused, "\(noun) \(address) was rebound to \(driver) after release; set sriov_drivers_autoprobe to 0 on its PF")
            }
            if action == .rebindHostDriver, let wanted = vf.previousDriver, wanted != "vfio-pci", now.driver != wanted {
                throw SRIOVError(.kernelRefused, "\(noun) \(address) did not rebind to its host driver \(wanted) (driver now: \(now.driver ?? "none")); is \(wanted) loaded?")
            }
            if action == .rebindHostDriver, vf.isWholeDevice, vf.previousDriver == nil, now.driver == nil {
                // Unquarantine of a whole device whose host driver is not known: the kernel chose none.
                throw SRIOVError(.kernelRefused, "device \(address) has no driver after drivers_probe; load its host driver (`lspci -nnk -s \(address)` names the candidates) and try again")
            }
            return now
        }
    }

    /// Scrubs a VF's settings to `VFSettings.scrubbed` (only what the driver reports), falling back to
    /// the placeholder MAC when the driver refuses the all-zero MAC; verified by read-back.
    nonisolated func scrub(_ vf: LeasedVF, pf iface: InterfaceName) async throws(SRIOVError) {
        let readout = try await host.link.readVFs(pf: iface)
        guard let current = readout.vf(vf.index) else {
            throw SRIOVError(.notFound, "\(iface) VF \(vf.index) is not in the PF's VF list (\(readout.numVFs) VFs)")
        }
        var target = VFSettings()
        if current.mac != .zero && current.mac != .scrubPlaceholder { target.mac = .zero }
        if current.vlan != .none { target.vlan = VLAN.none }
        if current.minTxRate != 0 || current.maxTxRate != 0 { target.minTxRate = 0; target.maxTxRate = 0 }
        if current.spoofCheck == false { target.spoofCheck = true }
        if current.trust == true { target.trust = false }
        if let ls = current.linkState, ls != .auto { target.linkState = .auto }
        if current.queryRSS == true { target.queryRSS = false }
        if target.isEmpty { return }
        let configurator = VFConfigurator(link: host.link)
        let label = VFConfigurator.Target(interface: iface, label: "\(vf.pf) (\(iface))", driver: nil)
        do throws(SRIOVError) {
            try await configurator.apply(target, vf: vf.index, on: label, before: readout)
        } catch where error.errno == Errno.EINVAL && target.mac == .zero {
            // Some drivers refuse 00:00:00:00:00:00; the documented placeholder is 02:00:00:00:00:00.
            target.mac = .scrubPlaceholder
            try await configurator.apply(target, vf: vf.index, on: label)
        }
    }

    /// Takes a VF out of quarantine after scrubbing it successfully; refuses a VF a lease still holds.
    public func unquarantine(_ vf: PCIAddress, requestedBy: String? = nil) async throws(SRIOVError) {
        guard let entry = book.quarantine[vf.description] else {
            throw SRIOVError(.notFound, "\(vf) is not quarantined (`sriovctl pool list` shows quarantined counts)")
        }
        if let holder = book.holder(of: vf) {
            throw SRIOVError(.busy, "\(vf) is still held by lease \(holder); release the lease first")
        }
        let inventory = try host.source.inventory()
        if let pf = inventory.pfs.first(where: { $0.vfs.contains { $0.pciAddress == vf } }),
           let v = pf.vfs.first(where: { $0.pciAddress == vf }) {
            let leased = LeasedVF(pciAddress: vf, pf: pf.pciAddress, pfInterface: pf.interfaces.first, index: v.index,
                                  iommuGroup: v.iommuGroup, numaNode: pf.numaNode?.value, vfioDevice: nil, settings: VFSettings(),
                                  saved: nil, previousDriver: v.driver, stage: .active)
            let action = plan.pool(of: vf).flatMap { plan.config(of: $0)?.onRelease } ?? .leaveUnbound
            try await returnQuarantined(leased, action: action)
        } else {
            try await unquarantineWholeDevice(vf, inventory: inventory, reason: entry.reason)
        }
        try await record([.unquarantined(vf: vf), auditEvent(requestedBy, "vf.unquarantine", vf.description, "ok (was: \(entry.reason))")])
    }

    /// A whole device (a PF leased whole, a NIC without SR-IOV, or another function of the same PCI
    /// device) out of quarantine: like a whole device's release, it goes back to its host driver. One
    /// already on a host driver with no override is left as it is (its netdev is not bounced); one on
    /// vfio-pci, overridden or unbound is detached and probed, and the kernel picks its driver.
    func unquarantineWholeDevice(_ address: PCIAddress, inventory: HostInventory, reason: String) async throws(SRIOVError) {
        guard let status = try host.source.device(address) else {
            throw SRIOVError(.notFound, "\(address) is neither a VF nor a device on this host now; it stays quarantined (\(reason))")
        }
        let candidate = inventory.wholeDeviceCandidates[address]
        if let pf = candidate, pf.numVFs > 0 || !pf.vfs.isEmpty {
            // Its VFs exist, so its PF driver is bound and in use: nothing to return.
            guard status.driver != nil, status.driver != "vfio-pci", status.driverOverride == nil else {
                throw SRIOVError(.kernelRefused, "PF \(address) has VFs but is bound to \(status.driver ?? "no driver") (override \(status.driverOverride ?? "none")); it stays quarantined (\(reason))")
            }
            return
        }
        if let driver = status.driver, driver != "vfio-pci", status.driverOverride == nil { return }
        let group = candidate?.iommuGroup ?? status.iommuGroup?.id
        let leased = LeasedVF(pciAddress: address, pf: address, pfInterface: nil, index: 0, iommuGroup: group,
                              numaNode: candidate?.numaNode?.value, vfioDevice: nil, settings: VFSettings(), saved: nil,
                              previousDriver: nil, stage: .active)
        try await returnQuarantined(leased, action: .rebindHostDriver)
    }

    /// Scrub-and-return for unquarantine, its failure worded as "stays quarantined".
    func returnQuarantined(_ leased: LeasedVF, action: ReleaseAction) async throws(SRIOVError) {
        do throws(SRIOVError) {
            try await scrubAndReturn(leased, action: action)
        } catch {
            throw SRIOVError(error.code, "\(leased.isWholeDevice ? "device" : "VF") \(leased.pciAddress) stays quarantined: the scrub failed: \(error.message)", cause: error.cause)
        }
    }
}
