import Testing
import Foundation
import SRIOVConfig
import SRIOVCore
@testable import SRIOVLeasing
import SRIOVFakeHost
import SRIOVTestSupport
import Synchronization

/// Recovery after a crash in the middle of a lease step (issue 15, defect 3).
@Suite("Recovery")
struct RecoveryTests {
    /// A release interrupted after its `lease.releasing` record (the VF still on vfio-pci): recovery
    /// finishes it, and the VF it has just scrubbed and unbound is free, not quarantined as "bound to
    /// vfio-pci but not leased" from the host read taken before the release finished.
    @Test func interruptedReleaseLeavesItsVFsFree() async throws {
        let f = try LeaseFixture()
        var engine = try await f.engine()
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm"))
        let address = lease.vfs[0].pciAddress
        #expect(try f.vf(address).driver == "vfio-pci")
        // The crash: the intent is durable, no host step of the release ran.
        try await engine.record(.releasing(lease: lease.id, cause: .requested, reason: "released by test"))
        await engine.close()

        engine = try await f.engine(reconcile: false)
        let report = await engine.reconcile()
        #expect(report.finishedReleases == [lease.id])
        #expect(report.drift == [] && report.errors == [])
        #expect(!(await engine.currentBook.isQuarantined(address)))
        #expect(try f.vf(address).driver == nil)
        #expect(try await f.invariants(engine) == [])
        // And it is handed out again.
        let again = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm2", count: 8))
        #expect(again.vfs.contains { $0.pciAddress == address })
        await engine.close()
    }
}

/// A link that runs `during` (once) inside its first read of a PF's VFs: a lease step landing while
/// `check()` reads the host.
final class InterleavingLink: VFLinkControl {
    let inner: any VFLinkControl
    let during = Mutex<(@Sendable () async -> Void)?>(nil)

    init(_ inner: any VFLinkControl) { self.inner = inner }

    func readVFs(pf: InterfaceName) async throws(SRIOVError) -> VFReadout {
        if let step = during.withLock({ value in defer { value = nil }; return value }) { await step() }
        return try await inner.readVFs(pf: pf)
    }

    func apply(_ request: VFSettingRequest, vf: Int, pf: InterfaceName) async throws(SRIOVError) {
        try await inner.apply(request, vf: vf, pf: pf)
    }
}

@Suite("lease check beside lease steps")
struct CheckConcurrencyTests {
    /// Found by Benchmarks/soak.py: `GET /v1/check` beside busy clients reported the VFs of a lease
    /// acquired while it read the host as "on no driver" (the host read was older than the book).
    @Test func aLeaseAcquiredDuringTheHostReadIsNotReportedBroken() async throws {
        let f = try LeaseFixture()
        let link = InterleavingLink(f.fake)
        let engine = try await LeaseEngine.start(stateDirectory: f.stateDirectory, config: f.config,
                                                 host: LeaseEngine.Host(source: f.fake, control: f.fake, link: link),
                                                 clock: f.clock, fsync: false)
        link.during.withLock { $0 = { _ = try? await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm", count: 2)) } }
        let report = try await engine.check()
        #expect(report.leases == 1)
        #expect(report.broken == [])
        // And the next check, with nothing moving, judges it (and finds it whole).
        let again = try await engine.check()
        #expect(again.broken == [])
        #expect(try await f.invariants(engine) == [])
        await engine.close()
    }
}

@Suite("Automatic snapshots")
struct AutomaticSnapshotTests {
    /// Restarts used to reset the count of appends since the snapshot, so a daemon restarted more
    /// often than a snapshot fell due never compacted its journal (seen in the soak).
    @Test func recordsReplayedAtStartCountTowardsTheNextSnapshot() async throws {
        let f = try LeaseFixture()
        for _ in 0..<3 {
            let engine = try await f.engine()
            await engine.setSnapshotInterval(40)
            for i in 0..<15 { await engine.audit("w", "vf.set", "t", "ok \(i)") }
            await engine.close()
        }
        // 45 appends over three runs: the third run's 10th append made it due.
        #expect(FileManager.default.fileExists(atPath: f.stateDirectory + "/snapshot.json"))
    }

    /// The automatic snapshot runs in a task of its own (the request that made it due is answered
    /// without waiting for it), and `close` waits for it: closed right after the append that made it
    /// due, the engine leaves the snapshot and a journal compacted onto it.
    @Test func closeWaitsForTheAutomaticSnapshot() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        await engine.setSnapshotInterval(5)
        for i in 0..<5 { await engine.audit("w", "vf.set", "t", "ok \(i)") }
        await engine.close()
        #expect(FileManager.default.fileExists(atPath: f.stateDirectory + "/snapshot.json"))
        let journal = try String(contentsOfFile: f.stateDirectory + "/journal.jsonl", encoding: .utf8)
        #expect(journal.split(separator: "\n").first?.contains("\"journal.snapshot\"") == true)
        let reopened = try await f.engine()
        #expect(await reopened.auditLog().filter { $0.action == "vf.set" }.count == 5)
        await reopened.close()
    }
}
