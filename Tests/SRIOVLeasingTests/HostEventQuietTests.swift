import Testing
import Synchronization
import SRIOVConfig
import SRIOVCore
import SRIOVFakeHost
import SRIOVLeasing
import SRIOVTestSupport

/// What keeps the host watch out of the lease steps' way (issue 17): a batch waits for the steps
/// running when it comes (at most half a second), and a PF's RTM_NEWLINK that announces the link it
/// announced before (what every VF setting through the PF sends) costs no read of the PF's link.
@Suite struct HostEventQuietTests {
    /// A link whose next `readVFs` parks until opened: a lease step held in the middle.
    final class GatedLink: VFLinkControl, Sendable {
        let inner: FakeHost
        let armed = Mutex(false)
        let parked = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let waiting = Atomic<Bool>(false)

        init(_ inner: FakeHost) { self.inner = inner }

        func arm() { armed.withLock { $0 = true } }

        func open() {
            let continuation = parked.withLock { c -> CheckedContinuation<Void, Never>? in
                let taken = c
                c = nil
                return taken
            }
            continuation?.resume()
        }

        func readVFs(pf: InterfaceName) async throws(SRIOVError) -> VFReadout {
            if armed.withLock({ a -> Bool in defer { a = false }; return a }) {
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    parked.withLock { $0 = c }
                    waiting.store(true, ordering: .sequentiallyConsistent)
                }
            }
            return try await inner.readVFs(pf: pf)
        }

        func apply(_ request: VFSettingRequest, vf: Int, pf: InterfaceName) async throws(SRIOVError) {
            try await inner.apply(request, vf: vf, pf: pf)
        }

        func apply(_ requests: [VFSettingRequest], vf: Int, pf: InterfaceName) async -> (index: Int, error: SRIOVError)? {
            await inner.apply(requests, vf: vf, pf: pf)
        }

