#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SRIOVCore
import SRIOVJournal
import SRIOVLeasing

/// One unlinked temp file per process: the journal scan reads a file descriptor, not memory.
final class ScratchFile: @unchecked Sendable {
    let fd: Int32
    let path = "/tmp/sriov-fuzz-journal.jsonl"

    init() {
        var template = Array("/tmp/sriov-fuzz-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        precondition(fd >= 0, "sriov-fuzz: cannot create a temp file in /tmp (errno \(errno))")
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        self.fd = fd
    }

    /// The file now holds exactly `bytes`.
    func fill(_ bytes: [UInt8]) -> Int32 {
        precondition(ftruncate(fd, 0) == 0, "sriov-fuzz: ftruncate failed (errno \(errno))")
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, bytes.count - done, off_t(done)) }
            precondition(n > 0, "sriov-fuzz: pwrite failed (errno \(errno))")
            done += n
        }
        return fd
    }

    static let shared = ScratchFile()
}

/// `journal.jsonl` as start-up, verify and repair read it.
///
/// Properties: every line is exactly one of accepted (a collected entry), reported (a problem with its
/// line number and a reason) or the torn tail; problems come in line order; an accepted line re-encodes
/// to the same bytes; the kept prefix (what start-up truncates to and repair keeps) ends at a line end
/// and scans clean with the same records; the stop-at-first-problem scan (start-up) agrees with the full
/// one (verify) up to its stop; encoding a record and decoding it gives it back.
enum JournalTarget {
    static let newline = UInt8(ascii: "\n")

    struct Line {
        var bytes: [UInt8]
        var hasNewline: Bool
    }

    static func split(_ bytes: [UInt8]) -> [Line] {
        var lines: [Line] = []
        var start = 0
        for (i, b) in bytes.enumerated() where b == newline {
            lines.append(Line(bytes: Array(bytes[start..<i]), hasNewline: true))
            start = i + 1
        }
        if start < bytes.count { lines.append(Line(bytes: Array(bytes[start...]), hasNewline: false)) }
        return lines
    }

    static func scan(_ bytes: [UInt8], stop: Bool) throws(FuzzFailure) -> JournalFormat.Scan {
        let fd = ScratchFile.shared.fill(bytes)
        switch attempt({ () throws(SRIOVError) in
            try JournalFormat.scan(fd: fd, path: ScratchFile.shared.path, stopAtFirstProblem: stop, collectAfter: 0)
        }) {
        case .success(let s): return s
        case .failure(let e): throw FuzzFailure(description: "the scan failed on a readable file: \(e.message)")
        }
    }

