import SRIOVCore

/// One pass over `journal.jsonl` applying the recovery rules, shared by start-up, verify and repair:
/// - a bad last line, or a last line without its newline, is a torn tail (a write cut short);
/// - a bad line anywhere else, a version this build does not know, a gap or a non-increasing seq is
///   damage.
struct JournalScan {
    struct Problem {
        var line: Int
        var reason: String
        var unsupportedVersion: UInt64? = nil
        /// The journal needs a snapshot that is missing or is not the one it was compacted after:
        /// only restoring that snapshot helps (repair cannot).
        var needsSnapshot = false
    }

    /// The snapshot a compacted journal continues from, named by its first record.
    struct Base: Equatable {
        var seq: UInt64
        var crc: UInt32
    }

    let path: String
    /// Start-up and repair stop at the first damage; verify reads on and reports everything.
    let stopAtFirstProblem: Bool
    /// Collect entries with seq above this (start-up); nil collects nothing.
    let collectAfter: UInt64?

    private(set) var entries: [JournalEntry] = []
    private(set) var lines = 0
    private(set) var records = 0
    private(set) var firstSeq: UInt64?
    /// Set when the first record is a `journal.snapshot` record: the journal holds only what follows
    /// that snapshot, so start-up needs it.
    private(set) var base: Base?
    private(set) var firstSeqLine = 0
    private(set) var lastSeq: UInt64?
    /// Damage other than a torn tail, in file order.
    private(set) var problems: [Problem] = []
    private(set) var torn: Problem?
    /// End offset of the last good line before the first bad one: what start-up truncates to and what
    /// repair keeps.
    private(set) var prefixEnd = 0
    private(set) var prefixRecords = 0
    private(set) var prefixLastSeq: UInt64?

    private var held: Problem?
    private var damaged = false
    private var resync = false
    private var lastType: (bytes: [UInt8], string: String) = ([], "")

    init(path: String, stopAtFirstProblem: Bool, collectAfter: UInt64?) {
        self.path = path
        self.stopAtFirstProblem = stopAtFirstProblem
        self.collectAfter = collectAfter
    }

    /// Reads the whole file (up to `limit` bytes).
    mutating func run(fd: Int32, limit: Int = .max) throws(SRIOVError) {
        try LineReader.forEachLine(fd: fd, path: path, limit: limit) { (line) throws(SRIOVError) -> Bool in
            self.consume(line)
        }
        if let h = held {
            held = nil
            torn = Problem(line: h.line, reason: "\(h.reason) (the last record is incomplete: a write was cut short)")
        }
    }

    private mutating func report(_ problem: Problem) -> Bool {
        problems.append(problem)
        damaged = true
        resync = true
        return !stopAtFirstProblem
    }

    private mutating func consume(_ line: LineReader.Line) -> Bool {
        lines += 1
        if let h = held {
            held = nil
            guard report(h) else { return false }
        }
        guard line.hasNewline else {
            torn = Problem(line: line.number, reason: "the last line has no newline (\(line.bytes.count) bytes): a write was cut short")
            damaged = true
            return false
        }
        switch RecordCodec.decode(line.bytes) {
        case .failure(.damaged(let reason)):
            held = Problem(line: line.number, reason: reason)
            damaged = true
            return true
        case .failure(.unsupportedVersion(let v)):
            return report(Problem(line: line.number,
                                  reason: "record format version \(v) is not supported by this sriovd (it reads version \(RecordCodec.version)); run the sriovd that wrote it or a newer one",
                                  unsupportedVersion: v))
        case .success(let record):
            let isBase = RecordCodec.matches(UnsafeRawBufferPointer(rebasing: line.bytes[record.type]), at: 0, RecordCodec.snapshotBaseType)
                && record.type.count == RecordCodec.snapshotBaseType.count
            if isBase {
                guard lastSeq == nil else {
                    return report(Problem(line: line.number, reason: "a \(RecordCodec.snapshotBaseTypeName) record after the first line (it may only open a compacted journal)"))
                }
                guard let named = RecordCodec.decodeSnapshotBase(UnsafeRawBufferPointer(rebasing: line.bytes[record.data])), named.seq == record.seq else {
                    return report(Problem(line: line.number, reason: "the \(RecordCodec.snapshotBaseTypeName) record does not name its snapshot as {\"crc\":\"<8 hex digits>\",\"seq\":\(record.seq)}"))
                }
                base = Base(seq: named.seq, crc: named.crc)
            }
            if let previous = lastSeq {
                if record.seq <= previous {
                    return report(Problem(line: line.number, reason: "seq \(record.seq) does not follow seq \(previous): sequence numbers must increase by one"))
                }
                if record.seq != previous + 1 && !resync {
                    let missing = record.seq - previous == 2 ? "record \(previous + 1) is" : "records \(previous + 1)-\(record.seq - 1) are"
                    let keepGoing = report(Problem(line: line.number, reason: "seq \(record.seq) follows seq \(previous): \(missing) missing"))
                    lastSeq = record.seq
                    records += 1
                    resync = false
                    return keepGoing
                }
            } else {
                firstSeq = record.seq
                firstSeqLine = line.number
            }
            resync = false
            lastSeq = record.seq
            if !isBase { records += 1 }
            if !damaged {
                prefixEnd = line.end
                prefixRecords += 1
                prefixLastSeq = record.seq
            }
            if let after = collectAfter, record.seq > after, !isBase { entries.append(entry(record, line.bytes)) }
            return true
        }
    }