        /// Returns once a `readVFs` is parked.
        func untilParked() async throws {
            for _ in 0..<2_000 where !waiting.load(ordering: .sequentiallyConsistent) {
                try await Task.sleep(for: .milliseconds(1))
            }
            let reached = waiting.load(ordering: .sequentiallyConsistent)
            #expect(reached, "the lease step never reached the gate")
        }
    }

    func gatedEngine(_ f: LeaseFixture) async throws -> (LeaseEngine, GatedLink) {
        let gate = GatedLink(f.fake)
        let engine = try await LeaseEngine.start(stateDirectory: f.stateDirectory, config: f.config,
                                                 host: LeaseEngine.Host(source: f.fake, control: f.fake, link: gate),
                                                 clock: f.clock, fsync: false)
        return (engine, gate)
    }

    /// A batch that comes while an acquire is in its host steps is handled once the acquire is done,
    /// and sees the VF as the acquire left it (bound, its lease active: no drift).
    @Test(.timeLimit(.minutes(1))) func aBatchWaitsForTheLeaseStepsRunningWhenItComes() async throws {
        let f = try LeaseFixture()
        let (engine, gate) = try await gatedEngine(f)
        let other = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-0"))
        _ = f.fake.takeAnnounced()
        gate.arm()
        let acquiring = Task { try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-1")) }
        try await gate.untilParked()
        // Someone else unbinds the first lease's VF meanwhile.
        try f.fake.unbind(other.vfs[0].pciAddress)
        let batch = HostEventBatch(f.fake.takeAnnounced())
        #expect(!batch.devices.isEmpty)
        let done = Atomic<Bool>(false)
        let observing = Task {
            let report = await engine.observe(batch)
            done.store(true, ordering: .sequentiallyConsistent)
            return report
        }
        try await Task.sleep(for: .milliseconds(100))
        let handledEarly = done.load(ordering: .sequentiallyConsistent)
        #expect(!handledEarly, "the batch did not wait for the acquire in progress")
        gate.open()
        let lease = try await acquiring.value
        let report = await observing.value
        #expect(lease.state == .active)
        // Handled after the acquire: the other lease's unbound VF is drift (restore cannot rebind a driver).
        #expect(report.drift.map(\.vf) == [other.vfs[0].pciAddress])
        #expect(report.patchedDevices >= 1)
        await engine.close()
    }

    /// A lease step that does not end does not hold the host watch: the batch goes on after half a second.
    @Test(.timeLimit(.minutes(1))) func aStuckLeaseStepHoldsABatchOnlyHalfASecond() async throws {
        let f = try LeaseFixture()
        let (engine, gate) = try await gatedEngine(f)
        gate.arm()
        let acquiring = Task { try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-1")) }
        try await gate.untilParked()
        let pf = try #require(try f.fake.inventory().pfs.first { !$0.vfs.isEmpty && !$0.interfaces.isEmpty }?.interfaces.first)
        f.fake.setLink(pf, up: false)
        let started = ContinuousClock.now
        let report = await engine.observe(HostEventBatch(f.fake.takeAnnounced()))
        let waited = ContinuousClock.now - started
        #expect(report.pfLinks.map(\.interface) == [pf])
        // It waited its half second, and went on while the step is still stuck (the gate is shut). No
        // upper bound on the wall time: in the whole suite the pool's two threads run other tests'
        // synchronous work (simulated hosts built and removed) for minutes, and the timer waits its turn.
        #expect(waited >= .milliseconds(450))
        #expect(gate.waiting.load(ordering: .sequentiallyConsistent) && gate.parked.withLock { $0 != nil },
                "the batch went on only once the stuck step ended")
        gate.open()
        _ = try await acquiring.value
        await engine.close()
    }

    /// A PF's link is read on its first event and when an event announces another carrier or
    /// operstate, not for each RTM_NEWLINK that says what the last one said.
    @Test func aPFEventRepeatingTheLinkDoesNotReadTheLink() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-1"))
        let pf = try #require(lease.vfs.first?.pfInterface)
        let same = HostEvent.link(LinkEvent(kind: .changed, interface: pf, ifindex: 7, operState: .up, carrier: true, vfInfo: true))
        _ = f.fake.takeAnnounced()
        _ = await engine.observe(HostEventBatch([same]))
        let reads = f.fake.linkReads(pf)
        for _ in 0..<3 { _ = await engine.observe(HostEventBatch([same])) }
        #expect(f.fake.linkReads(pf) == reads, "the same link announced again was read again")
        f.fake.setLink(pf, up: false)
        let report = await engine.observe(HostEventBatch(f.fake.takeAnnounced()))
        #expect(f.fake.linkReads(pf) == reads + 1)
        #expect(report.pfLinks.first?.carrier == false)
        await engine.close()
    }

    /// A lease, and a batch naming its PF that is parked at the gate where it reads the PF's VF
    /// settings to judge the lease.
    struct ParkedBatch {
        let engine: LeaseEngine
        let gate: GatedLink
        let lease: Lease
        let held: LeasedVF
        let pf: InterfaceName
        let observing: Task<LeaseEngine.ObserveReport, Never>
    }

    func batchParkedOnALease(_ f: LeaseFixture) async throws -> ParkedBatch {
        let (engine, gate) = try await gatedEngine(f)
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-1"))
        let held = try #require(lease.vfs.first)
        let pf = try #require(held.pfInterface)
        _ = f.fake.takeAnnounced()
        gate.arm()
        let event = HostEvent.link(LinkEvent(kind: .changed, interface: pf, ifindex: 7, operState: .up, carrier: true, vfInfo: true))
        let observing = Task { await engine.observe(HostEventBatch([event])) }
        try await gate.untilParked()
        return ParkedBatch(engine: engine, gate: gate, lease: lease, held: held, pf: pf, observing: observing)
    }

    /// A lease released while a batch reads its PF's VF settings is not judged by that read: the
    /// scrubbed VF is not drift, and nothing puts the old lease's settings back on it (the watcher
    /// once "restored" a released lease's MAC onto a VF that was free again, under load).
    @Test(.timeLimit(.minutes(1))) func aLeaseReleasedDuringABatchsReadIsNotDrift() async throws {
        let f = try LeaseFixture()
        let b = try await batchParkedOnALease(f)
        _ = try await b.engine.release(b.lease.id)
        let scrubbed = try await f.fake.readVFs(pf: b.pf).vf(b.held.index)
        #expect(scrubbed?.mac != b.held.settings.mac, "the release did not scrub the VF")
        b.gate.open()
        let report = await b.observing.value
        #expect(report.drift.isEmpty, "a released lease was judged for drift: \(report.drift)")
        #expect(report.restoreFailures.isEmpty)
        let after = try await f.fake.readVFs(pf: b.pf).vf(b.held.index)
        #expect(after == scrubbed, "the watcher changed a VF it no longer had a lease on")
        #expect(await b.engine.leases().isEmpty)
        await b.engine.close()
    }

    /// The same race, the other way round: the lease is released and its VF leased again to someone
    /// else while the batch reads; the new lease is not judged by the old one's settings.
    @Test(.timeLimit(.minutes(1))) func aVFLeasedAgainDuringABatchIsNotRestoredToTheOldLease() async throws {
        let f = try LeaseFixture()
        let b = try await batchParkedOnALease(f)
        _ = try await b.engine.release(b.lease.id)
        let second = try await b.engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-2", vfs: [b.held.pciAddress]))
        let settings = try await f.fake.readVFs(pf: b.pf).vf(b.held.index)
        #expect(settings?.mac == second.vfs.first?.settings.mac)
        b.gate.open()
        let report = await b.observing.value
        #expect(report.drift.isEmpty, "a lease was judged on a read older than its own steps: \(report.drift)")
        #expect(try await f.fake.readVFs(pf: b.pf).vf(b.held.index) == settings, "the watcher changed the new lease's VF")
        await b.engine.close()
    }
}
