import Foundation
import Testing
import SRIOVCore
@testable import SRIOVJournal

@Suite("Journal append and replay")
struct JournalRoundTripTests {
    @Test func appendThenReplay() async throws {
        let f = try JournalFixture()
        let (journal, recovery) = try f.open()
        #expect(recovery.entries.isEmpty && recovery.snapshot == nil && recovery.lastSeq == 0 && recovery.droppedTornTail == nil)
        #expect(try await journal.append(type: "lease.reserved", step(1)) == 1)
        #expect(try await journal.append(type: "lease.settings-saved", step(2)) == 2)
        #expect(try await journal.append(type: "lease.active", step(3)) == 3)
        #expect(await journal.lastSeq == 3)
        let stats = await journal.statistics
        #expect(stats.appends == 3 && stats.fsyncs == 3 && stats.fsyncSeconds >= 0)
        await journal.close()

        let (again, replay) = try f.open()
        #expect(replay.entries.map(\.seq) == [1, 2, 3])
        #expect(replay.entries.map(\.type) == ["lease.reserved", "lease.settings-saved", "lease.active"])
        #expect(try replay.entries.map { try $0.decode(LeaseStep.self) } == [step(1), step(2), step(3)])
        #expect(replay.lastSeq == 3)
        let now = Date().timeIntervalSince1970
        #expect(replay.entries.allSatisfy { abs($0.time - now) < 600 })
        await again.close()
    }

    @Test func lineFormatIsTheDocumentedOne() async throws {
        let f = try JournalFixture()
        try await f.write(1...1)
        let lines = try f.lines()
        #expect(lines.count == 2 && lines[1].isEmpty) // one record, newline-terminated
        let line = lines[0]
        #expect(line.hasPrefix(#"{"v":1,"seq":1,"ts":"#))
        // Payload keys are sorted, so equal payloads are equal bytes.
        #expect(line.contains(#","type":"lease.reserved","data":{"lease":"7f2c1","n":1,"owner":"vnf-7","vf":"0000:3b:02.1"},"crc":""#))
        // crc = CRC-32C of the object without its crc field, hex, lower case.
        let marker = try #require(line.range(of: #","crc":""#))
        let crcText = String(line[marker.upperBound...].dropLast(2))
        let envelope = Array((String(line[..<marker.lowerBound]) + "}").utf8)
        #expect(crcText == RecordCodec.hexString(CRC32C.checksum(envelope)))
        // And it is JSON.
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        #expect(object?["seq"] as? Int == 1 && object?["v"] as? Int == 1)
    }

    @Test func seqContinuesAcrossReopen() async throws {
        let f = try JournalFixture()
        #expect(try await f.write(1...2) == [1, 2])
        #expect(try await f.write(3...4) == [3, 4])
        let (journal, recovery) = try f.open()
        #expect(recovery.entries.map(\.seq) == [1, 2, 3, 4])
        #expect(await journal.lastSeq == 4)
        #expect(try await journal.append(type: "lease.released", step(5)) == 5)
        await journal.close()
    }

    @Test(arguments: ["", "lease reserved", "lease\"x", "line\nbreak", String(repeating: "a", count: 101)])
    func refusesRecordTypesThatWouldNeedEscaping(_ type: String) async throws {
        let f = try JournalFixture()
        let (journal, _) = try f.open()
        let error = await #expect(throws: SRIOVError.self) { _ = try await journal.append(type: type, step(1)) }
        #expect(error?.code == .invalidArgument)
        await journal.close()
    }

    @Test func appendAfterCloseFails() async throws {
        let f = try JournalFixture()
        let (journal, _) = try f.open()
        await journal.close()
        let error = await #expect(throws: SRIOVError.self) { _ = try await journal.append(type: "lease.reserved", step(1)) }
        #expect(error?.code == .io && error?.message.contains("closed") == true)
    }

    @Test func decodingAsTheWrongTypeIsACorruptError() async throws {
        struct Other: Decodable { var pool: String }
        let f = try JournalFixture()
        try await f.write(1...1)
        let (journal, recovery) = try f.open()
        let entry = try #require(recovery.entries.first)
        let error = #expect(throws: SRIOVError.self) { _ = try entry.decode(Other.self) }
        #expect(error?.code == .corrupt && error?.message.contains("seq 1 (lease.reserved)") == true)
        await journal.close()
    }

    @Test func createsTheStateDirectory() async throws {
        let f = try JournalFixture()
        let nested = JournalOptions(directory: f.dir + "/a/b", fsync: false)
        let (journal, _) = try Journal.open(nested)
        #expect(try await journal.append(type: "x", 1) == 1)
        await journal.close()
        #expect(f.temp.exists("state/a/b/journal.jsonl") && f.temp.exists("state/a/b/lock"))
    }
}