    static func run(_ bytes: [UInt8]) throws(FuzzFailure) {
        let lines = split(bytes)
        let all = try scan(bytes, stop: false)
        try require(all.lines == lines.count, "scan counted \(all.lines) lines, the file has \(lines.count)")

        // Each line: accepted, a problem, or the torn tail; exactly one.
        var status = [String?](repeating: nil, count: lines.count + 1)
        var previousProblem = 0
        for p in all.problems {
            try require(p.line > previousProblem && p.line <= lines.count, "problem line \(p.line) out of order or range (\(lines.count) lines)")
            try require(!p.reason.isEmpty, "problem on line \(p.line) without a reason")
            previousProblem = p.line
            status[p.line] = "problem"
        }
        if let torn = all.torn {
            try require(torn.line == lines.count, "torn tail on line \(torn.line), but the file has \(lines.count) lines")
            try require(!torn.reason.isEmpty, "torn tail without a reason")
            try require(status[torn.line] == nil, "line \(torn.line) is both a problem and the torn tail")
            status[torn.line] = "torn"
        }
        var next = 0
        var previousSeq: UInt64 = 0
        for (k, line) in lines.enumerated() {
            guard next < all.entries.count, line.hasNewline,
                  case .success(let record) = JournalFormat.decodeLine(line.bytes),
                  record.seq == all.entries[next].seq else { continue }
            let entry = all.entries[next]
            try require(entry.type == record.type && entry.data == record.data && entry.time == record.time,
                        "entry seq \(entry.seq) differs from line \(k + 1) it came from")
            try require(status[k + 1] == nil, "line \(k + 1) (seq \(record.seq)) is both accepted and a \(status[k + 1]!)")
            try require(entry.seq > previousSeq, "entries out of order: seq \(entry.seq) after \(previousSeq)")
            previousSeq = entry.seq
            status[k + 1] = "accepted"
            next += 1
            try requireReencodes(line.bytes, record)
        }
        try require(next == all.entries.count, "\(all.entries.count - next) entries match no line")
        if let unclassified = (1..<(lines.count + 1)).first(where: { status[$0] == nil }) {
            throw FuzzFailure(description: "line \(unclassified) is neither accepted nor reported: \(show(lines[unclassified - 1].bytes))")
        }
        Tally.accepted = !all.entries.isEmpty && all.problems.isEmpty
        try require(all.records >= all.entries.count, "\(all.records) records counted, \(all.entries.count) collected")

        // The kept prefix ends at a line end and scans clean.
        try require(all.prefixEnd <= bytes.count && (all.prefixEnd == 0 || bytes[all.prefixEnd - 1] == newline),
                    "the kept prefix ends at byte \(all.prefixEnd), not at the end of a line")
        let prefix = try scan(Array(bytes[..<all.prefixEnd]), stop: false)
        try require(prefix.problems.isEmpty && prefix.torn == nil,
                    "the kept prefix (\(all.prefixEnd) bytes) has problems: \(prefix.problems.map(\.reason)) \(prefix.torn?.reason ?? "")")
        try require(prefix.records == all.prefixRecords && prefix.lastSeq == all.prefixLastSeq
                        && prefix.entries == Array(all.entries.prefix(all.prefixRecords)),
                    "the kept prefix rescans to \(prefix.records) records up to \(String(describing: prefix.lastSeq)), not \(all.prefixRecords) up to \(String(describing: all.prefixLastSeq))")

        // Start-up's scan stops at the first problem and otherwise agrees.
        let first = try scan(bytes, stop: true)
        try require(first.prefixEnd == all.prefixEnd && first.prefixRecords == all.prefixRecords,
                    "the stopping scan keeps \(first.prefixEnd) bytes, the full scan \(all.prefixEnd)")
        if let p = all.problems.first {
            try require(first.problems.count == 1 && first.problems[0].line == p.line && first.torn == nil,
                        "the stopping scan reports \(first.problems.map(\.line)), the full scan's first problem is line \(p.line)")
        } else {
            try require(first.problems.isEmpty && first.torn?.line == all.torn?.line && first.entries == all.entries,
                        "the stopping scan disagrees with the full scan on a file without damage")
        }

        try requireRoundTrip(bytes)
    }

