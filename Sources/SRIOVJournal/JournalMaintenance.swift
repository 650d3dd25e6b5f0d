#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SRIOVCore

/// What `JournalMaintenance.verify` found.
public struct JournalReport: Sendable, Codable {
    /// True when start-up would accept the state directory (a torn last record is listed in `problems`
    /// but does not clear `ok`: start-up drops it, and a running daemon may be mid-write).
    public var ok: Bool
    /// Valid records in the journal (including those a snapshot already covers).
    public var records: Int
    public var lastSeq: UInt64
    public var snapshotSeq: UInt64?
    /// Each problem with its file, line and reason.
    public var problems: [String]

    public init(ok: Bool, records: Int, lastSeq: UInt64, snapshotSeq: UInt64?, problems: [String]) {
        self.ok = ok
        self.records = records
        self.lastSeq = lastSeq
        self.snapshotSeq = snapshotSeq
        self.problems = problems
    }
}

/// What `JournalMaintenance.repair` did.
public struct JournalRepairReport: Sendable, Codable {
    /// Records kept (the valid prefix).
    public var kept: Int
    /// Lines dropped from the journal (the first damaged one and everything after it).
    public var dropped: Int
    /// Where the journal as it was before the repair now lives; nil when nothing needed repair.
    public var movedAside: String?

    public init(kept: Int, dropped: Int, movedAside: String?) {
        self.kept = kept
        self.dropped = dropped
        self.movedAside = movedAside
    }
}

/// `sriovctl journal verify` and `sriovctl journal repair`.
public enum JournalMaintenance {
    /// Reads without taking the lock (safe while a daemon runs: the journal is read before the snapshot,
    /// so a concurrent compaction cannot look like a gap); reports every problem with file, line, reason.
    public static func verify(directory: String) -> JournalReport {
        guard DurableFile.isDirectory(directory) else {
            return JournalReport(ok: false, records: 0, lastSeq: 0, snapshotSeq: nil,
                                 problems: ["state directory \(directory) does not exist; pass --state-dir with the daemon's state directory"])
        }
        let path = directory + "/" + Journal.journalName
        var problems: [String] = []
        var fatal = 0
        var scan = JournalScan(path: path, stopAtFirstProblem: false, collectAfter: nil)
        if DurableFile.exists(path) {
            do throws(SRIOVError) {
                let fd = try DurableFile.open(path, O_RDONLY)
                defer { close(fd) }
                try scan.run(fd: fd)
            } catch {
                problems.append(error.message)
                fatal += 1
            }
        }
        var snapshotSeq: UInt64?
        var snapshotReadable = true
        do throws(SRIOVError) {
            snapshotSeq = try SnapshotFile.load(directory: directory)?.seq
        } catch {
            problems.append(error.message)
            fatal += 1
            snapshotReadable = false
        }
        var journalProblems = scan.problems
        if snapshotReadable, let start = scan.startProblem(snapshotSeq: snapshotSeq) {
            journalProblems.insert(start, at: 0)
        }
        for problem in journalProblems {
            problems.append("\(path) line \(problem.line): \(problem.reason)")
            fatal += 1
        }
        if let torn = scan.torn {
            problems.append("\(path) line \(torn.line): \(torn.reason) (a torn last record: start-up drops it)")
        }
        let lastSeq = max(snapshotSeq ?? 0, scan.lastSeq ?? 0)
        return JournalReport(ok: fatal == 0, records: scan.records, lastSeq: lastSeq, snapshotSeq: snapshotSeq, problems: problems)
    }

    /// Needs the lock. Keeps every valid record before the first damaged one, moves the damaged file
    /// aside as `journal.jsonl.damaged-<unix time>` (never deletes data), rewrites the journal durably.
    public static func repair(directory: String) throws(SRIOVError) -> JournalRepairReport {
        guard DurableFile.isDirectory(directory) else {
            throw SRIOVError(.notFound, "state directory \(directory) does not exist; pass --state-dir with the daemon's state directory")
        }
        let lock = try StateLock.acquire(directory: directory)
        defer { lock.release() }
        let path = directory + "/" + Journal.journalName
        // A damaged snapshot cannot be repaired from a compacted journal: load() says so.
        let snapshot = try SnapshotFile.load(directory: directory)
        guard DurableFile.exists(path) else { return JournalRepairReport(kept: 0, dropped: 0, movedAside: nil) }
        let fd = try DurableFile.open(path, O_RDONLY)
        defer { close(fd) }
        var scan = JournalScan(path: path, stopAtFirstProblem: false, collectAfter: nil)
        try scan.run(fd: fd)
        var keepEnd = scan.prefixEnd
        var kept = scan.prefixRecords
        if let first = scan.problems.first, first.unsupportedVersion != nil {
            throw SRIOVError(.unsupported, "\(path) line \(first.line): \(first.reason); repair never drops records of a newer format")
        }
        if scan.startProblem(snapshotSeq: snapshot?.seq) != nil {
            keepEnd = 0
            kept = 0
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw DurableFile.errnoError("cannot stat \(path)") }
        if Int(st.st_size) == keepEnd {
            return JournalRepairReport(kept: kept, dropped: 0, movedAside: nil)
        }
        let aside = try moveAside(path, directory: directory)
        let tmp = path + ".tmp"
        let out = try DurableFile.open(tmp, O_WRONLY | O_CREAT | O_TRUNC)
        do throws(SRIOVError) {
            try Journal.copy(from: fd, range: 0..<keepEnd, to: out, path: path, tmp: tmp)
            try DurableFile.sync(out, path: tmp)
        } catch {
            close(out)
            DurableFile.unlink(tmp)
            throw error
        }
        close(out)
        try DurableFile.rename(tmp, path)
        try DurableFile.syncDirectory(directory)
        return JournalRepairReport(kept: kept, dropped: scan.lines - kept, movedAside: aside)
    }

    /// A second name for the journal as it is (a hard link, or a copy where links are not allowed), made
    /// durable before the journal is replaced, so a crash during repair loses nothing.
    static func moveAside(_ path: String, directory: String) throws(SRIOVError) -> String {
        let stamp = time(nil)
        var attempt = 1
        while true {
            let name = attempt == 1 ? "\(path).damaged-\(stamp)" : "\(path).damaged-\(stamp)-\(attempt)"
            if link(path, name) == 0 {
                try DurableFile.syncDirectory(directory)
                return name
            }
            let e = errno
            if e == EEXIST {
                attempt += 1
                continue
            }
            guard e == EPERM || e == EXDEV || e == ENOTSUP || e == EMLINK else {
                throw DurableFile.errnoError("cannot keep a copy of \(path) as \(name)", e)
            }
            // No hard links here: copy.
            let source = try DurableFile.open(path, O_RDONLY)
            defer { close(source) }
            var st = stat()
            guard fstat(source, &st) == 0 else { throw DurableFile.errnoError("cannot stat \(path)") }
            let target: Int32
            do throws(SRIOVError) {
                target = try DurableFile.open(name, O_WRONLY | O_CREAT | O_EXCL)
            } catch {
                if error.errno == EEXIST { attempt += 1; continue }
                throw error
            }
            defer { close(target) }
            try Journal.copy(from: source, range: 0..<Int(st.st_size), to: target, path: path, tmp: name)
            try DurableFile.sync(target, path: name)
            try DurableFile.syncDirectory(directory)
            return name
        }
    }
}
