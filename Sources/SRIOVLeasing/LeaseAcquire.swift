import SRIOVConfig
import SRIOVCore

extension LeaseEngine {
    /// Acquires VFs: reserve -> save settings -> configure (read back) -> unbind -> driver_override +
    /// drivers_probe -> verify IOMMU group and /dev/vfio -> active. Each step is journaled before it
    /// runs; a failure rolls back what was done (a VF that cannot be rolled back is quarantined).
    public func acquire(_ request: LeaseRequest, requestedBy: String? = nil) async throws(SRIOVError) -> Lease {
        try request.validate()
        // Unknown user or group names are refused before anything is reserved.
        _ = try LeaseEngine.deviceOwner(request)
        if let rid = request.requestID, let existing = book.requestIndex[rid].flatMap({ book.lease($0) }) {
            guard existing.request.sameAs(request) else {
                throw SRIOVError(.invalidArgument, "request id \(Quote.shell(rid)) was already used for a different request (lease \(existing.id): pool \(existing.pool), owner \(existing.owner), \(existing.vfs.count) VFs); use a new request id")
            }
            return try await settled(existing.id)
        }
        let request = try resolvingConsumer(request)
        let whole = plan.config(of: request.pool)?.wholeDevices ?? false
        if whole && !request.settings.isEmpty {
            throw SRIOVError(.invalidArgument, "pool \(request.pool) holds whole devices, and VF settings (--mac, --vlan, --trust, ...) do not apply to them; leave them out")
        }
        // Whole devices are few and their PFs' drivers are not kept in the cached view: read the host.
        var inventory = try allocationInventory(fresh: whole)
        var groups = allocationGroups(inventory)
        var chosen = try chooseVFs(request, inventory: inventory, groups: groups)
        if !(try chosenStillFree(chosen)) {
            // The cached view was stale (someone else changed the host): decide again on a fresh one.
            inventory = try allocationInventory(fresh: true)
            groups = allocationGroups(inventory)
            chosen = try chooseVFs(request, inventory: inventory, groups: groups)
        }
        guard let pool = plan.config(of: request.pool) else {
            throw SRIOVError(.notFound, "no pool named \(Quote.shell(request.pool))")
        }
        let id = LeaseID.random()
        let now = clock.now()
        var vfs: [LeasedVF] = []
        for (n, (vf, pf)) in chosen.enumerated() {
            var settings = LeaseEngine.merge(pool.defaults, request.settings)
            if pf.interfaces.isEmpty {
                // No netdev (an NVMe PF): nothing to set from the PF.
                settings = VFSettings()
            } else if settings.mac == nil {
                settings.mac = LeaseEngine.generatedMAC(lease: id, index: n, prefix: pool.policy.macPrefixes.first)
            }
            vfs.append(LeasedVF(pciAddress: vf.pciAddress, pf: pf.pciAddress, pfInterface: pf.interfaces.first, index: vf.index,
                                iommuGroup: vf.iommuGroup, numaNode: pf.numaNode?.value, vfioDevice: nil, settings: settings,
                                saved: nil, previousDriver: vf.driver, stage: .reserved))
        }
        if !request.settings.isEmpty, let bare = chosen.first(where: { $0.1.interfaces.isEmpty }) {
            throw SRIOVError(.invalidArgument, "pool \(request.pool)'s VF \(bare.0.pciAddress) has no network PF (\(bare.1.label)): VF settings (--mac, --vlan, ...) do not apply to it")
        }
        let lease = Lease(id: id, owner: request.owner, pool: request.pool, request: request, vfs: vfs, state: .acquiring,
                          createdAt: now, expiresAt: request.ttlSeconds.map { now + Double($0) }, requestedBy: requestedBy,
                          problems: [])
        // Reserved in memory before the first await; durable before the host is touched.
        book.apply(.reserved(lease))
        busy.insert(id)
        defer { busy.remove(id) }
        // The VFs' current settings, one read per PF (a read changes nothing, so it may precede the journal).
        var readouts: [InterfaceName: VFReadout] = [:]
        do throws(SRIOVError) {
            for vf in vfs {
                if let iface = vf.pfInterface, readouts[iface] == nil { readouts[iface] = try await host.link.readVFs(pf: iface) }
            }
        } catch {
            book.apply(.released(lease: id))
            throw error
        }
        // One batch announces every host step of the acquire: reserve, the saved settings, and per VF
        // configure and bind, written to the journal file before the first step (`recordWritten`:
        // a killed sriovd leaves it behind); recovery finds the lease acquiring and looks at the host.
        // The one durable wait of the acquire is `activated`, before the caller hears of the lease.
        var intents: [LeaseEvent] = []
        for vf in vfs {
            let state = vf.pfInterface.flatMap { readouts[$0]?.vf(vf.index) } ?? VFState(index: vf.index)
            intents.append(.saved(lease: id, vf: vf.pciAddress, state: state, driver: vf.previousDriver))
            if vf.pfInterface != nil, !vf.settings.isEmpty { intents.append(.configuring(lease: id, vf: vf.pciAddress)) }
            intents.append(.binding(lease: id, vf: vf.pciAddress))
        }
        do throws(SRIOVError) {
            // `reserved` is applied again in journal order: the same lease, unchanged while it was busy.
            try await recordWritten([LeaseEvent.reserved(lease)] + intents)
        } catch {
            book.apply(.released(lease: id))
            throw error
        }
        do throws(SRIOVError) {
            try await bringUp(id, readouts: readouts, requestedBy: requestedBy)
        } catch {
            logger.warning("acquire failed; rolling back", metadata: ["lease": "\(id)", "error": "\(error.message)"])
            await rollBack(id, reason: "acquire failed: \(error.message)",
                           audit: auditEvent(requestedBy, "lease.acquire", "pool \(request.pool) owner \(request.owner)", "failed: \(error.message)"))
            throw error
        }
        return try self.lease(id)
    }

