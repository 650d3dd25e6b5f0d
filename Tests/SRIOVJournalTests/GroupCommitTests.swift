import Testing
import SRIOVCore
@testable import SRIOVJournal

@Suite("Group commit")
struct GroupCommitTests {
    @Test func concurrentAppendsShareFsyncsAndKeepFileOrder() async throws {
        let f = try JournalFixture()
        let (journal, _) = try f.open() // fsync on: the batches form while one fsync is in flight
        let count = 64
        let seqs = try await withThrowingTaskGroup(of: (Int, UInt64).self) { group in
            for n in 1...count {
                group.addTask { (n, try await journal.append(type: "lease.reserved", step(n))) }
            }
            var result: [Int: UInt64] = [:]
            for try await (n, seq) in group { result[n] = seq }
            return result
        }
        #expect(Set(seqs.values) == Set(1...UInt64(count)))
        let stats = await journal.statistics
        #expect(stats.appends == count)
        #expect(stats.fsyncs < stats.appends)
        await journal.close()

        // Each returned seq is the record's position in the file.
        let (again, recovery) = try f.open()
        #expect(recovery.entries.map(\.seq) == Array(1...UInt64(count)))
        for entry in recovery.entries {
            let payload = try entry.decode(LeaseStep.self)
            #expect(seqs[payload.n] == entry.seq)
        }
        await again.close()
    }

    @Test func closeFailsQueuedAppendsButKeepsDurableOnes() async throws {
        let f = try JournalFixture()
        let (journal, _) = try f.open()
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for n in 1...32 {
                group.addTask { (try? await journal.append(type: "lease.reserved", step(n))) != nil }
            }
            group.addTask { await journal.close(); return false }
            var ok = 0
            for await success in group where success { ok += 1 }
            return ok
        }
        let (again, recovery) = try f.open()
        // Whatever was acknowledged is on disk; nothing half-written.
        #expect(recovery.entries.count >= outcomes)
        #expect(recovery.droppedTornTail == nil)
        await again.close()
    }
}
