import Foundation
import Testing
import SRIOVCore
@testable import SRIOVJournal

@Suite("Corrupt journal: refused at start-up, reported by verify, repaired")
struct CorruptionTests {
    typealias Line = JournalFixture

    @Test func corruptMiddleIsRefusedWithFileLineAndReason() async throws {
        let f = try JournalFixture()
        try await f.write(1...5)
        var lines = try f.lines()
        lines[2] = lines[2].replacingOccurrences(of: "vnf-7", with: "vnf-X")
        try f.setLines(Array(lines.dropLast()))

        let error = #expect(throws: SRIOVError.self) { _ = try f.open() }
        #expect(error?.code == .corrupt)
        #expect(error?.message.hasPrefix("\(f.journalPath) line 3: checksum mismatch (stored ") == true)
        #expect(error?.message.hasSuffix("run `sriovctl journal verify` to see the damage and `sriovctl journal repair` to keep what precedes it") == true)
        // The refusal released the lock and changed nothing.
        #expect(try f.lines().count == 6)
        let report = try JournalMaintenance.verify(directory: f.dir)
        #expect(!report.ok)
        #expect(report.records == 4 && report.lastSeq == 5)
        #expect(report.problems == [error?.message.components(separatedBy: ";").first ?? "?"])
    }

    @Test func repairKeepsThePrefixAndMovesTheDamagedFileAside() async throws {
        let f = try JournalFixture()
        try await f.write(1...5)
        var lines = try f.lines()
        lines[2] = "{\"v\":1,\"seq\":3,\"ts\":1.0," // half a record in the middle
        let damaged = Array(lines.dropLast())
        try f.setLines(damaged)
        let original = try f.bytes(f.journalPath)

        let report = try JournalMaintenance.repair(directory: f.dir)
        #expect(report.kept == 2 && report.dropped == 3)
        let aside = try #require(report.movedAside)
        #expect(aside.hasPrefix(f.journalPath + ".damaged-"))
        #expect(try f.bytes(aside) == original) // never deletes data
        #expect(try f.lines() == Array(lines.prefix(2)) + [""])
        #expect(try JournalMaintenance.verify(directory: f.dir).ok)
        #expect(try JournalMaintenance.verify(directory: f.dir).problems.isEmpty)

        let (journal, recovery) = try f.open()
        #expect(recovery.entries.map(\.seq) == [1, 2])
        #expect(try await journal.append(type: "lease.reserved", step(3)) == 3)
        await journal.close()
    }

    @Test func repairOfAHealthyJournalChangesNothing() async throws {
        let f = try JournalFixture()
        try await f.write(1...3)
        let before = try f.bytes(f.journalPath)
        let report = try JournalMaintenance.repair(directory: f.dir)
        #expect(report.kept == 3 && report.dropped == 0 && report.movedAside == nil)
        #expect(try f.bytes(f.journalPath) == before)
    }

    @Test func repairNeedsTheLock() async throws {
        let f = try JournalFixture()
        let (journal, _) = try f.open()
        let error = #expect(throws: SRIOVError.self) { _ = try JournalMaintenance.repair(directory: f.dir) }
        #expect(error?.code == .busy)
        await journal.close()
    }

    @Test func verifyReportsEveryProblem() async throws {
        let f = try JournalFixture()
        try f.temp.dir("state")
        try f.setLines([Line.line(seq: 1), "not json", Line.line(seq: 2), Line.line(seq: 3), Line.line(seq: 5), Line.line(seq: 6), "", Line.line(seq: 7)])
        let report = try JournalMaintenance.verify(directory: f.dir)
        #expect(!report.ok)
        #expect(report.records == 6 && report.lastSeq == 7)
        #expect(report.problems.count == 3)
        #expect(report.problems[0] == "\(f.journalPath) line 2: too short to be a record (8 bytes)")
        #expect(report.problems[1] == "\(f.journalPath) line 5: seq 5 follows seq 3: record 4 is missing")
        #expect(report.problems[2] == "\(f.journalPath) line 7: empty line")
    }

    struct SeqCase: CustomTestStringConvertible, Sendable {
        var name: String
        var seqs: [UInt64]
        var line: Int
        var reason: String
        var testDescription: String { name }
    }

    @Test(arguments: [
        SeqCase(name: "gap", seqs: [1, 2, 4, 5], line: 3, reason: "seq 4 follows seq 2: record 3 is missing"),
        SeqCase(name: "wide gap", seqs: [1, 2, 9], line: 3, reason: "seq 9 follows seq 2: records 3-8 are missing"),
        SeqCase(name: "repeat", seqs: [1, 2, 2, 3], line: 3, reason: "seq 2 does not follow seq 2: sequence numbers must increase by one"),
        SeqCase(name: "backwards", seqs: [1, 2, 3, 1], line: 4, reason: "seq 1 does not follow seq 3: sequence numbers must increase by one"),
        SeqCase(name: "no start", seqs: [5, 6], line: 1, reason: "the journal starts at seq 5 but there is no snapshot.json: records 1-4 are missing"),
    ])
    func sequenceDamageIsCorruptionEvenOnTheLastLine(_ c: SeqCase) throws {
        let f = try JournalFixture()
        try f.temp.dir("state")
        try f.setLines(c.seqs.map { Line.line(seq: $0) })
        let error = #expect(throws: SRIOVError.self) { _ = try f.open() }
        #expect(error?.code == .corrupt)
        #expect(error?.message.hasPrefix("\(f.journalPath) line \(c.line): \(c.reason);") == true)
        let report = try JournalMaintenance.verify(directory: f.dir)
        #expect(!report.ok && report.problems.first == "\(f.journalPath) line \(c.line): \(c.reason)")
    }

