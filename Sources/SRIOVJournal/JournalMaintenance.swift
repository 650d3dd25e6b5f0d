#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SRIOVCore

/// What `JournalMaintenance.verify` found.
public struct JournalReport: Sendable, Codable {
    /// True exactly when start-up would accept the state directory (a torn last record is listed in
    /// `problems` but does not clear `ok`: start-up drops it, and a running daemon may be mid-write).
    public var ok: Bool
    /// Valid records in the journal (including those a snapshot already covers; not counting the
    /// record that names the snapshot a compacted journal continues from).
    public var records: Int
    public var lastSeq: UInt64
    public var snapshotSeq: UInt64?
    /// The snapshot seq a compacted journal names as the one it continues from (nil: it needs none).
    public var requiresSnapshotSeq: UInt64?
    /// Each problem with its file, line (or record seq) and reason.
    public var problems: [String]
    /// True when `ok` is false and `sriovctl journal repair` would make start-up accept the directory
    /// (every problem lies in what repair drops); false when repair would refuse or leave a problem.
    public var repairable: Bool

    public init(ok: Bool, records: Int, lastSeq: UInt64, snapshotSeq: UInt64?, requiresSnapshotSeq: UInt64? = nil,
                problems: [String], repairable: Bool = false) {
        self.ok = ok
        self.records = records
        self.lastSeq = lastSeq
        self.snapshotSeq = snapshotSeq
        self.requiresSnapshotSeq = requiresSnapshotSeq
        self.problems = problems
        self.repairable = repairable
    }
}

/// A record (or the snapshot) the caller's replay refuses: what start-up would stop at after the
/// journal's own checks pass (an unknown record type, a payload that does not decode).
public struct JournalReplayProblem: Sendable, Equatable {
    /// The record's seq; nil for the snapshot.
    public var seq: UInt64?
    public var message: String

    public init(seq: UInt64?, message: String) {
        self.seq = seq
        self.message = message
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
    /// Runs start-up's checks: the journal's own (`JournalScan`, the snapshot it needs) and, through
    /// `replay`, the caller's (start-up's decoding of the snapshot and of every record after it), so
    /// `ok` is false exactly when start-up would refuse. Throws (instead of reporting damage) when the
    /// directory is missing or a file cannot be read: nothing is known to be damaged then.
    public static func verify(directory: String,
                              replay: ((JournalSnapshot?, [JournalEntry]) -> [JournalReplayProblem])? = nil) throws(SRIOVError) -> JournalReport {
        try requireStateDirectory(directory)
        let path = directory + "/" + Journal.journalName
        var problems: [String] = []
        var fatal = 0
        var repairable = true
        // Only records after the snapshot are replayed: collect those after the snapshot as it is now
        // (a compaction meanwhile only moves it forward; the final filter uses the one read after).
        let earlySnapshotSeq = replay == nil ? nil : ((try? SnapshotFile.load(directory: directory))?.seq ?? 0)
        var scan = JournalScan(path: path, stopAtFirstProblem: false, collectAfter: earlySnapshotSeq)
        if DurableFile.exists(path) {
            let fd = try DurableFile.open(path, O_RDONLY)
            defer { close(fd) }
            try scan.run(fd: fd)
        }
        var snapshot: JournalSnapshot?
        var snapshotReadable = true
        do throws(SRIOVError) {
            snapshot = try SnapshotFile.load(directory: directory)
        } catch where error.code == .corrupt || error.code == .unsupported {
            problems.append(error.message)
            fatal += 1
            snapshotReadable = false
            repairable = false   // repair refuses a damaged snapshot
        }
        var journalProblems = scan.problems
        if snapshotReadable, let start = scan.startProblem(snapshot: snapshot, directory: directory) {
            journalProblems.insert(start, at: 0)
            if start.needsSnapshot { repairable = false }
        }
        if scan.problems.first?.unsupportedVersion != nil { repairable = false }   // repair refuses it
        for problem in journalProblems {
            problems.append("\(path) line \(problem.line): \(problem.reason)")
            fatal += 1
        }
        if let torn = scan.torn {
            problems.append("\(path) line \(torn.line): \(torn.reason) (a torn last record: start-up drops it)")
        }
        if let replay, snapshotReadable {
            let snapshotSeq = snapshot?.seq ?? 0
            // What start-up replays: the snapshot and the records after it, up to the first damage.
            let replayed = scan.entries.filter { $0.seq > snapshotSeq }
            // What repair keeps: the records before the first damage (none when the start is wrong).
            let keptThrough = scan.startProblem(snapshot: snapshot, directory: directory) == nil ? (scan.prefixLastSeq ?? 0) : 0
            for problem in replay(snapshot, replayed) {
                problems.append(problem.message)
                fatal += 1
                if problem.seq.map({ $0 <= keptThrough }) ?? true { repairable = false }
            }
        }
        let lastSeq = max(snapshot?.seq ?? 0, scan.lastSeq ?? 0)
        return JournalReport(ok: fatal == 0, records: scan.records, lastSeq: lastSeq, snapshotSeq: snapshot?.seq,
                             requiresSnapshotSeq: scan.base?.seq, problems: problems, repairable: fatal > 0 && repairable)
    }

    /// The state directory must exist: a mistyped path is not a damaged journal, and sriovctl's
    /// in-process commands must not create a new, empty state directory and report success against it
    /// (sriovd creates its own on first start). `.notFound` (66) naming it; an access error as such.
    public static func requireStateDirectory(_ directory: String, simulated: Bool = false) throws(SRIOVError) {
        var st = stat()
        guard stat(directory, &st) == 0 else {
            let e = errno
            if e == ENOENT || e == ENOTDIR {
                let sample = simulated ? " (`sriovctl inventory --simulated --state-dir \(Quote.shell(directory))` makes one with a simulated host)" : ""
                throw SRIOVError(.notFound, "no state directory \(Quote.shell(directory)): is --state-dir mistyped? sriovd's is \(DefaultPaths.stateDirectory) unless it was started with another --state-dir; sriovd creates it on its first start, sriovctl never does\(sample)", cause: .errno(e))
            }
            throw DurableFile.errnoError("cannot reach the state directory \(directory)", e, hint: "run as root (or sriovd's user)")
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw SRIOVError(.invalidArgument, "the state directory \(Quote.shell(directory)) is not a directory; pass --state-dir with sriovd's state directory (default \(DefaultPaths.stateDirectory))")
        }
    }

    /// Needs the lock. Keeps every valid record before the first damaged one, moves the damaged file
    /// aside as `journal.jsonl.damaged-<unix time>` (never deletes data), rewrites the journal durably.
    public static func repair(directory: String) throws(SRIOVError) -> JournalRepairReport {
        try requireStateDirectory(directory)
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
        if let start = scan.startProblem(snapshot: snapshot, directory: directory) {
            if start.needsSnapshot {
                throw SRIOVError(.corrupt, "\(path) line \(start.line): \(start.reason); repair cannot rebuild a snapshot and left the journal as it is")
            }
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
