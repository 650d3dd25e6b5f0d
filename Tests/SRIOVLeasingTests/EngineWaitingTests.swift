import Testing
import SRIOVCore
@testable import SRIOVLeasing
import SRIOVFakeHost
import SRIOVTestSupport

/// The engine's waits are continuations resumed by the change they wait for, with timeouts measured on
/// the injected clock (never a sleep loop).
@Suite("Engine waits on the fake host")
struct EngineWaitingTests {
    /// Polls a condition on the test's side (the test, not the engine, waits here).
    func eventually(_ condition: () async -> Bool) async -> Bool {
        for _ in 0..<2000 {
            if await condition() { return true }
            await Task.yield()
        }
        return await condition()
    }

    @Test func aWaitForALeaseTimesOutOnTheInjectedClockOnly() async throws {
        let f = try LeaseFixture()
        let clock = ManualClock()
        let engine = try await LeaseEngine.start(stateDirectory: f.stateDirectory, config: f.config, host: f.host, clock: f.clock,
                                                 monotonic: clock, fsync: false)
        let id = try LeaseID(parsing: "l-00000000000000aa")
        let waiting = Task { await engine.awaitChange(of: id, timeout: .seconds(60)) }
        #expect(await eventually { clock.sleepers == 1 })
        clock.advance(by: .seconds(59))
        #expect(clock.sleepers == 1)
        clock.advance(by: .seconds(1))
        #expect(await waiting.value == false)
        #expect(await engine.waiters.leases.isEmpty)
        #expect(await engine.waiters.timers.isEmpty)
        await engine.close()
    }

    @Test func aWaitForALeaseIsResumedByItsNextRecord() async throws {
        let f = try LeaseFixture()
        let clock = ManualClock()
        let engine = try await LeaseEngine.start(stateDirectory: f.stateDirectory, config: f.config, host: f.host, clock: f.clock,
                                                 monotonic: clock, fsync: false)
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-1"))
        let waiting = Task { await engine.awaitChange(of: lease.id, timeout: .seconds(60)) }
        #expect(await eventually { clock.sleepers == 1 })
        _ = try await engine.release(lease.id)
        // Resumed by `lease.releasing`, with no time passing on the clock; its timer is cancelled.
        #expect(await waiting.value == true)
        #expect(await engine.waiters.leases.isEmpty)
        #expect(await engine.waiters.timers.isEmpty)
        #expect(await eventually { clock.sleepers == 0 })
        await engine.close()
    }

    @Test func aSnapshotWithNothingInFlightDoesNotWait() async throws {
        let f = try LeaseFixture()
        let clock = ManualClock()
        let engine = try await LeaseEngine.start(stateDirectory: f.stateDirectory, config: f.config, host: f.host, clock: f.clock,
                                                 monotonic: clock, fsync: false)
        _ = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-1"))
        try await engine.snapshot()
        #expect(clock.sleepers == 0)
        await engine.close()
    }
}
