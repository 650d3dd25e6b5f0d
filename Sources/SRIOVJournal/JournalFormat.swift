import SRIOVCore

/// The journal's parsers for other targets of this package (`Fuzz/sriov-fuzz`): the line codec, the
/// scan start-up/verify/repair share, and the snapshot file's codec, without a state directory.
package enum JournalFormat {
    /// One decoded line: seq, time, type and the payload's bytes.
    package struct Record: Equatable {
        package var seq: UInt64
        package var time: Double
        package var type: String
        package var data: [UInt8]
    }

    /// What a scan found, line by line (`problems` and `torn` are mutually exclusive per line).
    package struct Scan {
        package var lines: Int
        package var records: Int
        package var entries: [JournalEntry]
        package var problems: [(line: Int, reason: String, unsupportedVersion: UInt64?)]
        package var torn: (line: Int, reason: String)?
        package var prefixEnd: Int
        package var prefixRecords: Int
        package var prefixLastSeq: UInt64?
        package var lastSeq: UInt64?
    }

    /// Decodes one line (without its newline): the record, or why not.
    package static func decodeLine(_ line: [UInt8]) -> Result<Record, JournalLineProblem> {
        line.withUnsafeBytes { raw -> Result<Record, JournalLineProblem> in
            switch RecordCodec.decode(raw) {
            case .success(let r):
                return .success(Record(seq: r.seq, time: r.time, type: String(decoding: raw[r.type], as: UTF8.self),
                                       data: Array(raw[r.data])))
            case .failure(.damaged(let reason)): return .failure(.damaged(reason))
            case .failure(.unsupportedVersion(let v)): return .failure(.unsupportedVersion(v))
            }
        }
    }

    /// The line (with its newline) for a record; `type` must pass `isValidType`, `data` be one line.
    package static func encodeLine(seq: UInt64, timestamp: [UInt8], type: String, data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        RecordCodec.encode(seq: seq, timestamp: timestamp, type: type, data: data, into: &out)
        return out
    }

    package static func isValidType(_ type: String) -> Bool { RecordCodec.isValidType(type) }

    /// Scans the journal file open at `fd`, as `journal verify` (`stopAtFirstProblem: false`) or start-up does.
    package static func scan(fd: Int32, path: String, stopAtFirstProblem: Bool, collectAfter: UInt64?) throws(SRIOVError) -> Scan {
        var scan = JournalScan(path: path, stopAtFirstProblem: stopAtFirstProblem, collectAfter: collectAfter)
        try scan.run(fd: fd)
        return Scan(lines: scan.lines, records: scan.records, entries: scan.entries,
                    problems: scan.problems.map { ($0.line, $0.reason, $0.unsupportedVersion) },
                    torn: scan.torn.map { ($0.line, $0.reason) },
                    prefixEnd: scan.prefixEnd, prefixRecords: scan.prefixRecords, prefixLastSeq: scan.prefixLastSeq,
                    lastSeq: scan.lastSeq)
    }

    package static func decodeSnapshot(_ bytes: [UInt8]) -> Result<JournalSnapshot, JournalLineProblem> {
        switch SnapshotFile.decode(bytes) {
        case .success(let s): return .success(s)
        case .failure(.damaged(let reason)): return .failure(.damaged(reason))
        case .failure(.unsupportedVersion(let v)): return .failure(.unsupportedVersion(v))
        }
    }

    package static func encodeSnapshot(seq: UInt64, data: [UInt8]) -> [UInt8] { SnapshotFile.encode(seq: seq, data: data) }
}

/// Why a journal line or a snapshot file was refused.
package enum JournalLineProblem: Error, Equatable {
    case damaged(String)
    case unsupportedVersion(UInt64)
}
