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
        // Compacted: the record naming the snapshot (seq 8), then only seq 9 and 10.
        let crc = RecordCodec.hexString(CRC32C.checksum(state))
        #expect(try f.lines().count == 4)
        #expect(try f.lines().first?.hasPrefix(#"{"v":1,"seq":8,"#) == true)
        #expect(try f.lines().first?.contains(#""type":"journal.snapshot","data":{"crc":"\#(crc)","seq":8},"crc":""#) == true)
        #expect(try f.lines()[1].hasPrefix(#"{"v":1,"seq":9,"#) == true)
        #expect(try await journal.append(type: "lease.active", step(11)) == 11)
        await journal.close()

        let (again, recovery) = try f.open()
        #expect(recovery.snapshot == JournalSnapshot(seq: 8, data: state))
        #expect(recovery.entries.map(\.seq) == [9, 10, 11])
        #expect(recovery.lastSeq == 11)
        await again.close()
        let report = try JournalMaintenance.verify(directory: f.dir)
        #expect(report.ok && report.snapshotSeq == 8 && report.lastSeq == 11 && report.records == 3 && report.requiresSnapshotSeq == 8)
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

    @Test func snapshotOfEverythingLeavesOnlyTheRecordNamingItAndSeqContinues() async throws {
        let f = try JournalFixture()
        try await f.write(1...5)
        let (journal, _) = try f.open()
        try await journal.snapshot(seq: 5, data: state)
        #expect(try f.lines().count == 2 && f.lines()[0].contains(#""seq":5,"ts":"#) && f.lines()[0].contains(#""type":"journal.snapshot""#))
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
        #expect(try JournalMaintenance.verify(directory: f.dir).ok)

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

    // MARK: Issue 15 #4: the journal knows which snapshot it needs

    /// A compacted journal in `f` (snapshot at seq 5, records 6 and 7 after it, or none).
    func compacted(_ f: JournalFixture, after: Bool = true) async throws {
        try await f.write(1...5)
        let (journal, _) = try f.open()
        try await journal.snapshot(seq: 5, data: state)
        if after { for n in 6...7 { _ = try await journal.append(type: "lease.reserved", step(n)) } }
        await journal.close()
    }

    /// `journal compact`, then `rm snapshot.json`: verify said "0 records ok" and start-up began with
    /// nothing.
    @Test(arguments: [false, true])
    func aLostSnapshotIsRefusedNotForgotten(_ recordsAfter: Bool) async throws {
        let f = try JournalFixture()
        try await compacted(f, after: recordsAfter)
        try FileManager.default.removeItem(atPath: f.snapshotPath)
        let before = try f.bytes(f.journalPath)

        let error = #expect(throws: SRIOVError.self) { _ = try f.open() }
        #expect(error?.code == .corrupt)
        let crc = RecordCodec.hexString(CRC32C.checksum(state))
        #expect(error?.message.hasPrefix("\(f.journalPath) line 1: the journal continues from the snapshot at seq 5 (crc \(crc)), but \(f.snapshotPath) is missing; restore that snapshot.json from a backup") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("journal repair") == false)
        #expect(try f.bytes(f.journalPath) == before)

        let report = try JournalMaintenance.verify(directory: f.dir)
        #expect(!report.ok && !report.repairable && report.requiresSnapshotSeq == 5 && report.snapshotSeq == nil)
        #expect(report.problems.first?.contains("is missing; restore that snapshot.json") == true, "\(report.problems)")
        // Repair cannot bring a snapshot back: it refuses and changes nothing.
        let repair = #expect(throws: SRIOVError.self) { _ = try JournalMaintenance.repair(directory: f.dir) }
        #expect(repair?.code == .corrupt && repair?.message.contains("repair cannot rebuild a snapshot") == true)
        #expect(try f.bytes(f.journalPath) == before)
    }

    @Test func anotherSnapshotAtTheSameSeqOrAnOlderOneIsRefused() async throws {
        let f = try JournalFixture()
        try await compacted(f)
        let other = Array(#"{"leases":{}}"#.utf8)
        try SnapshotFile.write(directory: f.dir, seq: 5, data: other, sync: false)
        let swapped = #expect(throws: SRIOVError.self) { _ = try f.open() }
        #expect(swapped?.code == .corrupt)
        #expect(swapped?.message.contains("but \(f.snapshotPath) is another snapshot at that seq (crc \(RecordCodec.hexString(CRC32C.checksum(other))))") == true, "\(swapped?.message ?? "")")
        #expect(try !JournalMaintenance.verify(directory: f.dir).ok)

        try SnapshotFile.write(directory: f.dir, seq: 3, data: state, sync: false)
        let older = #expect(throws: SRIOVError.self) { _ = try f.open() }
        #expect(older?.code == .corrupt && older?.message.contains("is an older one (seq 3)") == true, "\(older?.message ?? "")")
        #expect(try !JournalMaintenance.verify(directory: f.dir).ok)

        // The right one back: start-up goes on.
        try SnapshotFile.write(directory: f.dir, seq: 5, data: state, sync: false)
        let (journal, recovery) = try f.open()
        #expect(recovery.snapshot?.seq == 5 && recovery.entries.map(\.seq) == [6, 7])
        await journal.close()
        #expect(try JournalMaintenance.verify(directory: f.dir).ok)
    }

    /// A crash after a newer snapshot's rename, before its compaction: the journal still names the
    /// older snapshot, and holds every record up to the newer one.
    @Test func aNewerSnapshotThanTheJournalNamesIsAccepted() async throws {
        let f = try JournalFixture()
        try await compacted(f)
        try SnapshotFile.write(directory: f.dir, seq: 6, data: state, sync: false)
        #expect(try JournalMaintenance.verify(directory: f.dir).ok)
        let (journal, recovery) = try f.open()
        #expect(recovery.snapshot?.seq == 6 && recovery.entries.map(\.seq) == [7])
        await journal.close()
    }

    /// State directories written before journals named their snapshot still load; an empty one gets
    /// the record at start-up, so from then on a lost snapshot is noticed.
    @Test func oldCompactedStateDirectoriesStillLoad() async throws {
        let f = try JournalFixture()
        try f.temp.dir("state")
        try SnapshotFile.write(directory: f.dir, seq: 5, data: state, sync: false)
        try f.setLines([JournalFixture.line(seq: 6), JournalFixture.line(seq: 7)])
        #expect(try JournalMaintenance.verify(directory: f.dir).ok)
        let (journal, recovery) = try f.open()
        #expect(recovery.snapshot?.seq == 5 && recovery.entries.map(\.seq) == [6, 7])
        await journal.close()

        let g = try JournalFixture()
        try g.temp.dir("state")
        try SnapshotFile.write(directory: g.dir, seq: 5, data: state, sync: false)
        try g.setBytes(g.journalPath, [])
        #expect(try JournalMaintenance.verify(directory: g.dir).ok)
        let (old, replay) = try g.open()
        #expect(replay.snapshot?.seq == 5 && replay.entries.isEmpty && replay.lastSeq == 5)
        #expect(try await old.append(type: "lease.reserved", step(6)) == 6)
        await old.close()
        #expect(try g.lines().first?.contains(#""type":"journal.snapshot""#) == true)
        try FileManager.default.removeItem(atPath: g.snapshotPath)
        #expect(throws: SRIOVError.self) { _ = try g.open() }
    }

    @Test func theSnapshotRecordOnlyOpensTheJournal() throws {
        let f = try JournalFixture()
        try f.temp.dir("state")
        let named = #"{"crc":"00000000","seq":2}"#
        try f.setLines([JournalFixture.line(seq: 1), JournalFixture.line(seq: 2, type: "journal.snapshot", data: named), JournalFixture.line(seq: 3)])
        let error = #expect(throws: SRIOVError.self) { _ = try f.open() }
        #expect(error?.message.hasPrefix("\(f.journalPath) line 2: a journal.snapshot record after the first line") == true, "\(error?.message ?? "")")
        try f.setLines([JournalFixture.line(seq: 2, type: "journal.snapshot", data: #"{"seq":2}"#), JournalFixture.line(seq: 3)])
        let malformed = #expect(throws: SRIOVError.self) { _ = try f.open() }
        #expect(malformed?.message.hasPrefix("\(f.journalPath) line 1: the journal.snapshot record does not name its snapshot") == true, "\(malformed?.message ?? "")")
    }

    @Test func callersCannotAppendTheSnapshotRecord() async throws {
        let f = try JournalFixture()
        let (journal, _) = try f.open()
        let error = await #expect(throws: SRIOVError.self) { _ = try await journal.append(type: "journal.snapshot", step(1)) }
        #expect(error?.code == .invalidArgument)
        await journal.close()
    }
}