    /// The host steps of a reserved lease whose intents are journaled: configure (read back), unbind,
    /// vfio-pci, verify; then `activated` and the audit record, durable before the caller hears of it
    /// (and with them the intents before them in the file).
    func bringUp(_ id: LeaseID, readouts: [InterfaceName: VFReadout], requestedBy: String?) async throws(SRIOVError) {
        let lease = try lease(id)
        let result: (devices: [PCIAddress: String], statuses: [DeviceStatus])
        do throws(SRIOVError) {
            result = try await hostBringUp(lease, readouts: readouts, held: book.heldVFs)
        } catch {
            invalidateInventory()
            throw error
        }
        for status in result.statuses { patchCached(status) }
        try await grantDeviceNodes(id)
        try await record([.activated(lease: id, vfioDevices: result.devices),
                          auditEvent(requestedBy, "lease.acquire", "\(id) pool \(lease.pool) owner \(lease.owner)", "ok")])
    }

    /// The host side of bring-up, off the actor: the VFs are reserved to this lease, so no other
    /// request touches them, and other leases' host steps run meanwhile.
    @concurrent
    nonisolated func hostBringUp(_ lease: Lease, readouts: [InterfaceName: VFReadout], held: [PCIAddress: LeaseID])
        async throws(SRIOVError) -> (devices: [PCIAddress: String], statuses: [DeviceStatus]) {
        // The blocking host calls run on the host-step threads, not the cooperative pool.
        try await HostStepThreads.run { () async throws(SRIOVError) -> (devices: [PCIAddress: String], statuses: [DeviceStatus]) in
            for vf in lease.vfs {
                if let iface = vf.pfInterface, !vf.settings.isEmpty {
                    let target = VFConfigurator.Target(interface: iface, label: "\(vf.pf) (\(iface))", driver: nil)
                    try await VFConfigurator(link: host.link).apply(vf.settings, vf: vf.index, on: target, before: readouts[iface])
                }
                try hostBind(vf.pciAddress)
            }
            return try hostVerify(lease, held: held)
        }
    }

    /// Kernel interface: `driver/unbind`, `driver_override`, `drivers_probe`.
    /// The cached inventory learns the outcome from `verifyBound`, or here when a step fails.
    func bindToVFIO(_ vf: PCIAddress) throws(SRIOVError) {
        do throws(SRIOVError) { try hostBind(vf) } catch {
            refreshCached(vf)
            throw error
        }
    }

    /// Kernel interface: `driver/unbind`, `driver_override`, `drivers_probe`.
    nonisolated func hostBind(_ vf: PCIAddress) throws(SRIOVError) {
        try host.control.rebind(vf, override: "vfio-pci")
    }

    /// Re-reads the chosen VFs: each still exists, is not on vfio-pci, and is alone in its group.
    func chosenStillFree(_ chosen: [(VirtualFunction, PhysicalFunction)]) throws(SRIOVError) -> Bool {
        let addresses = Set(chosen.map(\.0.pciAddress))
        for (vf, _) in chosen {
            // A whole device's group may also hold the other functions chosen with it, and devices
            // parked on vfio-pci / pci-stub (the allocator checked who holds those).
            let tolerated: (IOMMUGroupMember) -> Bool = vf.pf == vf.pciAddress
                ? { addresses.contains($0.pciAddress) || $0.driver == "vfio-pci" || $0.driver == "pci-stub" }
                : { _ in false }
            guard let now = try host.source.device(vf.pciAddress), now.driver != "vfio-pci",
                  let group = now.iommuGroup, group.id == vf.iommuGroup,
                  group.members.allSatisfy({ $0.pciAddress == vf.pciAddress || $0.isBridge || tolerated($0) }) else { return false }
        }
        return true
    }

