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

    /// Records queued with nobody waiting reach the disk on their own, and a later wait covers them.
    @Test func queuedRecordsBecomeDurableWithoutAWaiter() async throws {
        let f = try JournalFixture()
        let (journal, _) = try f.open()
        let last = try journal.appendQueued(encoded: [(type: "lease.returned", json: Array(#"{"n":1}"#.utf8)),
                                                      (type: "lease.released", json: Array(#"{"n":2}"#.utf8))])
        #expect(last == 2)
        var durable: UInt64 = 0
        for _ in 0..<400 where durable < last {
            try await Task.sleep(for: .milliseconds(5))
            durable = await journal.lastSeq
        }
        #expect(durable == last)
        #expect(await journal.statistics.appends == 2)
        try await journal.waitDurable(through: last)   // already durable: returns at once
        await journal.close()
        let (again, recovery) = try f.open()
        #expect(recovery.entries.map(\.type) == ["lease.returned", "lease.released"])
        await again.close()
    }

    /// Many callers queueing and waiting at once: each gets its own consecutive seqs, in the order it
    /// queued them, and the file holds every record in seq order.
    @Test func queueAndWaitFromManyTasksKeepsSeqsContiguous() async throws {
        let f = try JournalFixture()
        let (journal, _) = try f.open()
        let batches = try await withThrowingTaskGroup(of: (Int, UInt64).self) { group in
            for n in 1...48 {
                group.addTask {
                    let records = (0..<(n % 3 + 1)).map { i in (type: "lease.step", json: Array("{\"n\":\(n),\"i\":\(i)}".utf8)) }
                    let last = try journal.appendQueued(encoded: records)
                    if n % 2 == 0 { try await journal.waitDurable(through: last) }
                    return (n, last)
                }
            }
            var out: [(Int, UInt64)] = []
            for try await b in group { out.append(b) }
            return out
        }
        let total = (1...48).reduce(0) { $0 + $1 % 3 + 1 }
        try await journal.waitDurable(through: UInt64(total))
        await journal.close()
        let (again, recovery) = try f.open()
        #expect(recovery.entries.map(\.seq) == Array(1...UInt64(total)))
        for (n, last) in batches {
            let count = UInt64(n % 3 + 1)
            let mine = recovery.entries.filter { (last - count + 1)...last ~= $0.seq }
            #expect(mine.map { String(decoding: $0.data, as: UTF8.self) } == (0..<Int(count)).map { "{\"n\":\(n),\"i\":\($0)}" })
        }
        await again.close()
    }
}

@Suite("Group commit: written, not yet durable")
struct WrittenRecordTests {
    /// `waitWritten` returns with the records in the file (what a killed process leaves behind), and
    /// the next fsync covers them without anyone waiting for it.
    @Test func writtenRecordsAreInTheFileAndBecomeDurable() async throws {
        let f = try JournalFixture()
        let (journal, _) = try f.open()
        let first = try await journal.append(type: "lease.reserved", step(1))
        let last = try journal.appendQueued(encoded: [(type: "lease.reserved", json: Array(#"{"n":2}"#.utf8)),
                                                      (type: "vf.binding", json: Array(#"{"n":3}"#.utf8))])
        try await journal.waitWritten(through: last)
        let lines = try f.lines().filter { !$0.isEmpty }
        #expect(lines.count == 3)
        #expect(lines.last?.contains("\"vf.binding\"") == true)
        #expect(first == 1 && last == 3)
        // The delayed flush makes them durable on its own.
        var durable: UInt64 = 0
        for _ in 0..<400 where durable < last {
            try await Task.sleep(for: .milliseconds(5))
            durable = journal.commit.durableSeq
        }
        #expect(durable == last)
        #expect(await journal.statistics.appends == 3)
        await journal.close()
        let (again, recovery) = try f.open()
        #expect(recovery.entries.map(\.seq) == [1, 2, 3])
        await again.close()
    }

    /// Records queued for a caller that waits next (`waitFollows`, the lease engine's) arm no delayed
    /// flush: written, they stay written-only until the caller's durable wait, whose fsync covers them
    /// by file order (a timer per lease step only woke the I/O thread to find nothing to do).
    @Test func recordsWithAWaitToFollowArmNoDelayedFlush() async throws {
        let f = try JournalFixture()
        let (journal, _) = try f.open()
        let first = try await journal.append(type: "lease.reserved", step(1))
        let intents = try journal.appendQueued(encoded: [(type: "lease.releasing", json: Array(#"{"n":2}"#.utf8))], waitFollows: true)
        try await journal.waitWritten(through: intents)
        #expect(try f.lines().filter { !$0.isEmpty }.count == 2)
        // Six times the delayed flush's 5 ms: nothing made them durable behind the caller's back.
        try await Task.sleep(for: .milliseconds(30))
        #expect(journal.commit.durableSeq == first)
        let outcome = try journal.appendQueued(encoded: [(type: "lease.released", json: Array(#"{"n":3}"#.utf8))], waitFollows: true)
        try await journal.waitDurable(through: outcome)
        #expect(journal.commit.durableSeq == outcome)
        #expect(await journal.statistics.appends == 3)
        await journal.close()
        let (again, recovery) = try f.open()
        #expect(recovery.entries.map(\.seq) == [1, 2, 3])
        await again.close()
    }

    /// While a compaction holds the file, a written wait waits for the I/O thread, and nothing is
    /// written to the file being replaced.
    @Test func writtenWaitWaitsWhileCompactionHoldsTheFile() async throws {
        let f = try JournalFixture()
        let (journal, _) = try f.open()
        _ = try await journal.append(type: "lease.reserved", step(1))
        _ = await journal.commit.pause()
        let last = try journal.appendQueued(encoded: [(type: "lease.releasing", json: Array(#"{"n":2}"#.utf8))])
        let waiter = Task { try await journal.waitWritten(through: last) }
        try await Task.sleep(for: .milliseconds(30))
        #expect(try f.lines().filter { !$0.isEmpty }.count == 1)
        journal.commit.resume(replacement: nil)
        try await waiter.value
        #expect(try f.lines().filter { !$0.isEmpty }.count == 2)
        try await journal.waitDurable(through: last)
        await journal.close()
    }

    /// A written wait on a closed journal fails with the journal's error, and writes nothing.
    @Test func writtenWaitOnAClosedJournalFails() async throws {
        let f = try JournalFixture()
        let (journal, _) = try f.open()
        _ = try await journal.append(type: "lease.reserved", step(1))
        await journal.close()
        await #expect(throws: SRIOVError.self) { try await journal.waitWritten(through: 2) }
        #expect(try f.lines().filter { !$0.isEmpty }.count == 1)
    }
}