    /// An accepted line is exactly what the encoder writes for its fields (with its own timestamp text).
    static func requireReencodes(_ line: [UInt8], _ record: JournalFormat.Record) throws(FuzzFailure) {
        let head = Array(#"{"v":1,"seq":\#(record.seq),"ts":"#.utf8)
        try require(line.starts(with: head), "an accepted line does not start with its canonical header: \(show(line))")
        let marker = Array(#","type":""#.utf8)
        var end = head.count
        while end + marker.count <= line.count, !line[end..<(end + marker.count)].elementsEqual(marker) { end += 1 }
        let timestamp = Array(line[head.count..<end])
        let again = JournalFormat.encodeLine(seq: record.seq, timestamp: timestamp, type: record.type, data: record.data)
        try require(again == line + [newline], "line re-encodes differently:\n  read  \(show(line))\n  wrote \(show(again))")
    }

    /// Fields derived from the input, encoded, decode to themselves (seq below 10^19: 19 digits).
    static func requireRoundTrip(_ bytes: [UInt8]) throws(FuzzFailure) {
        let h = fnv1a(bytes)
        let seq = 1 + h % 9_999_999_999_999_999_998
        var typeBytes = bytes.prefix(100).filter { isTypeByte($0) }
        if typeBytes.isEmpty { typeBytes = Array("audit".utf8) }
        let type = String(decoding: typeBytes, as: UTF8.self)
        try require(JournalFormat.isValidType(type), "\(type) is made of type bytes but is not a valid type")
        var data = bytes.map { $0 == newline ? UInt8(ascii: " ") : $0 }
        if data.isEmpty { data = Array("{}".utf8) }
        let micros = String(h % 1_000_000)
        let timestamp = Array("1700000000.\(String(repeating: "0", count: 6 - micros.count) + micros)".utf8)
        let line = JournalFormat.encodeLine(seq: seq, timestamp: timestamp, type: type, data: data)
        switch JournalFormat.decodeLine(Array(line.dropLast())) {
        case .success(let r):
            try require(r.seq == seq && r.type == type && r.data == data, "record seq \(seq) type \(type) decodes as seq \(r.seq) type \(r.type)")
            try require(abs(r.time - (1_700_000_000 + Double(h % 1_000_000) / 1_000_000)) < 1e-5, "timestamp \(show(timestamp)) decodes as \(r.time)")
        case .failure(let p):
            throw FuzzFailure(description: "an encoded record does not decode (\(p)): \(show(line))")
        }
        let scanned = try scan(line + line, stop: false)
        try require(scanned.entries.count == 1 && scanned.problems.count == 1 && scanned.problems[0].line == 2,
                    "a record written twice: \(scanned.entries.count) entries, problems \(scanned.problems.map(\.line))")
    }

    static func isTypeByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "/"):
            return true
        default:
            return false
        }
    }
}

/// `snapshot.json`: decoded, it re-encodes to the same bytes (less trailing white space); any seq and
/// non-empty data encode and decode back; a valid snapshot's data goes through the lease book target.
enum SnapshotTarget {
    static func run(_ bytes: [UInt8]) throws(FuzzFailure) {
        switch JournalFormat.decodeSnapshot(bytes) {
        case .success(let s):
            Tally.accepted = true
            var end = bytes.count
            while end > 0, bytes[end - 1] == 0x0a || bytes[end - 1] == 0x20 { end -= 1 }
            let again = JournalFormat.encodeSnapshot(seq: s.seq, data: s.data)
            try require(again == Array(bytes[..<end]) + [0x0a], "snapshot re-encodes differently:\n  read  \(show(bytes))\n  wrote \(show(again))")
            try LeaseBookTarget.run(s.data)
        case .failure(.damaged(let reason)):
            try require(!reason.isEmpty, "a damaged snapshot without a reason")
        case .failure(.unsupportedVersion(let v)):
            try require(v != 1, "version 1 reported as unsupported")
        }
        let h = fnv1a(bytes)
        let seq = h % 9_999_999_999_999_999_999
        let data = bytes.isEmpty ? Array("{}".utf8) : bytes
        let encoded = JournalFormat.encodeSnapshot(seq: seq, data: data)
        guard case .success(let s) = JournalFormat.decodeSnapshot(encoded), s.seq == seq, s.data == data else {
            throw FuzzFailure(description: "snapshot seq \(seq) with \(data.count) bytes of data does not decode back")
        }
    }
}

