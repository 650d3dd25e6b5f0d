import Testing
import Synchronization
import SRIOVConfig
import SRIOVCore
import SRIOVFakeHost
import SRIOVLeasing
import SRIOVTestSupport

/// The engine following the host (issue 13 items 1 and 2): host events patch the cached view, vanished
/// VFs mark leases lost, returning VFs are quarantined, new VFs join pools, drift is handled per
/// `on_drift`. Changes are made on the fake host behind the engine's back, and the batch is built
/// from exactly what the fake host announced for them.
@Suite struct HostEventTests {
    static func yaml(onDrift: String?) -> String {
        """
        protected_pfs: [eno1]
        pools:
          - name: uplink
            selectors:
              - vfs: "ens1f0#0-3"
            policy:
              vlans: ["100", "200-299"]
        \(onDrift.map { "    on_drift: \($0)" } ?? "")
          - name: spare
            selectors:
              - pf: ens4f1np1
        """
    }

    func setUp(onDrift: String?) async throws -> (LeaseFixture, LeaseEngine, Lease) {
        let f = try LeaseFixture(yaml: Self.yaml(onDrift: onDrift))
        let engine = try await f.engine()
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm", settings: VFSettings(vlan: try VLAN(id: 100))))
        _ = f.fake.takeAnnounced()
        return (f, engine, lease)
    }

    /// What the fake host announced since the last call, as one batch.
    func batch(_ f: LeaseFixture) -> HostEventBatch {
        HostEventBatch(f.fake.takeAnnounced())
    }

    @Test func defaultOnDriftIsRestore() throws {
        let config = try SRIOVConfig.parse(yaml: Self.yaml(onDrift: nil), source: "test.yaml")
        #expect(config.pools.first?.onDrift == .restore)
        #expect(DriftAction.default == .restore)
    }

