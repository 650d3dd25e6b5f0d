#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Dispatch
import SRIOVCore
import Synchronization

/// The append side of a journal: group commit without an actor.
///
/// Records are numbered and queued under a lock, from whatever context the caller runs in (a lease
/// step on its actor queues with no hop). Batches are written and fsync'd on the journal's I/O
/// queue, which also resumes the waiters whose records became durable: a durable wait costs one
/// hop back to the waiter's executor, and never waits behind lease work in the cooperative pool.
/// While one batch is being written, new records queue and go out together in the next one (one
/// write(2), one fsync).
///
/// A caller may also have its records *written* at once, without waiting for an fsync (`writeNow`):
/// the write(2) happens on the caller's thread under the commit lock, in file order after everything
/// queued before, even while an fsync of earlier bytes is in flight. Written bytes are in the page
/// cache: they survive the process being killed, and the next fsync makes them durable.
final class GroupCommit: Sendable {
    typealias Waiter = (seq: UInt64, continuation: CheckedContinuation<Result<UInt64, SRIOVError>, Never>)

    struct State {
        /// The journal file, opened O_APPEND; -1 once closed.
        var fd: Int32
        /// Bytes in the file that are whole, written records.
        var fileLength: Int
        var nextSeq: UInt64
        /// The last seq written to the file (in the page cache; durable once an fsync covers it).
        var writtenSeq: UInt64
        var durableSeq: UInt64
        /// Encoded records after the last batch taken, and how many.
        var pendingBytes: [UInt8] = []
        var pendingRecords = 0
        /// Callers waiting for a seq to become durable (it is pending or in the batch being written).
        var waiters: [Waiter] = []
        /// Callers waiting for a seq to be written (only while compaction holds the file).
        var writtenWaiters: [Waiter] = []
        /// A batch is being written (the drain loop runs on `io`).
        var flushing = false
        /// A delayed flush of queued-only records is scheduled.
        var flushScheduled = false
        /// Compaction is replacing the file: batches wait.
        var paused = false
        var closed = false
        /// Set when a write or fsync failed: the file's tail can no longer be trusted, so every later
        /// append fails until a restart re-reads the journal.
        var failure: SRIOVError?
        var stats = JournalStatistics()
        /// Resumed when the drain loop stops (compaction and close wait for it).
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    let state: Mutex<State>
    let io: DispatchQueue
    let path: String
    let directory: String
    let sync: Bool

    init(fd: Int32, length: Int, lastSeq: UInt64, path: String, directory: String, sync: Bool, io: DispatchQueue) {
        state = Mutex(State(fd: fd, fileLength: length, nextSeq: lastSeq + 1, writtenSeq: lastSeq, durableSeq: lastSeq))
        self.io = io
        self.path = path
        self.directory = directory
        self.sync = sync
    }

    deinit {
        state.withLock { s in
            if s.fd >= 0 {
                Glibc.close(s.fd)
                s.fd = -1
            }
        }
    }

    func closedError() -> SRIOVError {
        SRIOVError(.io, "the journal in \(directory) is closed; nothing more can be recorded by this process")
    }

    private func unusable(_ s: State) -> SRIOVError? {
        if s.closed { return closedError() }
        return s.failure
    }

    /// Throws if the journal is closed or poisoned by a failed write.
    func checkUsable() throws(SRIOVError) {
        if let error = state.withLock({ unusable($0) }) { throw error }
    }

    /// The failed write or fsync that stopped the journal, if one did.
    var failure: SRIOVError? { state.withLock { $0.failure } }

    var durableSeq: UInt64 { state.withLock { $0.durableSeq } }
    var statistics: JournalStatistics { state.withLock { $0.stats } }

    // MARK: Appending