    /// Every VF on vfio-pci, its IOMMU group viable (no member used by the host, none leased to
    /// another owner), and `/dev/vfio/<group>` present. Returns the device node per VF.
    func verifyBound(_ lease: Lease) throws(SRIOVError) -> [PCIAddress: String] {
        do throws(SRIOVError) {
            let (devices, statuses) = try hostVerify(lease, held: book.heldVFs)
            for status in statuses { patchCached(status) }
            return devices
        } catch {
            invalidateInventory()
            throw error
        }
    }

    /// `verifyBound` without the engine's state: `held` is the book's VF -> lease map.
    nonisolated func hostVerify(_ lease: Lease, held: [PCIAddress: LeaseID]) throws(SRIOVError) -> (devices: [PCIAddress: String], statuses: [DeviceStatus]) {
        var devices: [PCIAddress: String] = [:]
        var statuses: [DeviceStatus] = []
        for leased in lease.vfs {
            guard let vf = try host.source.device(leased.pciAddress) else {
                throw SRIOVError(.notFound, "lease \(lease.id): VF \(leased.pciAddress) disappeared while binding it")
            }
            statuses.append(vf)
            guard vf.driver == "vfio-pci" else {
                throw SRIOVError(.kernelRefused, "lease \(lease.id): VF \(vf.pciAddress) is bound to \(vf.driver ?? "no driver"), not vfio-pci, after driver_override + drivers_probe; is vfio-pci loaded? (`modprobe vfio-pci`)")
            }
            guard let group = vf.iommuGroup else {
                throw SRIOVError(.kernelRefused, "lease \(lease.id): VF \(vf.pciAddress) has no IOMMU group; the IOMMU must be on (`sriovctl doctor`)")
            }
            for member in group.members where member.pciAddress != vf.pciAddress && !member.isBridge {
                if let other = held[member.pciAddress], other != lease.id {
                    throw SRIOVError(.busy, "lease \(lease.id): IOMMU group \(group.id) of \(vf.pciAddress) also holds \(member.pciAddress), leased to \(other): a group cannot be split between owners")
                }
                if member.driver != nil && member.driver != "vfio-pci" && member.driver != "pci-stub" {
                    throw SRIOVError(.busy, "lease \(lease.id): IOMMU group \(group.id) of \(vf.pciAddress) also holds \(member.pciAddress), used by the host (driver \(member.driver ?? "")): the group is not viable for passthrough")
                }
            }
            let node = host.source.vfioGroupNode(group.id)
            guard node.exists else {
                throw SRIOVError(.kernelRefused, "lease \(lease.id): \(node.path) does not exist after binding \(vf.pciAddress) to vfio-pci")
            }
            devices[vf.pciAddress] = "/dev/vfio/\(group.id)"
        }
        return (devices, statuses)
    }

    /// Waits (on a continuation the book's next change of this lease resumes) for a lease another
    /// caller is acquiring with the same request id; up to 60 s on the engine's clock.
    func settled(_ id: LeaseID) async throws(SRIOVError) -> Lease {
        while true {
            guard let lease = book.lease(id) else {
                throw SRIOVError(.kernelRefused, "the earlier request with this request id failed and was rolled back (lease \(id)); retry with a new request id")
            }
            if lease.state == .active { return lease }
            if lease.state == .releasing {
                throw SRIOVError(.busy, "lease \(id) for this request id is being released; retry with a new request id")
            }
            guard await awaitChange(of: id, timeout: .seconds(60)) else {
                throw SRIOVError(.timeout, "lease \(id) for this request id is still being acquired after 60 s")
            }
        }
    }

    /// Pool defaults overlaid with the request's settings.
    static func merge(_ defaults: VFSettings, _ request: VFSettings) -> VFSettings {
        VFSettings(mac: request.mac ?? defaults.mac, vlan: request.vlan ?? defaults.vlan,
                   spoofCheck: request.spoofCheck ?? defaults.spoofCheck, trust: request.trust ?? defaults.trust,
                   linkState: request.linkState ?? defaults.linkState, minTxRate: request.minTxRate ?? defaults.minTxRate,
                   maxTxRate: request.maxTxRate ?? defaults.maxTxRate, queryRSS: request.queryRSS ?? defaults.queryRSS)
    }

    /// A stable, locally administered unicast MAC for VF `index` of a lease (FNV-1a of the lease id),
    /// under the pool's first MAC prefix when it has one.
    static func generatedMAC(lease: LeaseID, index: Int, prefix: String?) -> MACAddress? {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in (lease.value + "#\(index)").utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0100_0000_01b3
        }
        var octets = (0..<6).map { UInt8(truncatingIfNeeded: hash >> (8 * UInt64($0))) }
        octets[0] = (octets[0] & 0xfc) | 0x02
        if let prefix, let p = try? MACAddress(parsing: prefix + String(repeating: ":00", count: max(0, 6 - prefix.split(separator: ":").count))) {
            let n = prefix.split(separator: ":").count
            for i in 0..<min(n, 6) { octets[i] = p.octets[i] }
        }
        guard let mac = try? MACAddress(octets: octets), !mac.isMulticast else { return nil }
        return mac
    }
}

