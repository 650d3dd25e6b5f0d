import Foundation
import SRIOVCore
import SRIOVTestSupport
@testable import SRIOVJournal

/// A lease-shaped payload, like the leasing engine records.
struct LeaseStep: Codable, Sendable, Equatable {
    var lease: String
    var owner: String
    var vf: String
    var n: Int
}

func step(_ n: Int) -> LeaseStep {
    LeaseStep(lease: "7f2c\(n)", owner: "vnf-7", vf: "0000:3b:02.\(n % 8)", n: n)
}

/// A state directory in a temp dir, with byte-level access to its files.
struct JournalFixture {
    let temp: TempDirectory
    var dir: String { temp.path + "/state" }
    var journalPath: String { dir + "/journal.jsonl" }
    var snapshotPath: String { dir + "/snapshot.json" }
    var options: JournalOptions { JournalOptions(directory: dir) }

    init() throws {
        temp = try TempDirectory("journal-test")
    }

    func open() throws -> (Journal, JournalRecovery) {
        try Journal.open(options)
    }

    /// Opens, appends steps `range`, closes; returns the seqs.
    @discardableResult
    func write(_ range: ClosedRange<Int>, type: String = "lease.reserved") async throws -> [UInt64] {
        let (journal, _) = try open()
        var seqs: [UInt64] = []
        for n in range { seqs.append(try await journal.append(type: type, step(n))) }
        await journal.close()
        return seqs
    }

    func bytes(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    func setBytes(_ path: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    func lines() throws -> [String] {
        String(decoding: try bytes(journalPath), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    func setLines(_ lines: [String], trailingNewline: Bool = true) throws {
        try setBytes(journalPath, Array((lines.joined(separator: "\n") + (trailingNewline ? "\n" : "")).utf8))
    }

    /// A correctly checksummed line, for building journals the writer would never produce.
    static func line(v: Int = 1, seq: UInt64, type: String = "lease.reserved", data: String = #"{"n":1}"#) -> String {
        let envelope = #"{"v":\#(v),"seq":\#(seq),"ts":1764000000.5,"type":"\#(type)","data":\#(data)"#
        let crc = Array(envelope.utf8).withUnsafeBytes { RecordCodec.recordCRC($0) }
        return envelope + #","crc":""# + RecordCodec.hexString(crc) + #""}"#
    }
}