    /// Numbers and queues `lines` (consecutive seqs, in order) and returns the last seq. With
    /// `lazy`, nobody waits for them yet: the next batch carries them, or a flush 5 ms later.
    func queue(_ lines: [(String, [UInt8])], lazy: Bool) throws(SRIOVError) -> UInt64 {
        let (last, scheduleFlush) = try state.withLock { (s: inout State) throws(SRIOVError) -> (UInt64, Bool) in
            if let error = unusable(s) { throw error }
            guard !lines.isEmpty else { return (s.nextSeq - 1, false) }
            let timestamp = RecordCodec.timestamp()
            for (type, data) in lines {
                RecordCodec.encode(seq: s.nextSeq, timestamp: timestamp, type: type, data: data, into: &s.pendingBytes)
                s.nextSeq += 1
            }
            s.pendingRecords += lines.count
            guard lazy, !s.flushing, !s.flushScheduled else { return (s.nextSeq - 1, false) }
            s.flushScheduled = true
            return (s.nextSeq - 1, true)
        }
        if scheduleFlush { scheduleDelayedFlush() }
        return last
    }

    /// Returns once every record through `seq` is durable (or fails with the journal's error).
    func waitDurable(through seq: UInt64) async throws(SRIOVError) {
        try await park(through: seq, until: .durable)
    }

    /// Returns once every record through `seq` is written to the file (not necessarily fsync'd):
    /// at once, on the caller's thread, unless a compaction holds the file. Written records survive
    /// the process being killed; a power loss may take them (and nothing acknowledged may rest on
    /// them alone: whoever answers a caller waits for `waitDurable`, whose fsync covers them).
    func waitWritten(through seq: UInt64) async throws(SRIOVError) {
        if try writeNow(through: seq) { return }
        try await park(through: seq, until: .written)
    }

    /// What a parked caller waits for.
    private enum Stage { case written, durable }

