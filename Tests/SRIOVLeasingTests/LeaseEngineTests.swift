import Testing
import SRIOVConfig
import SRIOVCore
import SRIOVLeasing
import SRIOVFakeHost
import SRIOVTestSupport

@Suite("Lease engine on the fake host")
struct LeaseEngineTests {
    func expectError(_ code: SRIOVError.Code, _ text: String, _ body: () async throws -> Void) async {
        await #expect {
            try await body()
        } throws: { error in
            let e = error as? SRIOVError
            return e?.code == code && e?.message.contains(text) == true
        }
    }

    @Test func acquireBindsConfiguresAndDescribes() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vnf-7", count: 2, placement: .spread,
                                                          settings: VFSettings(vlan: try VLAN(id: 100))))
        #expect(lease.state == .active && lease.vfs.count == 2)
        #expect(Set(lease.vfs.map(\.pf)).count == 2, "spread puts each VF on its own PF")
        #expect(Set(lease.vfs.compactMap(\.numaNode)) == [0, 1])
        for vf in lease.vfs {
            let now = try f.vf(vf.pciAddress)
            #expect(now.driver == "vfio-pci" && now.driverOverride == "vfio-pci")
            #expect(vf.vfioDevice == "/dev/vfio/\(try #require(now.iommuGroup))")
            #expect(f.fake.vfioNodeExists(try #require(now.iommuGroup)))
            let state = try await f.state(vf)
            #expect(state.vlan.id == 100 && state.mac == vf.settings.mac && state.mac.isLocallyAdministered)
        }
        let libvirt = AttachSpec.render(lease, format: .libvirt)
        #expect(libvirt.contains("<hostdev mode='subsystem' type='pci' managed='no'>"))
        let first = lease.vfs[0].pciAddress
        #expect(AttachSpec.render(lease, format: .qemu).hasPrefix("-device vfio-pci,host=\(first),id=sriov0"))
        #expect(AttachSpec.render(lease, format: .proxmox).hasPrefix("hostpci0: \(first),pcie=1"))
        #expect(AttachSpec.render(lease, format: .cloudHypervisor).hasPrefix("--device path=/sys/bus/pci/devices/\(first)/"))
        #expect(AttachSpec.render(lease, format: .dpdk) == "--allow \(first) --allow \(lease.vfs[1].pciAddress)", "one line of EAL arguments for the lease")
        let iface = AttachSpec.render(lease, format: .libvirtInterface)
        #expect(iface.contains("<mac address='\(try #require(lease.vfs[0].settings.mac))'/>") && iface.contains("<tag id='100'/>"))
        #expect(try await f.invariants(engine).isEmpty)
    }

    @Test func releaseScrubsAndReturns() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        let lease = try await engine.acquire(LeaseRequest(pool: "open", owner: "vm1", settings: VFSettings(
            mac: try MACAddress(parsing: "52:54:00:00:00:09"), vlan: try VLAN(id: 30, qos: 2), spoofCheck: false, trust: true, maxTxRate: 500)))
        let vf = lease.vfs[0]
        #expect(try await f.state(vf).trust == true)
        _ = try await engine.release(lease.id)
        let state = try await f.state(vf)
        #expect(state.mac == .zero && state.vlan == .none && state.trust == false && state.spoofCheck == true && state.maxTxRate == 0)
        // Pool "open" rebinds the host driver on release.
        let now = try f.vf(vf.pciAddress)
        #expect(now.driver == "iavf" && now.driverOverride == nil)
        #expect(await engine.leases().isEmpty)
        #expect(try await f.invariants(engine).isEmpty)
    }

    @Test func rebindHostDriverWorksWithAutoprobeOff() async throws {
        let f = try LeaseFixture()
        // Pools want autoprobe off; the host driver then binds only through driver_override.
        try f.fake.writeDriversAutoprobe(false, pf: PCIAddress("0000:3b:00.1")!)
        let engine = try await f.engine()
        let lease = try await engine.acquire(LeaseRequest(pool: "open", owner: "vm"))
        #expect(lease.vfs[0].previousDriver == "iavf")
        _ = try await engine.release(lease.id)
        let now = try f.vf(lease.vfs[0].pciAddress)
        #expect(now.driver == "iavf" && now.driverOverride == nil)
        #expect(!(await engine.currentBook.isQuarantined(lease.vfs[0].pciAddress)))
        #expect(try await f.invariants(engine).isEmpty)
    }

    @Test func policyRefusals() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        await expectError(.notFound, "no pool named 'nope'; configured pools: open, uplink") {
            _ = try await engine.acquire(LeaseRequest(pool: "nope", owner: "vm"))
        }
        await expectError(.permissionDenied, "does not allow VLAN 4000: allowed VLANs are 100, 200-299") {
            _ = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm", settings: VFSettings(vlan: try VLAN(id: 4000))))
        }
        await expectError(.permissionDenied, "does not allow trusted VFs") {
            _ = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm", settings: VFSettings(trust: true)))
        }
        await expectError(.permissionDenied, "does not allow spoof checking off") {
            _ = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm", settings: VFSettings(spoofCheck: false)))
        }
        await expectError(.permissionDenied, "outside pool open's prefixes") {
            _ = try await engine.acquire(LeaseRequest(pool: "open", owner: "vm", settings: VFSettings(mac: try MACAddress(parsing: "02:00:00:00:00:01"))))
        }
        for _ in 0..<3 { _ = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "greedy")) }
        await expectError(.busy, "already holds 3 leases from pool uplink") {
            _ = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "greedy"))
        }
        #expect(await engine.leases().count == 3)
    }

    @Test func allOrNothing() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        let before = try f.fake.inventory()
        await expectError(.busy, "cannot satisfy 9 VFs") {
            _ = try await engine.acquire(LeaseRequest(pool: "open", owner: "vm", count: 9))
        }
        await expectError(.busy, "spread needs 3 distinct PFs with a free VF, 2 have one") {
            _ = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm", count: 3, placement: .spread))
        }
        #expect(await engine.leases().isEmpty)
        #expect(try f.fake.inventory() == before)
    }

    @Test func numaAndPack() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        let numa1 = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "a", count: 2, numaNode: 1))
        #expect(numa1.vfs.allSatisfy { $0.numaNode == 1 })
        let packed = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "b", count: 3, placement: .pack))
        #expect(Set(packed.vfs.map(\.pf)).count == 1)
        await expectError(.busy, "on NUMA node 1") {
            _ = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "c", count: 3, numaNode: 1))
        }
    }

    @Test func idempotentRequestIDs() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        let request = LeaseRequest(pool: "uplink", owner: "vm", requestID: "req-1")
        let a = try await engine.acquire(request)
        let b = try await engine.acquire(request)
        let count = await engine.leases().count
        #expect(a.id == b.id && count == 1)
        await expectError(.invalidArgument, "request id 'req-1' was already used for a different request") {
            _ = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "other", requestID: "req-1"))
        }
        // Survives a restart.
        await engine.close()
        let again = try await f.engine()
        #expect(try await again.acquire(request).id == a.id)
    }

    /// The choice is checked on the host off the engine's actor, so concurrent requests interleave
    /// there: retries of one request id still make one lease, and an owner's quota still holds.
    @Test func concurrentRetriesAndQuotaHold() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        let request = LeaseRequest(pool: "uplink", owner: "vm", requestID: "req-race")
        let ids = try await withThrowingTaskGroup(of: LeaseID.self) { group in
            for _ in 0..<8 { group.addTask { try await engine.acquire(request).id } }
            return try await group.reduce(into: Set<LeaseID>()) { $0.insert($1) }
        }
        #expect(ids.count == 1)
        #expect(await engine.leases().count == 1)
        // max_leases_per_owner: 3 for pool uplink ("vm" holds one): of 6 concurrent acquires, 2 succeed.
        let granted = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<6 { group.addTask { (try? await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm"))) != nil } }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(granted == 2)
        #expect(await engine.leases(owner: "vm").count == 3)
    }

    /// VFs another tool bound to vfio-pci after the engine cached its inventory: the chosen VF is
    /// re-read before anything is done to it, the choice is made again on a fresh discovery, and the
    /// other tool's VFs are left alone.
    @Test func aStaleInventoryIsNoticedBeforeTheHostIsTouched() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        _ = try await engine.release(try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm")).id)
        let inventory = try f.fake.inventory()
        let pool = try inventory.pf(named: "ens1f0").vfs.prefix(4) + inventory.pf(named: "ens4f0np0").vfs.prefix(4)
        let taken = pool.dropLast().map(\.pciAddress)
        for address in taken { try f.fake.rebind(address, override: "vfio-pci") }
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm"))
        #expect(lease.vfs.map(\.pciAddress) == [pool.last!.pciAddress])
        for address in taken { #expect(try f.fake.device(address)?.driver == "vfio-pci") }
    }

    @Test func quarantinedVFsAreNeverHandedOut() async throws {
        let f = try LeaseFixture(yaml: """
            pools:
              - name: one
                selectors: [{vfs: "ens4f0np0#0-1"}]
            """)
        let engine = try await f.engine()
        let lease = try await engine.acquire(LeaseRequest(pool: "one", owner: "vm"))
        // Someone rebinds the VF underneath: reconciliation quarantines it.
        try f.fake.unbind(lease.vfs[0].pciAddress)
        let report = await engine.reconcile()
        #expect(report.drift.count == 1 && report.drift[0].contains("driver changed underneath"))
        _ = try await engine.release(lease.id)
        let quarantined = lease.vfs[0].pciAddress
        #expect(await engine.currentBook.isQuarantined(quarantined))
        let second = try await engine.acquire(LeaseRequest(pool: "one", owner: "vm2"))
        #expect(second.vfs[0].pciAddress != quarantined)
        await expectError(.busy, "cannot satisfy 1 VF") {
            _ = try await engine.acquire(LeaseRequest(pool: "one", owner: "vm3"))
        }
        try await engine.unquarantine(quarantined)
        #expect(try await engine.acquire(LeaseRequest(pool: "one", owner: "vm3")).vfs[0].pciAddress == quarantined)
        #expect(try await f.invariants(engine).isEmpty)
    }

    @Test func expiryReclaims() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm", ttlSeconds: 60))
        f.clock.advance(30)
        _ = try await engine.renew(lease.id)
        f.clock.advance(45)
        #expect(await engine.reapExpired().isEmpty, "renewed at 30 s for 60 s more")
        f.clock.advance(20)
        #expect(await engine.reapExpired() == [lease.id])
        #expect(try f.vf(lease.vfs[0].pciAddress).driver == nil)
        await expectError(.notFound, "no lease \(lease.id)") { _ = try await engine.renew(lease.id) }
    }

    @Test func groupViability() async throws {
        var spec = FakeHost.Spec.standard()
        spec.pfs[3].acsIsolated = false // ConnectX VFs share the PF's group
        let f = try LeaseFixture(spec: spec, yaml: """
            pools:
              - name: noacs
                selectors: [{vfs: "ens4f0np0#0-3"}]
            """)
        let engine = try await f.engine()
        await expectError(.busy, "4 sharing IOMMU group") {
            _ = try await engine.acquire(LeaseRequest(pool: "noacs", owner: "vm"))
        }
    }

    @Test func journalReplaysToTheSameBook() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        let a = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "a", count: 2, placement: .spread))
        _ = try await engine.acquire(LeaseRequest(pool: "open", owner: "b", ttlSeconds: 600))
        _ = try await engine.release(a.id)
        let live = await engine.currentBook
        await engine.close()
        let replayed = try await f.engine(reconcile: false)
        #expect(await replayed.currentBook == live)
        try await replayed.snapshot()
        await replayed.close()
        let fromSnapshot = try await f.engine(reconcile: false)
        #expect(await fromSnapshot.currentBook == live)
    }

    @Test func stateDirectoryHasOneOwner() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        await expectError(.busy, "in use by another process") { _ = try await f.engine() }
        await engine.close()
    }

    @Test func scrubFallsBackToPlaceholderMAC() async throws {
        var spec = FakeHost.Spec.standard()
        spec.profiles[1].rejectsZeroMAC = true // ice refuses 00:00:00:00:00:00
        let f = try LeaseFixture(spec: spec)
        let engine = try await f.engine()
        let lease = try await engine.acquire(LeaseRequest(pool: "open", owner: "vm"))
        _ = try await engine.release(lease.id)
        #expect(try await f.state(lease.vfs[0]).mac == .scrubPlaceholder)
        #expect(!(await engine.currentBook.isQuarantined(lease.vfs[0].pciAddress)))
    }

    /// The kernel refuses the bind onto vfio-pci (injected): the acquire rolls back, the VF is scrubbed
    /// and returned to its pool unquarantined, and the next acquire gets it.
    @Test func aRefusedBindRollsBack() async throws {
        let f = try LeaseFixture(yaml: """
            pools:
              - name: one
                selectors: [{vfs: "ens4f0np0#0"}]
            """)
        let engine = try await f.engine()
        let vf = try #require(try f.fake.inventory().pf(named: "ens4f0np0").vfs.first?.pciAddress)
        f.fake.failNext(.probe(vf), errno: Errno.EIO)
        await expectError(.kernelRefused, "\(vf): cannot probe drivers: errno 5 (EIO)") {
            _ = try await engine.acquire(LeaseRequest(pool: "one", owner: "vm", settings: VFSettings(vlan: try VLAN(id: 7))))
        }
        #expect(await engine.leases().isEmpty)
        #expect(!(await engine.currentBook.isQuarantined(vf)))
        let now = try f.vf(vf)
        #expect(now.driver == nil && now.driverOverride == nil)
        #expect(try await f.fake.readVFs(pf: InterfaceName("ens4f0np0")!).vf(0)?.vlan == VLAN.none, "scrubbed on the way back")
        #expect(try await f.invariants(engine).isEmpty)
        #expect(try await engine.acquire(LeaseRequest(pool: "one", owner: "vm")).vfs[0].pciAddress == vf)
    }

    /// A VF-count change through the engine writes through 0 and is audited; a refused new count puts
    /// the old one back, says so, and the pools still resolve.
    @Test func setNumVFsGoesThroughZeroAndRestoresARefusal() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        let pf = try #require(PCIAddress("0000:af:00.1"))
        f.fake.clearWrites()
        let grown = try await engine.setNumVFs(pf: "ens4f1np1", to: 2, autoprobe: false, force: false, requestedBy: "test")
        #expect(grown.before == 0 && grown.after == 2)
        #expect(f.fake.writes == [.driversAutoprobe(pf, false), .numVFs(pf, 2)])
        f.fake.clearWrites()
        f.fake.failNext(.numVFs(pf, 4), errno: Errno.ENOSPC)
        await expectError(.kernelRefused, "cannot set sriov_numvfs to 4: not enough MSI-X vectors or PCI bus numbers for 4 VFs (ENOSPC): ask for fewer, enable ARI/SR-IOV in the firmware, or boot with pci=realloc; the previous 2 VFs were restored") {
            _ = try await engine.setNumVFs(pf: "ens4f1np1", to: 4, autoprobe: nil, force: false, requestedBy: "test")
        }
        #expect(f.fake.writes == [.numVFs(pf, 0), .numVFs(pf, 4), .numVFs(pf, 2)])
        #expect(try f.fake.inventory().pf(named: "ens4f1np1").numVFs == 2)
        let audit = await engine.auditLog().filter { $0.action == "pf.set-numvfs" }.map(\.result)
        #expect(audit.count == 2 && audit[0] == "ok: 0 -> 2 VFs" && audit[1].hasPrefix("failed: "))
        #expect(try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm")).state == .active)
        #expect(try await f.invariants(engine).isEmpty)
    }
}