/// A snapshot's data as recovery decodes it (`LeaseBook`, the audit trail read apart): the same book,
/// or a refusal, as `LeaseBook.init(from:)` alone gives; a decoded book, written back with JSONWriter,
/// decodes to the same book, and those bytes are JSONEncoder's (sorted keys) byte for byte.
enum LeaseBookTarget {
    static func run(_ bytes: [UInt8]) throws(FuzzFailure) {
        let book: LeaseBook
        let whole = attempt({ () throws(SRIOVError) in try LeaseRecordFormat.decodeBookWhole(bytes) })
        switch attempt({ () throws(SRIOVError) in try LeaseRecordFormat.decodeBook(bytes) }) {
        case .success(let b):
            book = b
            guard case .success(let other) = whole, other == b else {
                throw FuzzFailure(description: "the book read by hand (audit trail apart) accepts what init(from:) does not, or decodes it differently: \(show(bytes))")
            }
        case .failure(let e):
            try requireExplained(e, "lease book", code: .corrupt)
            guard case .failure = whole else {
                throw FuzzFailure(description: "the book read by hand (audit trail apart) refuses what init(from:) accepts (\(e.message)): \(show(bytes))")
            }
            return
        }
        Tally.accepted = true
        let written = book.json
        switch attempt({ () throws(SRIOVError) in try LeaseRecordFormat.decodeBook(written) }) {
        case .success(let again):
            try require(again == book, "the lease book does not survive JSONWriter: \(show(written))")
        case .failure(let e):
            throw FuzzFailure(description: "JSONWriter's lease book does not decode: \(e.message)\n  \(show(written))")
        }
        let encoded: [UInt8]
        do { encoded = try Array(LeaseRecordFormat.encoder().encode(book)) } catch {
            throw FuzzFailure(description: "JSONEncoder cannot encode a decoded lease book: \(error)")
        }
        try require(encoded == written, "JSONWriter and JSONEncoder disagree:\n  writer  \(show(written))\n  encoder \(show(encoded))")
    }
}

/// A journal record's payload (byte 0 picks the record type, the rest is the JSON): decoded, the event
/// written back (JSONWriter) decodes to the same event, and those bytes are JSONEncoder's.
enum RecordTarget {
    static let types = ["lease.reserved", "vf.saved", "vf.configuring", "vf.binding", "lease.activated", "lease.renewed",
                        "lease.releasing", "vf.returned", "lease.released", "vf.quarantined", "vf.unquarantined",
                        "lease.drift", "lease.marked", "pf.numvfs", "audit", "lease.unknown-type"]

    static func run(_ bytes: [UInt8]) throws(FuzzFailure) {
        guard let selector = bytes.first else { return }
        let type = types[Int(selector) % types.count]
        let data = Array(bytes.dropFirst())
        // The hand-written reading of the hot records accepts only what Codable accepts, as the same event.
        if let read = LeaseRecordFormat.readEvent(type: type, data: data) {
            switch attempt({ () throws(SRIOVError) in try LeaseRecordFormat.decodeEventCodable(type: type, data: data) }) {
            case .success(let codable):
                try require(read == codable, "\(type): read by hand as \(read), through Codable as \(codable): \(show(data))")
            case .failure(let e):
                throw FuzzFailure(description: "\(type): read by hand, refused by Codable (\(e.message)): \(show(data))")
            }
        }
        let event: LeaseEvent
        switch attempt({ () throws(SRIOVError) in try LeaseRecordFormat.decodeEvent(type: type, data: data) }) {
        case .success(let e): event = e
        case .failure(let e):
            try requireExplained(e, "record \(type)", code: .corrupt)
            return
        }
        Tally.accepted = true
        try require(event.type == type, "a \(type) record decoded as \(event.type)")
        let written = LeaseRecordFormat.payloadJSON(event)
        switch attempt({ () throws(SRIOVError) in try LeaseRecordFormat.decodeEvent(type: type, data: written) }) {
        case .success(let again):
            try require(again == event, "\(type) does not survive JSONWriter: \(show(written))")
        case .failure(let e):
            throw FuzzFailure(description: "JSONWriter's \(type) does not decode: \(e.message)\n  \(show(written))")
        }
        let encoded: [UInt8]
        do { encoded = try LeaseRecordFormat.payloadEncoded(event) } catch {
            throw FuzzFailure(description: "JSONEncoder cannot encode a decoded \(type): \(error)")
        }
        try require(encoded == written, "\(type): JSONWriter and JSONEncoder disagree:\n  writer  \(show(written))\n  encoder \(show(encoded))")
    }
}
