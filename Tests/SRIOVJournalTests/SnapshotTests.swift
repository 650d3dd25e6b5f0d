import Foundation
import Testing
import SRIOVCore
@testable import SRIOVJournal

@Suite("Snapshots and compaction")
struct SnapshotTests {
    let state = Array(#"{"leases":{"7f2c":{"owner":"vnf-7","vfs":["0000:3b:02.1"]}}}"#.utf8)

    @Test func startUpReadsOnlyTheEntriesAfterTheSnapshot() async throws {
        let f = try JournalFixture()
        let (journal, _) = try f.open()
        for n in 1...10 { _ = try await journal.append(type: "lease.reserved", step(n)) }
        try await journal.snapshot(seq: 8, data: state)
        // Compacted: only seq 9 and 10 are left in the file.
        #expect(try f.lines().count == 3)
        #expect(try f.lines().first?.hasPrefix(#"{"v":1,"seq":9,"#) == true)
        #expect(try await journal.append(type: "lease.active", step(11)) == 11)
        await journal.close()

        let (again, recovery) = try f.open()
        #expect(recovery.snapshot == JournalSnapshot(seq: 8, data: state))
        #expect(recovery.entries.map(\.seq) == [9, 10, 11])
        #expect(recovery.lastSeq == 11)
        await again.close()
        let report = JournalMaintenance.verify(directory: f.dir)
        #expect(report.ok && report.snapshotSeq == 8 && report.lastSeq == 11 && report.records == 3)
    }

    @Test func snapshotFileFormat() async throws {
        let f = try JournalFixture()
        try await f.write(1...2)
        let (journal, _) = try f.open()
        try await journal.snapshot(seq: 2, data: state)
        await journal.close()
        let text = String(decoding: try f.bytes(f.snapshotPath), as: UTF8.self)
        let crc = RecordCodec.hexString(CRC32C.checksum(state))
        #expect(text == #"{"v":1,"seq":2,"crc":"\#(crc)","data":"# + String(decoding: state, as: UTF8.self) + "}\n")
        #expect(!f.temp.exists("state/snapshot.json.tmp") && !f.temp.exists("state/journal.jsonl.tmp"))
    }

    @Test func snapshotOfEverythingLeavesAnEmptyJournalAndSeqContinues() async throws {
        let f = try JournalFixture()
        try await f.write(1...5)
        let (journal, _) = try f.open()
        try await journal.snapshot(seq: 5, data: state)
        #expect(try f.bytes(f.journalPath).isEmpty)
        await journal.close()
        let (again, recovery) = try f.open()
        #expect(recovery.snapshot?.seq == 5 && recovery.entries.isEmpty && recovery.lastSeq == 5)
        #expect(try await again.append(type: "lease.released", step(6)) == 6)
        await again.close()
        let (third, replay) = try f.open()
        #expect(replay.entries.map(\.seq) == [6])
        await third.close()
    }

    /// A crash after the snapshot's rename but before the journal's: the old records are still there.
    @Test func crashBetweenSnapshotAndCompaction() async throws {
        let f = try JournalFixture()
        try await f.write(1...10)
        try SnapshotFile.write(directory: f.dir, seq: 6, data: state, sync: false)
        try f.setBytes(f.dir + "/journal.jsonl.tmp", Array("half a compaction".utf8))
        #expect(JournalMaintenance.verify(directory: f.dir).ok)

        let (journal, recovery) = try f.open()
        #expect(recovery.snapshot?.seq == 6)
        #expect(recovery.entries.map(\.seq) == [7, 8, 9, 10])
        #expect(!f.temp.exists("state/journal.jsonl.tmp"))
        #expect(try await journal.append(type: "lease.reserved", step(11)) == 11)
        // The next snapshot compacts what the crash left.
        try await journal.snapshot(seq: 9, data: state)
        await journal.close()
        let (again, replay) = try f.open()
        #expect(replay.snapshot?.seq == 9 && replay.entries.map(\.seq) == [10, 11])
        await again.close()
    }

    @Test func journalEntirelyOlderThanTheSnapshotIsTruncated() async throws {
        let f = try JournalFixture()
        try await f.write(1...3)
        try SnapshotFile.write(directory: f.dir, seq: 7, data: state, sync: false)
        let (journal, recovery) = try f.open()
        #expect(recovery.entries.isEmpty && recovery.lastSeq == 7)
        #expect(try await journal.append(type: "lease.reserved", step(8)) == 8)
        await journal.close()
        let (again, replay) = try f.open()
        #expect(replay.entries.map(\.seq) == [8])
        await again.close()
    }

    @Test func refusesASnapshotBeyondTheDurableRecordsOrBehindTheLastOne() async throws {
        let f = try JournalFixture()
        try await f.write(1...3)
        let (journal, _) = try f.open()
        let ahead = await #expect(throws: SRIOVError.self) { try await journal.snapshot(seq: 4, data: state) }
        #expect(ahead?.code == .invalidArgument && ahead?.message.contains("durable only through seq 3") == true)
        try await journal.snapshot(seq: 3, data: state)
        let behind = await #expect(throws: SRIOVError.self) { try await journal.snapshot(seq: 2, data: state) }
        #expect(behind?.code == .invalidArgument)
        let notJSON = await #expect(throws: SRIOVError.self) { try await journal.snapshot(seq: 3, data: Array("{oops".utf8)) }
        #expect(notJSON?.code == .invalidArgument)
        await journal.close()
    }

    @Test func appendsDuringASnapshotLandInTheCompactedJournal() async throws {
        let f = try JournalFixture()
        let (journal, _) = try f.open()
        for n in 1...50 { _ = try await journal.append(type: "lease.reserved", step(n)) }
        let state = self.state
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await journal.snapshot(seq: 40, data: state) }
            for n in 51...80 { group.addTask { _ = try await journal.append(type: "lease.active", step(n)) } }
            try await group.waitForAll()
        }
        await journal.close()
        let (again, recovery) = try f.open()
        #expect(recovery.snapshot?.seq == 40)
        #expect(recovery.entries.map(\.seq) == Array(41...80))
        await again.close()
    }
}