    /// Parks the caller until the drain loop has taken `stage` through `seq` (a seq never queued is
    /// waited for as the last one queued), starting the loop if it is idle. A switch, not key paths:
    /// a key path's first use in a process costs ~0.6M instructions of runtime type lookups, paid by
    /// every `sriovctl --direct` command.
    private func park(through seq: UInt64, until stage: Stage) async throws(SRIOVError) {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<UInt64, SRIOVError>, Never>) in
            let (immediate, start) = state.withLock { s -> (Result<UInt64, SRIOVError>?, Bool) in
                if let error = unusable(s) { return (.failure(error), false) }
                let waiter = (min(seq, s.nextSeq - 1), continuation)
                switch stage {
                case .written:
                    if seq <= s.writtenSeq { return (.success(seq), false) }
                    s.writtenWaiters.append(waiter)
                case .durable:
                    if seq <= s.durableSeq { return (.success(seq), false) }
                    s.waiters.append(waiter)
                }
                return (nil, startLocked(&s))
            }
            if let immediate {
                continuation.resume(returning: immediate)
            } else if start {
                io.async { self.drain() }
            }
        }
        _ = try result.get()
    }

    /// Writes what is pending through `seq` now, if the file is free to write. Returns false when a
    /// compaction holds the file (the caller waits for the drain loop instead).
    ///
    /// No delayed flush is armed for what this writes: the caller follows with a durable wait of its
    /// own (an acquire's or a release's answer), whose fsync covers these bytes by file order, and
    /// until then they are in the page cache, which a killed process leaves behind. A timer armed per
    /// lease step only woke the I/O thread to find nothing left to do (two wake-ups a lease cycle; on
    /// the kernel lane's guest each costs tens of microseconds). Records other callers queued with
    /// nobody waiting keep the delayed flush they armed (`queue(lazy:)`).
    private func writeNow(through seq: UInt64) throws(SRIOVError) -> Bool {
        let (done, failed) = state.withLock { s -> (Bool, [Waiter]) in
            if unusable(s) != nil { return (true, []) }
            if seq <= s.writtenSeq { return (true, []) }
            if s.paused { return (false, []) }
            return (true, writeLocked(&s))
        }
        resume(failed)
        if let error = state.withLock({ unusable($0) }) { throw error }
        return done
    }

    /// Writes every pending byte (one write(2), under the lock so that file order is seq order) and
    /// advances `writtenSeq`. On failure the journal is poisoned; returns the waiters to fail.
    private func writeLocked(_ s: inout State) -> [Waiter] {
        guard !s.pendingBytes.isEmpty else { return [] }
        var bytes = s.pendingBytes
        let records = s.pendingRecords
        let last = s.nextSeq - 1
        s.pendingBytes = []
        s.pendingBytes.reserveCapacity(bytes.count)
        s.pendingRecords = 0
        if let cut = CrashHook.cut(bytes, records: records) {
            bytes = Array(bytes[..<cut])   // test hook: the process dies after writing this much
        }
        do throws(SRIOVError) {
            try DurableFile.writeAll(s.fd, bytes, path: path)
        } catch {
            _ = ftruncate(s.fd, off_t(s.fileLength))
            let poisoned = SRIOVError(error.code,
                                      "\(error.message). The journal stops accepting records (seq \(last - UInt64(records) + 1) and later are not on disk): fix the disk, then restart sriovd, which re-reads the journal",
                                      cause: error.cause)
            s.failure = poisoned
            let failed = s.waiters + s.writtenWaiters
            s.waiters = []
            s.writtenWaiters = []
            return failed
        }
        s.fileLength += bytes.count
        s.stats.appends += records
        s.writtenSeq = last
        CrashHook.appendsWereWritten(records)
        return []
    }

    /// Resumes waiters that a failed write or fsync failed.
    private func resume(_ failed: [Waiter]) {
        guard !failed.isEmpty else { return }
        let error = state.withLock { unusable($0) } ?? closedError()
        for waiter in failed { waiter.continuation.resume(returning: .failure(error)) }
    }

    private func scheduleDelayedFlush() {
        io.asyncAfter(deadline: .now() + .milliseconds(5)) { [self] in
            let start = state.withLock { s -> Bool in
                s.flushScheduled = false
                return startLocked(&s)
            }
            if start { drain() }
        }
    }

    /// Marks the drain loop as running if there is something to write or fsync and nothing stops it.
    private func startLocked(_ s: inout State) -> Bool {
        guard !s.flushing, !s.paused, !s.closed, s.failure == nil,
              !s.pendingBytes.isEmpty || s.writtenSeq > s.durableSeq else { return false }
        s.flushing = true
        return true
    }

    /// The drain loop, on `io`: writes what is pending, then fsyncs everything written, until nothing
    /// is left (or compaction or close stops it), resuming the waiters of each step.
    private func drain() {
        while true {
            let step = state.withLock { s -> (fd: Int32, through: UInt64, written: [Waiter], failed: [Waiter])? in
                guard !s.paused, !s.closed, s.failure == nil else {
                    s.flushing = false
                    return nil
                }
                let failed = writeLocked(&s)
                if s.failure != nil {
                    s.flushing = false
                    return (s.fd, 0, [], failed)
                }
                let written = s.writtenWaiters.filter { $0.seq <= s.writtenSeq }
                s.writtenWaiters.removeAll { $0.seq <= s.writtenSeq }
                guard s.writtenSeq > s.durableSeq else {
                    s.flushing = false
                    return (s.fd, 0, written, [])
                }
                return (s.fd, s.writtenSeq, written, [])
            }
            guard let step else { break }
            for waiter in step.written { waiter.continuation.resume(returning: .success(waiter.seq)) }
            resume(step.failed)
            guard step.through > 0 else { break }
            let outcome = GroupCommit.syncFile(fd: step.fd, path: path, sync: sync)
            var ready: [Waiter] = []
            var result: Result<UInt64, SRIOVError> = .success(step.through)
            switch outcome {
            case .success(let seconds):
                state.withLock { s in
                    s.stats.fsyncs += 1
                    s.stats.fsyncSeconds += seconds
                    s.durableSeq = max(s.durableSeq, step.through)
                    ready = s.waiters.filter { $0.seq <= step.through }
                    s.waiters.removeAll { $0.seq <= step.through }
                }
            case .failure(let error):
                let poisoned = SRIOVError(error.code,
                                          "\(error.message). The journal stops accepting records (seq \(step.through) and before may or may not be on disk): fix the disk, then restart sriovd, which re-reads the journal",
                                          cause: error.cause)
                result = .failure(poisoned)
                state.withLock { s in
                    s.failure = poisoned
                    ready = s.waiters + s.writtenWaiters
                    s.waiters = []
                    s.writtenWaiters = []
                    s.pendingBytes = []
                    s.pendingRecords = 0
                }
            }
            for waiter in ready {
                switch result {
                case .success: waiter.continuation.resume(returning: .success(waiter.seq))
                case .failure: waiter.continuation.resume(returning: result)
                }
            }
        }
        let idle = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            let idle = s.idleWaiters
            s.idleWaiters = []
            return idle
        }
        for waiter in idle { waiter.resume() }
    }

    /// Returns once no batch is being written.
    private func waitIdle() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let running = state.withLock { s -> Bool in
                if s.flushing { s.idleWaiters.append(continuation) }
                return s.flushing
            }
            if !running { continuation.resume() }
        }
    }

    // MARK: Compaction and close

    /// The file and the length of its whole, written records, without stopping anything (the file
    /// only grows until a compaction pauses the batches).
    func position() -> (fd: Int32, length: Int) {
        state.withLock { ($0.fd, $0.fileLength) }
    }

    /// Stops batches and waits for the one being written; returns the file and its whole length.
    func pause() async -> (fd: Int32, length: Int) {
        state.withLock { $0.paused = true }
        await waitIdle()
        return state.withLock { ($0.fd, $0.fileLength) }
    }

    /// Lets batches go again, on `replacement` (the compacted file) if there is one.
    func resume(replacement: (fd: Int32, length: Int)?) {
        let start = state.withLock { s -> Bool in
            if let replacement {
                if s.fd >= 0 { Glibc.close(s.fd) }
                s.fd = replacement.fd
                s.fileLength = replacement.length
            }
            s.paused = false
            if s.closed, s.fd >= 0 {
                // Closed while compacting: the file was kept open for the compaction until now.
                Glibc.close(s.fd)
                s.fd = -1
            }
            return startLocked(&s)
        }
        if start { io.async { self.drain() } }
    }

    /// Stops every later append with `error`, and fails the appends waiting (a compaction whose
    /// rename could not be made durable: what is appended to the new file could vanish with it).
    func poison(_ error: SRIOVError) {
        let waiting = state.withLock { s -> [Waiter] in
            if s.failure == nil { s.failure = error }
            let waiting = s.waiters
            s.waiters = []
            s.pendingBytes = []
            s.pendingRecords = 0
            return waiting
        }
        for waiter in waiting { waiter.continuation.resume(returning: .failure(error)) }
    }

    /// Fails every waiter and stops batches; returns once the batch being written (if any) is done,
    /// with the file closed (unless a compaction is using it: `resume` closes it then).
    func close() async {
        let waiting = state.withLock { s -> [Waiter] in
            s.closed = true
            let waiting = s.waiters
            s.waiters = []
            s.pendingBytes = []
            s.pendingRecords = 0
            return waiting
        }
        let error = closedError()
        for waiter in waiting { waiter.continuation.resume(returning: .failure(error)) }
        await waitIdle()
        state.withLock { s in
            if s.fd >= 0, !s.paused {
                Glibc.close(s.fd)
                s.fd = -1
            }
        }
    }

    /// One fsync of the file (none when the journal runs without fsync). Returns its time.
    static func syncFile(fd: Int32, path: String, sync: Bool) -> Result<Double, SRIOVError> {
        guard sync else { return .success(0) }
        let clock = ContinuousClock()
        let start = clock.now
        do throws(SRIOVError) {
            try DurableFile.sync(fd, path: path)
        } catch {
            return .failure(error)
        }
        let d = clock.now - start
        return .success(Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
    }
}

