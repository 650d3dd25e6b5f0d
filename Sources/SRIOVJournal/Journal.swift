#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Dispatch
import Foundation
import Logging
import SRIOVCore

/// The write-ahead journal of one state directory: `journal.jsonl` (one checksummed JSON record per
/// line) plus `snapshot.json`. A compacted journal opens with a `journal.snapshot` record naming the
/// snapshot (seq and crc) it continues from, so a lost or swapped snapshot is refused at start-up. Only one process owns a directory at a time (`lock`).
///
/// Appends are group-committed: while one batch is being written and fsync'd on the journal's I/O
/// thread, new appends queue on the actor and go out together in the next batch (one write(2), one
/// fsync). The actor never blocks in a syscall, so queuing continues during an fsync.
public actor Journal {
    static let journalName = "journal.jsonl"

    let directory: String
    let path: String
    let sync: Bool
    let logger: Logger
    /// Blocking write/fsync/rename run here, off the Swift cooperative pool: the appends' batches
    /// (`GroupCommit`), and the end of a compaction while they are paused.
    let io = DispatchQueue(label: "sriovd.journal.io")
    /// Shared by concurrent appends (JSONEncoder is thread-safe once configured).
    /// One-line JSON, sorted keys (the same bytes as JSONEncoder with .sortedKeys, .withoutEscapingSlashes).
    nonisolated let encoder = CompactJSONEncoder()

    var lock: StateLock?
    /// The journal file, its numbering and the batches being written (`GroupCommit`).
    nonisolated let commit: GroupCommit
    var snapshotSeq: UInt64

    /// A snapshot call is running (they take turns).
    var snapshotting = false
    /// The journal file is being rewritten.
    var compacting = false
    var snapshotWaiters: [CheckedContinuation<Void, Never>] = []
    var closed = false

    init(directory: String, path: String, fd: Int32, lock: StateLock, length: Int, lastSeq: UInt64,
         snapshotSeq: UInt64, sync: Bool, logger: Logger) {
        self.directory = directory
        self.path = path
        self.lock = lock
        self.snapshotSeq = snapshotSeq
        self.sync = sync
        self.logger = logger
        self.commit = GroupCommit(fd: fd, length: length, lastSeq: lastSeq, path: path, directory: directory, sync: sync, io: io)
    }

    deinit {
        lock?.release()
    }

    /// Takes the state directory's lock, creates the directory if needed, reads the snapshot and the
    /// journal, drops (and truncates away) a torn last line with a log line, refuses a corrupt record in
    /// the middle or a missing or wrong snapshot the journal needs, and opens the journal for appending.
    public static func open(_ options: JournalOptions, logger: Logger? = nil) throws(SRIOVError) -> (Journal, JournalRecovery) {
        let logger = logger ?? Logger(label: "sriovd.journal")
        let directory = options.directory
        try DurableFile.ensureDirectory(directory)
        let lock = try StateLock.acquire(directory: directory)
        let path = directory + "/" + journalName
        var fd: Int32 = -1
        do throws(SRIOVError) {
            // A temp file is an interrupted snapshot or compaction: the rename never happened.
            DurableFile.unlink(directory + "/" + SnapshotFile.name + ".tmp")
            DurableFile.unlink(path + ".tmp")
            let snapshot = try SnapshotFile.load(directory: directory)
            let existed = DurableFile.exists(path)
            fd = try DurableFile.open(path, O_RDWR | O_CREAT | O_APPEND)
            if !existed && options.fsync { try DurableFile.syncDirectory(directory) }

            var scan = JournalScan(path: path, stopAtFirstProblem: true, collectAfter: snapshot?.seq ?? 0)
            try scan.run(fd: fd)
            if let problem = scan.problems.first ?? scan.startProblem(snapshot: snapshot, directory: directory) {
                throw damageError(path: path, problem)
            }
            var length = scan.prefixEnd
            var dropped: String?
            if let torn = scan.torn {
                var st = stat()
                let size = fstat(fd, &st) == 0 ? Int(st.st_size) : length
                let description = "\(path) line \(torn.line): \(torn.reason); dropped its \(size - length) bytes"
                logger.warning("journal: dropped a torn last record (a write cut short by a crash; it was never acknowledged)",
                               metadata: ["file": "\(path)", "line": "\(torn.line)", "reason": "\(torn.reason)"])
                try DurableFile.truncate(fd, to: length, path: path)
                if options.fsync { try DurableFile.sync(fd, path: path) }
                dropped = description
            }
            let journalLast = scan.prefixLastSeq ?? 0
            if let snapshot, snapshot.seq > 0, journalLast <= snapshot.seq {
                // Nothing in the journal follows the snapshot (a compaction a crash stopped, or a state
                // directory from before journals named their snapshot): the journal becomes just the
                // record naming the snapshot, so the next append (snapshot + 1) continues without a gap
                // and a lost snapshot.json is noticed instead of starting with no leases.
                let crc = CRC32C.checksum(snapshot.data)
                if scan.base != JournalScan.Base(seq: snapshot.seq, crc: crc) {
                    logger.info("journal: nothing in it follows snapshot.json; rewriting it to name the snapshot",
                                metadata: ["file": "\(path)", "snapshotSeq": "\(snapshot.seq)", "lastSeq": "\(journalLast)"])
                    let line = RecordCodec.snapshotBase(seq: snapshot.seq, crc: crc)
                    try DurableFile.replace(path, in: directory, with: line, sync: options.fsync)
                    Glibc.close(fd)
                    fd = -1
                    fd = try DurableFile.open(path, O_RDWR | O_APPEND)
                    length = line.count
                }
            }
            let lastSeq = max(snapshot?.seq ?? 0, journalLast)
            let journal = Journal(directory: directory, path: path, fd: fd, lock: lock, length: length,
                                  lastSeq: lastSeq, snapshotSeq: snapshot?.seq ?? 0, sync: options.fsync, logger: logger)
            let recovery = JournalRecovery(snapshot: snapshot, entries: scan.entries, droppedTornTail: dropped, lastSeq: lastSeq)
            return (journal, recovery)
        } catch {
            if fd >= 0 { Glibc.close(fd) }
            lock.release()
            throw error
        }
    }

    static func damageError(path: String, _ problem: JournalScan.Problem) -> SRIOVError {
        if problem.unsupportedVersion != nil {
            return SRIOVError(.unsupported, "\(path) line \(problem.line): \(problem.reason)")
        }
        if problem.needsSnapshot {
            // The reason says what to restore; repair cannot bring a snapshot back.
            return SRIOVError(.corrupt, "\(path) line \(problem.line): \(problem.reason)")
        }
        return SRIOVError(.corrupt, "\(path) line \(problem.line): \(problem.reason); run `sriovctl journal verify` to see the damage and `sriovctl journal repair` to keep what precedes it")
    }

    /// The seq of the last durable record (or of the snapshot, if the journal has none after it).
    public var lastSeq: UInt64 { commit.durableSeq }

    /// Set once a write or fsync failed (a full disk, an I/O error): the journal refuses every append
    /// from then on, until a restart re-reads it. Readiness reads it.
    public nonisolated var writeFailure: SRIOVError? { commit.failure }

    /// Counters for metrics: appends, fsyncs (batches), total fsync time.
    public var statistics: JournalStatistics { commit.statistics }

    /// Fails the appends still waiting, lets an in-flight batch finish, and releases the lock (once a
    /// snapshot in progress has finished too); further appends fail.
    public func close() async {
        guard !closed else { return }
        closed = true
        // A snapshot's compaction reads the journal file while appends go on: it finishes (or, seeing
        // `closed`, gives up) before the file is closed.
        while snapshotting {
            await withCheckedContinuation { snapshotWaiters.append($0) }
        }
        await commit.close()
        releaseIfIdle()
    }

    func releaseIfIdle() {
        guard closed, !snapshotting, !compacting else { return }
        lock?.release()
        lock = nil
    }

    func closedError() -> SRIOVError { commit.closedError() }

    func checkUsable() throws(SRIOVError) {
        if closed { throw closedError() }
        try commit.checkUsable()
    }

    /// Runs blocking I/O on the journal's thread and resumes with its result.
    nonisolated func onIOThread<R: Sendable>(_ work: @escaping @Sendable () -> R) async -> R {
        await withCheckedContinuation { continuation in
            io.async { continuation.resume(returning: work()) }
        }
    }
}
