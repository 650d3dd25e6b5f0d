import Testing
import SRIOVConfig
import SRIOVCore
@testable import SRIOVLeasing
import SRIOVFakeHost
import SRIOVTestSupport

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