extension Journal {
    /// Appends one record and returns its seq once it is durable (written and fsync'd). Concurrent
    /// callers share fsyncs; seq order is file order. Runs on the caller's executor: the payload is
    /// encoded there and queued under the commit lock, with no hop to the journal's actor.
    public nonisolated(nonsending) func append<T: Encodable & Sendable>(type: String, _ payload: T) async throws(SRIOVError) -> UInt64 {
        try await enqueue([try line(type: type, payload)])
    }

    /// Appends several records with consecutive seqs, in order, and returns the last seq once all are
    /// durable: one wait, and never interleaved with another caller's records.
    public nonisolated(nonsending) func append(_ records: [(type: String, payload: any Encodable & Sendable)]) async throws(SRIOVError) -> UInt64 {
        var lines: [(String, [UInt8])] = []
        lines.reserveCapacity(records.count)
        for record in records { lines.append(try line(type: record.type, record.payload)) }
        return try await enqueue(lines)
    }

    /// Queues records (consecutive seqs, in order) and returns the last seq without waiting for the
    /// fsync: for outcomes that recovery would reach again from the records before them. They go out
    /// with the next batch, so any later durable append makes them durable too; `waitDurable` waits.
    public nonisolated func appendQueued(_ records: [(type: String, payload: any Encodable & Sendable)]) throws(SRIOVError) -> UInt64 {
        var lines: [(String, [UInt8])] = []
        lines.reserveCapacity(records.count)
        for record in records { lines.append(try line(type: record.type, record.payload)) }
        return try commit.queue(lines, lazy: true)
    }