    @Test func onDriftIsParsedStrictly() throws {
        let config = try SRIOVConfig.parse(yaml: Self.yaml(onDrift: "report"), source: "test.yaml")
        #expect(config.pools.first?.onDrift == .report)
        #expect {
            _ = try SRIOVConfig.parse(yaml: Self.yaml(onDrift: "fix"), source: "test.yaml")
        } throws: { error in
            let message = (error as? SRIOVError)?.message ?? ""
            return message.contains("unknown on_drift 'fix'") || message.contains("unknown on_drift fix")
                ? message.contains("use restore") : false
        }
    }

    @Test func restorePutsTheLeasedVLANBack() async throws {
        let (f, engine, lease) = try await setUp(onDrift: "restore")
        let vf = try #require(lease.vfs.first)
        let pf = try #require(vf.pfInterface)
        try await f.fake.apply(.vlan(try VLAN(id: 7)), vf: vf.index, pf: pf)
        let report = await engine.observe(batch(f))
        let drift = try #require(report.drift.first)
        #expect(report.drift.count == 1)
        #expect(drift.action == .restore)
        #expect(drift.lease == lease.id && drift.vf == vf.pciAddress && drift.index == vf.index && drift.interface == pf.name)
        #expect(drift.changes == [DriftChange(field: "vlan", wanted: "100", actual: "7")])
        #expect(try await f.state(vf).vlan.id == 100)
        let after = try await engine.lease(lease.id)
        #expect(after.condition == nil)
        #expect(after.problems.contains { $0.contains("vlan 100 -> 7 (restore)") })
        #expect(engine.eventFeed.count(.leaseDrift) == 1)
        #expect(engine.eventFeed.drift(.restore) == 1)
        #expect(await engine.auditLog().contains { $0.action == "lease.drift.restore" && $0.result.hasPrefix("restored") })
        // The restore's own RTM_NEWLINK finds nothing more.
        let again = await engine.observe(batch(f))
        #expect(again.drift.isEmpty)
        #expect(try await f.invariants(engine).isEmpty)
    }

    @Test func reportLeavesTheHostAndMarksTheLease() async throws {
        let (f, engine, lease) = try await setUp(onDrift: "report")
        let vf = try #require(lease.vfs.first)
        let pf = try #require(vf.pfInterface)
        try await f.fake.apply(.spoofCheck(false), vf: vf.index, pf: pf)
        try await f.fake.apply(.vlan(try VLAN(id: 7)), vf: vf.index, pf: pf)
        let report = await engine.observe(batch(f))
        let drift = try #require(report.drift.first)
        #expect(drift.action == .report)
        #expect(Set(drift.changes.map(\.field)) == ["vlan"])
        #expect(try await f.state(vf).vlan.id == 7)
        let after = try await engine.lease(lease.id)
        #expect(after.condition == .drifted)
        #expect(after.problems.contains { $0.contains("vlan 100 -> 7 (report)") })
        #expect(await engine.currentBook.isQuarantined(vf.pciAddress) == false)
        // The same drift is reported once, not on every later event.
        f.fake.announce(.link(LinkEvent(kind: .changed, interface: pf, ifindex: 0, vfInfo: true)))
        #expect(await engine.observe(batch(f)).drift.isEmpty)
        #expect(engine.eventFeed.drift(.report) == 1)
    }

    @Test func quarantineKeepsTheVFOutAfterRelease() async throws {
        let (f, engine, lease) = try await setUp(onDrift: "quarantine")
        let vf = try #require(lease.vfs.first)
        try await f.fake.apply(.trust(true), vf: vf.index, pf: try #require(vf.pfInterface))
        // Trust was not promised by the lease (nil = not set): a change to it is not drift of its settings.
        #expect(await engine.observe(batch(f)).drift.isEmpty)
        try await f.fake.apply(.vlan(try VLAN(id: 200)), vf: vf.index, pf: try #require(vf.pfInterface))
        let report = await engine.observe(batch(f))
        #expect(report.drift.map(\.action) == [.quarantine])
        #expect(await engine.currentBook.isQuarantined(vf.pciAddress))
        #expect(try await engine.lease(lease.id).condition == .drifted)
        _ = try await engine.release(lease.id)
        #expect(await engine.currentBook.quarantine[vf.pciAddress.description]?.reason.hasPrefix("drift: vlan 100 -> 200") == true)
    }

    @Test func driverChangeCannotBeRestoredAndIsQuarantined() async throws {
        let (f, engine, lease) = try await setUp(onDrift: "restore")
        let vf = try #require(lease.vfs.first)
        try f.fake.unbind(vf.pciAddress)
        let report = await engine.observe(batch(f))
        #expect(report.patchedDevices == 1)
        #expect(report.rereadPFs.isEmpty)
        let drift = try #require(report.drift.first)
        #expect(drift.action == .quarantine)
        #expect(drift.changes.contains(DriftChange(field: "driver", wanted: "vfio-pci", actual: "none")))
        #expect(await engine.currentBook.isQuarantined(vf.pciAddress))
    }

    @Test func vanishedVFsMarkTheLeaseLostAndReturningOnesAreQuarantined() async throws {
        let (f, engine, lease) = try await setUp(onDrift: nil)
        let vf = try #require(lease.vfs.first)
        try f.fake.writeNumVFs(0, pf: vf.pf)
        let gone = await engine.observe(batch(f))
        #expect(gone.lost == [lease.id])
        #expect(gone.rereadPFs == [vf.pf])
        #expect(gone.drift.isEmpty)
        #expect(try await engine.lease(lease.id).condition == .lost)
        #expect(engine.eventFeed.count(.leaseLost) == 1)
        // Marked once.
        #expect(await engine.observe(HostEventBatch([.pci(PCIDeviceEvent(action: .remove, address: vf.pciAddress))])).lost.isEmpty)

        try f.fake.writeNumVFs(8, pf: vf.pf)
        let back = await engine.observe(batch(f))
        #expect(back.returned == [vf.pciAddress])
        let entry = try #require(await engine.currentBook.quarantine[vf.pciAddress.description])
        #expect(entry.lease == lease.id && entry.reason.contains("came back after lease"))
        // Never handed out silently: after the lost lease is released it stays quarantined.
        _ = try await engine.release(lease.id)
        #expect(await engine.currentBook.isQuarantined(vf.pciAddress))
        let uplink = try #require(try await engine.pools().first { $0.name == "uplink" })
        #expect(uplink.quarantined == 1 && uplink.free == 3)
    }

    @Test func newVFsUnderAPooledPFJoinTheirPool() async throws {
        let (f, engine, _) = try await setUp(onDrift: nil)
        let spare = try #require(try f.fake.inventory().pfs.first { $0.interfaces.contains(InterfaceName("ens4f1np1")!) })
        #expect(try await engine.pools().first { $0.name == "spare" }?.total == 0)
        try f.fake.writeNumVFs(4, pf: spare.pciAddress)
        let report = await engine.observe(batch(f))
        #expect(report.joined.count == 4)
        #expect(report.joinedQuarantined.isEmpty)
        let pool = try #require(try await engine.pools().first { $0.name == "spare" })
        #expect(pool.total == 4 && pool.free == 4)
        // Offered straight away.
        let lease = try await engine.acquire(LeaseRequest(pool: "spare", owner: "vm2"))
        #expect(lease.vfs.first?.pf == spare.pciAddress)
    }

    @Test func aDirtyNewVFIsQuarantinedNotFree() async throws {
        let (f, engine, _) = try await setUp(onDrift: nil)
        let spare = try #require(try f.fake.inventory().pfs.first { $0.interfaces.contains(InterfaceName("ens4f1np1")!) })
        try f.fake.writeNumVFs(2, pf: spare.pciAddress)
        let iface = try #require(spare.interfaces.first)
        try await f.fake.apply(.vlan(try VLAN(id: 42)), vf: 1, pf: iface)
        let report = await engine.observe(batch(f))
        #expect(report.joined.count == 1)
        #expect(report.joinedQuarantined.count == 1)
        let pool = try #require(try await engine.pools().first { $0.name == "spare" })
        #expect(pool.free == 1 && pool.quarantined == 1)
    }

    @Test func pfLinkEventsReachTheHook() async throws {
        let (f, engine, _) = try await setUp(onDrift: nil)
        let pf = InterfaceName("ens1f0")!
        f.fake.setLink(pf, up: false)
        let report = await engine.observe(batch(f))
        #expect(report.pfLinks.map(\.interface) == [pf])
        #expect(report.pfLinks.first?.carrier == false && report.pfLinks.first?.operState == .down)
    }

    @Test func aFullPassFindsWhatNoEventSaid() async throws {
        let (f, engine, lease) = try await setUp(onDrift: "report")
        let vf = try #require(lease.vfs.first)
        try await f.fake.apply(.vlan(try VLAN(id: 250)), vf: vf.index, pf: try #require(vf.pfInterface))
        _ = f.fake.takeAnnounced()  // the event is lost
        var full = HostEventBatch()
        full.add(.overflow)
        let report = await engine.observe(full)
        #expect(report.fullPass)
        #expect(report.drift.map(\.action) == [.report])
    }

    @Test func driftRecordsReplayAfterRestart() async throws {
        let (f, engine, lease) = try await setUp(onDrift: "quarantine")
        let vf = try #require(lease.vfs.first)
        try await f.fake.apply(.vlan(try VLAN(id: 200)), vf: vf.index, pf: try #require(vf.pfInterface))
        _ = await engine.observe(batch(f))
        let book = await engine.currentBook
        await engine.close()
        let reopened = try await f.engine(reconcile: false)
        #expect(await reopened.currentBook.leases == book.leases)
        // The quarantine's `since` is the journal entry's time on replay; the rest is the same.
        #expect(await reopened.currentBook.quarantine.mapValues(\.reason) == book.quarantine.mapValues(\.reason))
        #expect(await reopened.currentBook.quarantine.mapValues(\.lease) == book.quarantine.mapValues(\.lease))
        await reopened.close()
    }

    /// A flood of 1,000 uevents while lease cycles run: the watch folds it into a few batches, and the
    /// cycles all complete.
    @Test(.timeLimit(.minutes(1))) func aFloodIsCoalescedAndLeasingGoesOn() async throws {
        let (f, engine, _) = try await setUp(onDrift: nil)
        let (counts, handed) = AsyncStream.makeStream(of: Int.self)
        // Subscribed before the watch runs, so no event of the flood is missed.
        let watch = HostWatch(engine: engine, source: Subscribed(stream: try f.fake.events()),
                              settings: HostWatchSettings(coalescing: .milliseconds(20)), logger: .init(label: "test")) { batch, _ in
            handed.yield(batch.eventCount)
        }
        let watching = Task { await watch.run() }
        let vfs = try f.fake.inventory().allVFs.map(\.pciAddress)
        let flood = Task.detached {
            for i in 0..<1_000 { f.fake.announce(.pci(PCIDeviceEvent(action: .change, address: vfs[i % vfs.count]))) }
        }
        var cycles = 0
        for _ in 0..<20 {
            let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "cycler", settings: VFSettings(vlan: try VLAN(id: 200))))
            _ = try await engine.release(lease.id)
            cycles += 1
        }
        await flood.value
        // Every event of the flood is handed over, in a few batches.
        var seen: [Int] = []
        for await count in counts {
            seen.append(count)
            if seen.reduce(0, +) >= 1_000 { break }
        }
        watching.cancel()
        await watching.value
        #expect(cycles == 20)
        #expect(seen.count < 100, "1,000+ events became \(seen.count) batches")
        #expect(try await f.invariants(engine).isEmpty)
    }
}

/// A source whose stream was opened before the watch runs.
struct Subscribed: HostEventSource {
    let stream: AsyncStream<HostEvent>
    func events() throws(SRIOVError) -> AsyncStream<HostEvent> { stream }
}