    @Test func unknownVersionNamesTheVersion() throws {
        let f = try JournalFixture()
        try f.temp.dir("state")
        try f.setLines([Line.line(seq: 1), Line.line(v: 2, seq: 2)])
        let error = #expect(throws: SRIOVError.self) { _ = try f.open() }
        #expect(error?.code == .unsupported)
        #expect(error?.message == "\(f.journalPath) line 2: record format version 2 is not supported by this sriovd (it reads version 1); run the sriovd that wrote it or a newer one")
        let repair = #expect(throws: SRIOVError.self) { _ = try JournalMaintenance.repair(directory: f.dir) }
        #expect(repair?.code == .unsupported)
    }

    @Test func damagedSnapshotIsRefused() async throws {
        let f = try JournalFixture()
        try await f.write(1...3)
        try SnapshotFile.write(directory: f.dir, seq: 2, data: Array(#"{"leases":[]}"#.utf8), sync: false)
        var bytes = try f.bytes(f.snapshotPath)
        bytes[bytes.count - 4] = UInt8(ascii: "X")
        try f.setBytes(f.snapshotPath, bytes)
        let error = #expect(throws: SRIOVError.self) { _ = try f.open() }
        #expect(error?.code == .corrupt && error?.message.hasPrefix("\(f.snapshotPath): checksum mismatch") == true)
        #expect(try !JournalMaintenance.verify(directory: f.dir).ok)
    }

    /// Issue 15 #8: a missing directory or an unreadable file is not damage (and repair cannot help).
    @Test func verifyOfAMissingDirectoryIsNotFoundNotDamage() throws {
        let f = try JournalFixture()
        let error = #expect(throws: SRIOVError.self) { _ = try JournalMaintenance.verify(directory: f.dir + "/nope") }
        #expect(error?.code == .notFound && error?.message.hasPrefix("no state directory '\(f.dir)/nope': is --state-dir mistyped?") == true, "\(error?.message ?? "")")
    }

    @Test func verifyOfAnUnreadableJournalIsAnAccessErrorNotDamage() async throws {
        let f = try JournalFixture()
        try await f.write(1...2)
        // root reads any file; a directory in place of the journal fails the read the same way (EISDIR).
        try FileManager.default.removeItem(atPath: f.journalPath)
        try f.temp.dir("state/journal.jsonl")
        let error = #expect(throws: SRIOVError.self) { _ = try JournalMaintenance.verify(directory: f.dir) }
        #expect(error?.code == .io, "\(error?.message ?? "")")
        #expect(error?.message.contains(f.journalPath) == true)
    }

    @Test func readOnlyFileSystemIsAnIOErrorNotAPermissionError() {
        #expect(DurableFile.errnoError("x", EROFS).code == .io)
        #expect(DurableFile.errnoError("x", EROFS).message.contains("read-only"))
        #expect(DurableFile.errnoError("x", EACCES).code == .permissionDenied)
    }

    @Test func verifySuggestsRepairOnlyWhenRepairFixesIt() async throws {
        let f = try JournalFixture()
        try f.temp.dir("state")
        try f.setLines([Line.line(seq: 1), "garbage", Line.line(seq: 3)])
        #expect(try JournalMaintenance.verify(directory: f.dir).repairable)
        try f.setLines([Line.line(seq: 1), Line.line(v: 2, seq: 2), Line.line(seq: 3)])
        let newer = try JournalMaintenance.verify(directory: f.dir)
        #expect(!newer.ok && !newer.repairable)
        try f.setLines([Line.line(seq: 1)])
        #expect(try JournalMaintenance.verify(directory: f.dir).repairable == false)   // ok: nothing to repair
    }
}

@Suite("Repair of a torn tail")
struct TornTailRepairTests {
    @Test func repairDropsATornTailAndKeepsTheOriginal() async throws {
        let f = try JournalFixture()
        try await f.write(1...3)
        var bytes = try f.bytes(f.journalPath)
        bytes.removeLast(5)
        try f.setBytes(f.journalPath, bytes)
        let report = try JournalMaintenance.repair(directory: f.dir)
        #expect(report.kept == 2 && report.dropped == 1)
        #expect(try f.bytes(try #require(report.movedAside)) == bytes)
        let verify = try JournalMaintenance.verify(directory: f.dir)
        #expect(verify.ok && verify.problems.isEmpty && verify.records == 2)
    }
}
