import Foundation
import Testing
import SRIOVCore
@testable import SRIOVJournal

@Suite("Torn last record")
struct TornTailTests {
    enum Tear: String, CaseIterable, CustomTestStringConvertible {
        case noNewline, halfALine, badChecksum, garbage
        var testDescription: String { rawValue }

        /// Damages the last of `lines` (all newline-terminated records) the way a crash can.
        func apply(_ lines: [String]) -> (lines: [String], trailingNewline: Bool) {
            var lines = lines
            let last = lines.removeLast()
            switch self {
            case .noNewline:
                return (lines + [last], false) // a whole record, but its newline never made it
            case .halfALine:
                return (lines + [String(last.prefix(last.count / 2))], false)
            case .badChecksum:
                return (lines + [last.replacingOccurrences(of: "vnf-7", with: "vnf-8")], true)
            case .garbage:
                return (lines + [String(repeating: "\u{0}", count: 40)], true)
            }
        }
    }

    @Test(arguments: Tear.allCases)
    func droppedAndTruncatedSoTheNextAppendIsClean(_ tear: Tear) async throws {
        let f = try JournalFixture()
        try await f.write(1...4)
        let good = try f.lines().dropLast() // drop the "" after the final newline
        let (torn, newline) = tear.apply(Array(good))
        try f.setLines(torn, trailingNewline: newline)
        let goodPrefix = Array(good.prefix(3)).joined(separator: "\n") + "\n"

        let (journal, recovery) = try f.open()
        #expect(recovery.entries.map(\.seq) == [1, 2, 3])
        #expect(recovery.lastSeq == 3)
        let description = try #require(recovery.droppedTornTail)
        #expect(description.contains("journal.jsonl line 4"))
        // Truncated away, durably, before anything is appended.
        #expect(String(decoding: try f.bytes(f.journalPath), as: UTF8.self) == goodPrefix)
        #expect(try await journal.append(type: "lease.reserved", step(9)) == 4)
        await journal.close()

        let (again, replay) = try f.open()
        #expect(replay.droppedTornTail == nil)
        #expect(replay.entries.map(\.seq) == [1, 2, 3, 4])
        #expect(try replay.entries.last?.decode(LeaseStep.self) == step(9))
        await again.close()
    }

    @Test func verifyCallsATornTailOkButSaysSo() async throws {
        let f = try JournalFixture()
        try await f.write(1...3)
        var bytes = try f.bytes(f.journalPath)
        bytes.removeLast(10)
        try f.setBytes(f.journalPath, bytes)
        let report = try JournalMaintenance.verify(directory: f.dir)
        #expect(report.ok)
        #expect(report.records == 2 && report.lastSeq == 2)
        #expect(report.problems.count == 1)
        #expect(report.problems.first?.contains("line 3") == true && report.problems.first?.contains("torn") == true)
    }

    @Test func aWholeFileOfOneTornLine() async throws {
        let f = try JournalFixture()
        try await f.write(1...1)
        var bytes = try f.bytes(f.journalPath)
        bytes.removeLast(1)
        try f.setBytes(f.journalPath, bytes)
        let (journal, recovery) = try f.open()
        #expect(recovery.entries.isEmpty && recovery.lastSeq == 0 && recovery.droppedTornTail != nil)
        #expect(try f.bytes(f.journalPath).isEmpty)
        #expect(try await journal.append(type: "lease.reserved", step(1)) == 1)
        await journal.close()
    }
}
