import Testing
import SRIOVConfig
import SRIOVCore
@testable import SRIOVLeasing
import SRIOVJournal
import SRIOVFakeHost
import SRIOVTestSupport
import Foundation

/// Issue 15, defect 2: a tenant sending refused requests in a loop could erase the audit trail (every
/// refusal was a fsync'd record, and compaction kept only the newest 10,000 records of any kind).
@Suite("Audit trail: refusals cannot push out what was done")
struct AuditRetentionTests {
    @Test func aFloodOfRefusalsIsCountedNotJournaledOneByOne() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        let before = await engine.journalStatistics.appends
        for _ in 0..<13_700 {
            await engine.auditRefusal(who: "tenant t (uid 1000)", action: AuditRecord.refusedAction, target: "POST /v1/leases",
                                      reason: "tenant t may not lease from pool open")
        }
        let appended = await engine.journalStatistics.appends - before
        #expect(appended == RefusalBudget.perWindow)
        // A minute later the next refusal is recorded, saying how many were only counted.
        f.clock.advance(61)
        await engine.auditRefusal(who: "tenant t (uid 1000)", action: AuditRecord.refusedAction, target: "POST /v1/leases",
                                  reason: "tenant t may not lease from pool open")
        let last = try #require(await engine.auditLog().last)
        #expect(last.result.contains("and 13690 more refused requests of this caller"))
        // Other callers have budgets of their own.
        await engine.auditRefusal(who: "tenant u (uid 1001)", action: AuditRecord.refusedAction, target: "POST /v1/leases", reason: "no")
        #expect(await engine.auditLog().last?.who == "tenant u (uid 1001)")
        await engine.close()
    }

    @Test func everyLeaseRecordSurvivesAFloodAndCompaction() async throws {
        let f = try LeaseFixture()
        var engine = try await f.engine()
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-1"), requestedBy: "tenant t (uid 1000)")
        _ = try await engine.release(lease.id, requestedBy: "tenant t (uid 1000)")
        // The flood, from many minutes' worth of budget: 13,700 refusals journaled, far more than the
        // 10,000 records the book keeps.
        for i in 0..<13_700 {
            if i % RefusalBudget.perWindow == 0 { f.clock.advance(RefusalBudget.window) }
            await engine.auditRefusal(who: "tenant t (uid 1000)", action: AuditRecord.refusedAction, target: "POST /v1/leases",
                                      reason: "refused \(i)")
        }
        try await engine.snapshot()
        await engine.close()
        engine = try await f.engine()
        // In memory: the lease records, and a bounded number of refusals.
        let book = await engine.currentBook
        #expect(book.audit.filter { $0.action.hasPrefix("lease.") }.map(\.action) == ["lease.acquire", "lease.release"])
        #expect(book.audit.filter(\.isRefusal).count <= LeaseBook.refusalLimit + LeaseBook.auditLimit / 4)
        // Through the API: everything, the archive first, oldest first, each record once.
        let log = await engine.auditLog()
        #expect(log.filter { $0.action.hasPrefix("lease.") }.map(\.action) == ["lease.acquire", "lease.release"])
        #expect(log.filter(\.isRefusal).map(\.result) == (0..<13_700).map { "refused: refused \($0)" })
        #expect(FileManager.default.fileExists(atPath: f.stateDirectory + "/" + AuditArchive.fileName))
        // `since` reaches into the archive.
        let since = try #require(log.first { $0.result == "refused: refused 100" }).time
        #expect(await engine.auditLog(since: since).first?.result == "refused: refused 100")
        await engine.close()
    }

    /// A crash after the archive was written and before the snapshot: the records are archived again
    /// by the next snapshot, and still listed once.
    @Test func archivedTwiceIsListedOnce() async throws {
        let f = try LeaseFixture()
        var engine = try await f.engine()
        for i in 0..<13_000 { await engine.audit("w", "vf.set", "t", "ok \(i)") }
        let book = await engine.currentBook
        #expect(!book.unarchivedAudit.isEmpty)
        // What writeSnapshot does first, without the snapshot (the crash).
        try await engine.archive.append(book.unarchivedAudit)
        await engine.close()
        engine = try await f.engine()
        try await engine.snapshot()
        let log = await engine.auditLog()
        #expect(log.map(\.result) == (0..<13_000).map { "ok \($0)" })
        await engine.close()
    }

    @Test func trimmingDropsTheOldestRefusalsFirst() {
        var book = LeaseBook()
        func record(_ action: String, _ n: Int) -> AuditRecord {
            AuditRecord(time: Double(n), who: "w", action: action, target: "t\(n)", result: "ok")
        }
        book.audit = (0..<3_000).map { record("lease.acquire", $0) } + (3_000..<12_000).map { record(AuditRecord.refusedAction, $0) }
        book.trimAudit()
        #expect(book.audit.count == 4_000)
        #expect(book.unarchivedAudit.count == 8_000)
        #expect(book.audit.filter { !$0.isRefusal }.count == 3_000)
        #expect(book.audit.filter(\.isRefusal).first?.time == 11_000)
        // Past the limit with what was done alone, the oldest go.
        book.audit = (0..<12_600).map { record("lease.acquire", $0) }
        book.unarchivedAudit = []
        book.trimAudit()
        #expect(book.unarchivedAudit.map(\.time) == (0..<2_600).map(Double.init))
        #expect(book.audit.count == LeaseBook.auditLimit && book.audit.first?.time == 2_600)
    }
}