    /// Consecutive records usually share a type; reuse its String instead of decoding it again.
    private mutating func entry(_ r: RecordCodec.Record, _ line: UnsafeRawBufferPointer) -> JournalEntry {
        let typeBytes = UnsafeRawBufferPointer(rebasing: line[r.type])
        let type: String
        if typeBytes.elementsEqual(lastType.bytes) {
            type = lastType.string
        } else {
            type = String(decoding: typeBytes, as: UTF8.self)
            lastType = (Array(typeBytes), type)
        }
        return JournalEntry(seq: r.seq, time: r.time, type: type, data: Array(UnsafeRawBufferPointer(rebasing: line[r.data])))
    }

    /// The first record must continue the snapshot (or be seq 1 without one), and a compacted journal
    /// needs the very snapshot it was compacted after (or a newer one, written just before a
    /// compaction that a crash stopped). Checked after the scan because verify reads the snapshot after
    /// the journal.
    func startProblem(snapshot: JournalSnapshot?, directory: String) -> Problem? {
        let snapshotPath = directory + "/" + SnapshotFile.name
        if let base {
            let needed = "the snapshot at seq \(base.seq) (crc \(RecordCodec.hexString(base.crc)))"
            let remedy = "restore that \(SnapshotFile.name) from a backup (the journal was compacted after it and no longer holds the records it covers); to give up the leases it held instead, move \(directory)/\(Journal.journalName) and \(SnapshotFile.name) aside: sriovd then starts empty and quarantines the VFs it finds in use"
            guard let snapshot else {
                return Problem(line: firstSeqLine, reason: "the journal continues from \(needed), but \(snapshotPath) is missing; \(remedy)", needsSnapshot: true)
            }
            if snapshot.seq < base.seq {
                return Problem(line: firstSeqLine, reason: "the journal continues from \(needed), but \(snapshotPath) is an older one (seq \(snapshot.seq)); \(remedy)", needsSnapshot: true)
            }
            if snapshot.seq == base.seq {
                let crc = CRC32C.checksum(snapshot.data)
                if crc != base.crc {
                    return Problem(line: firstSeqLine, reason: "the journal continues from \(needed), but \(snapshotPath) is another snapshot at that seq (crc \(RecordCodec.hexString(crc))); \(remedy)", needsSnapshot: true)
                }
            }
            return nil
        }
        guard let first = firstSeq else { return nil }
        let base = snapshot?.seq ?? 0
        guard first > base + 1 else { return nil }
        let missing = first - base == 2 ? "record \(base + 1) is" : "records \(base + 1)-\(first - 1) are"
        let reason = snapshot == nil
            ? "the journal starts at seq \(first) but there is no snapshot.json: \(missing) missing"
            : "the journal starts at seq \(first) but snapshot.json ends at seq \(base): \(missing) missing"
        return Problem(line: firstSeqLine, reason: reason)
    }
}
