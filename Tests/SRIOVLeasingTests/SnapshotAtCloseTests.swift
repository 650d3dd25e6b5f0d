import Foundation
import SRIOVAPI
import SRIOVCore
import SRIOVLeasing
import Testing

/// A graceful stop and a `--direct` command leave a snapshot when the next start would replay more
/// records than the snapshot holds: start-up decodes the records after the snapshot one by one.
@Suite("Snapshot at close")
struct SnapshotAtCloseTests {
    func cycles(_ engine: LeaseEngine, _ n: Int) async throws {
        for _ in 0..<n {
            let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-1"))
            _ = try await engine.release(lease.id)
        }
    }

    func journalLines(_ f: LeaseFixture) throws -> Int {
        try String(contentsOfFile: f.stateDirectory + "/journal.jsonl", encoding: .utf8).split(separator: "\n").count
    }

    func hasSnapshot(_ f: LeaseFixture) -> Bool {
        FileManager.default.fileExists(atPath: f.stateDirectory + "/snapshot.json")
    }

    @Test func aLongReplayIsSnapshottedAtCloseAndTheBookComesBackTheSame() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        try await cycles(engine, 10)
        let kept = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-2"))
        let before = await engine.currentBook
        #expect(try journalLines(f) > 64)
        await engine.close(snapshottingLongReplay: true)
        #expect(hasSnapshot(f))
        #expect(try journalLines(f) <= 1, "the journal keeps only what follows the snapshot")

        let again = try await f.engine()
        let after = await again.currentBook
        #expect(after.seq == before.seq)
        #expect(after.leases.keys.sorted() == before.leases.keys.sorted())
        #expect(after.lease(kept.id)?.vfs.map(\.pciAddress) == kept.vfs.map(\.pciAddress))
        #expect(after.audit.count == before.audit.count)
        _ = try await again.release(kept.id)
        await again.close()
    }

    /// The book's audit trail counts an eighth of its records towards a snapshot's cost: 40 cycles
    /// leave 80 audit records; then 6 records after the snapshot are not worth a new one, 16 are.
    @Test func auditRecordsCountAnEighth() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        try await cycles(engine, 40)
        await engine.close(snapshottingLongReplay: true)
        #expect(hasSnapshot(f))
        let after = try journalLines(f)
        let again = try await f.engine()
        #expect(await again.currentBook.audit.count == 80)
        _ = try await again.acquire(LeaseRequest(pool: "uplink", owner: "vm-1"))
        await again.close(snapshottingLongReplay: true)
        #expect(try journalLines(f) == after + 6, "6 records after the snapshot: fewer than 80 / 8 + 1, no new snapshot")
        let third = try await f.engine()
        try await cycles(third, 1)
        await third.close(snapshottingLongReplay: true)
        #expect(try journalLines(f) <= after, "16 records after the snapshot: more than 83 / 8 + 1, a new snapshot")
    }

    @Test func aShortReplayOrAPlainCloseLeavesTheJournalAsItIs() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        // An acquire alone: 6 records, fewer than the 8 (`LeaseEngine.longReplay`) worth a snapshot.
        _ = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-1"))
        let short = try journalLines(f)
        #expect(short < 8)
        await engine.close(snapshottingLongReplay: true)
        #expect(!hasSnapshot(f), "\(short) records replay faster than a snapshot would")
        #expect(try journalLines(f) == short)

        let again = try await f.engine()
        try await cycles(again, 10)
        let long = try journalLines(f)
        await again.close()
        #expect(!hasSnapshot(f), "only the closes that ask for it snapshot")
        #expect(try journalLines(f) == long)
    }
}