    /// `appendQueued` for payloads already written as JSON (`JSONWriter`): each must be one line.
    /// Synchronous: the caller's seqs are assigned before it returns, in the caller's order.
    /// `waitFollows`: the caller calls `waitDurable` or `waitWritten` for them next (the lease engine
    /// always does), so no delayed flush is armed for them: a timer per lease step only woke the I/O
    /// thread to find the caller's own wait had already written and fsync'd them.
    public nonisolated func appendQueued(encoded records: [(type: String, json: [UInt8])], waitFollows: Bool = false) throws(SRIOVError) -> UInt64 {
        for record in records { try checkLine(type: record.type, record.json) }
        return try commit.queue(records.map { ($0.type, $0.json) }, lazy: !waitFollows)
    }

    /// Returns once every record through `seq` is durable.
    public nonisolated(nonsending) func waitDurable(through seq: UInt64) async throws(SRIOVError) {
        try await commit.waitDurable(through: seq)
    }

    /// Returns once every record through `seq` is written to the file, fsync'd or not: at once, on the
    /// caller's thread, unless a compaction holds the file. Enough to order a record before a host
    /// step against the process being killed; not enough to answer a caller (`waitDurable`).
    public nonisolated(nonsending) func waitWritten(through seq: UInt64) async throws(SRIOVError) {
        try await commit.waitWritten(through: seq)
    }

    /// A record's type checked and its payload encoded as one line of JSON.
    nonisolated func line(type: String, _ payload: some Encodable & Sendable) throws(SRIOVError) -> (String, [UInt8]) {
        let data: [UInt8]
        do {
            data = try encoder.encode(payload)
        } catch {
            throw SRIOVError(.invalidArgument, "journal record \(type): the payload does not encode as JSON: \(error)",
                             cause: .other(String(describing: error)))
        }
        try checkLine(type: type, data)
        return (type, data)
    }

    /// A payload is a single line of JSON (the encoders escape newlines inside strings).
    nonisolated func checkLine(type: String, _ data: [UInt8]) throws(SRIOVError) {
        guard RecordCodec.isValidType(type) else {
            throw SRIOVError(.invalidArgument, "journal record type \(Quote.shell(type)) is not 1-100 characters of letters, digits and . _ - : /")
        }
        guard type != RecordCodec.snapshotBaseTypeName else {
            throw SRIOVError(.invalidArgument, "journal record type \(type) is the journal's own (it names the snapshot a compacted journal continues from); choose another type")
        }
        // memchr: the payloads are a kilobyte or more (a lease), checked on every lease step.
        guard !data.isEmpty, data.withUnsafeBytes({ memchr($0.baseAddress!, 0x0a, $0.count) }) == nil else {
            throw SRIOVError(.invalidArgument, "journal record \(type): the payload's JSON is not a single line")
        }
    }

    /// Queues the lines and resumes when they are durable, with the last seq.
    nonisolated(nonsending) func enqueue(_ lines: [(String, [UInt8])]) async throws(SRIOVError) -> UInt64 {
        if lines.isEmpty {
            try commit.checkUsable()
            return commit.durableSeq
        }
        let last = try commit.queue(lines, lazy: false)
        try await commit.waitDurable(through: last)
        return last
    }
}
