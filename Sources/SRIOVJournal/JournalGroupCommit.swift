#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SRIOVCore

extension Journal {
    /// Appends one record and returns its seq once it is durable (written and fsync'd). Concurrent
    /// callers share fsyncs; seq order is file order. The payload is encoded on the caller's task, not
    /// on the actor, so encoding runs in parallel and the actor only queues bytes.
    public nonisolated func append<T: Encodable & Sendable>(type: String, _ payload: T) async throws(SRIOVError) -> UInt64 {
        try await enqueue([try line(type: type, payload)])
    }

    /// Appends several records with consecutive seqs, in order, and returns the last seq once all are
    /// durable: one wait, and never interleaved with another caller's records.
    public nonisolated func append(_ records: [(type: String, payload: any Encodable & Sendable)]) async throws(SRIOVError) -> UInt64 {
        var lines: [(String, [UInt8])] = []
        lines.reserveCapacity(records.count)
        for record in records { lines.append(try line(type: record.type, record.payload)) }
        return try await enqueue(lines)
    }

    /// Queues records (consecutive seqs, in order) and returns the last seq without waiting for the
    /// fsync: for outcomes that recovery would reach again from the records before them. They go out
    /// with the next batch, so any later durable append makes them durable too; `waitDurable` waits.
    public nonisolated func appendQueued(_ records: [(type: String, payload: any Encodable & Sendable)]) async throws(SRIOVError) -> UInt64 {
        var lines: [(String, [UInt8])] = []
        lines.reserveCapacity(records.count)
        for record in records { lines.append(try line(type: record.type, record.payload)) }
        return try await queue(lines)
    }

    /// `appendQueued` for payloads already written as JSON (`JSONWriter`): each must be one line.
    public nonisolated func appendQueued(encoded records: [(type: String, json: [UInt8])]) async throws(SRIOVError) -> UInt64 {
        for record in records { try checkLine(type: record.type, record.json) }
        return try await queue(records.map { ($0.type, $0.json) })
    }

    func queue(_ lines: [(String, [UInt8])]) throws(SRIOVError) -> UInt64 {
        try checkUsable()
        guard !lines.isEmpty else { return nextSeq - 1 }
        let timestamp = RecordCodec.timestamp()
        for (type, data) in lines {
            RecordCodec.encode(seq: nextSeq, timestamp: timestamp, type: type, data: data, into: &pendingBytes)
            nextSeq += 1
        }
        pendingWaiters.append((nextSeq - 1, lines.count, nil))
        // Nobody waits for these: let the next append's batch carry them, or flush them shortly.
        if !flushScheduled {
            flushScheduled = true
            Task {
                try? await Task.sleep(for: .milliseconds(5))
                await self.scheduledFlush()
            }
        }
        return nextSeq - 1
    }

    func scheduledFlush() {
        flushScheduled = false
        startFlushIfIdle()
    }

    /// Returns once every record through `seq` is durable.
    public func waitDurable(through seq: UInt64) async throws(SRIOVError) {
        try checkUsable()
        guard seq > durableSeq else { return }
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<UInt64, SRIOVError>, Never>) in
            // Resumed after the next batch, which follows every record queued so far.
            pendingWaiters.append((nextSeq - 1, 0, continuation))
            startFlushIfIdle()
        }
        _ = try result.get()
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
        guard !data.isEmpty, !data.contains(0x0a) else {
            throw SRIOVError(.invalidArgument, "journal record \(type): the payload's JSON is not a single line")
        }
    }

    /// Assigns the next seqs and queues the lines; resumes when its batch is durable with the last seq.
    func enqueue(_ lines: [(String, [UInt8])]) async throws(SRIOVError) -> UInt64 {
        try checkUsable()
        guard !lines.isEmpty else { return durableSeq }
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<UInt64, SRIOVError>, Never>) in
            let timestamp = RecordCodec.timestamp()
            for (type, data) in lines {
                RecordCodec.encode(seq: nextSeq, timestamp: timestamp, type: type, data: data, into: &pendingBytes)
                nextSeq += 1
            }
            pendingWaiters.append((nextSeq - 1, lines.count, continuation))
            startFlushIfIdle()
        }
        return try result.get()
    }

    func startFlushIfIdle() {
        guard !flushing, !compacting, !closed, !pendingWaiters.isEmpty else { return }
        flushing = true
        Task { await self.drain() }
    }

    /// Writes queued records batch by batch until the queue is empty (or compaction wants the file).
    func drain() async {
        while !pendingWaiters.isEmpty, !compacting, !closed {
            var queued = pendingBytes
            let waiters = pendingWaiters
            pendingBytes = []
            pendingBytes.reserveCapacity(queued.count)
            pendingWaiters = []
            if let cut = CrashHook.cut(queued, records: waiters.reduce(0) { $0 + $1.records }) {
                queued = Array(queued[..<cut])   // test hook: the process dies after writing this much
            }
            let bytes = queued
            let fd = self.fd, path = self.path, sync = self.sync, length = fileLength
            let outcome = await onIOThread { Journal.writeBatch(fd: fd, bytes: bytes, path: path, sync: sync, length: length) }
            switch outcome {
            case .success(let seconds):
                fileLength += bytes.count
                let records = waiters.reduce(0) { $0 + $1.records }
                stats.appends += records
                stats.fsyncs += 1
                stats.fsyncSeconds += seconds
                if let last = waiters.last { durableSeq = last.seq }
                CrashHook.appendsBecameDurable(records)
                for waiter in waiters { waiter.continuation?.resume(returning: .success(waiter.seq)) }
            case .failure(let error):
                let first = waiters.first?.seq ?? nextSeq
                let poisoned = SRIOVError(error.code,
                                          "\(error.message). The journal stops accepting records (seq \(first) and later may or may not be on disk): fix the disk, then restart sriovd, which re-reads the journal",
                                          cause: error.cause)
                failure = poisoned
                for waiter in waiters { waiter.continuation?.resume(returning: .failure(poisoned)) }
                for waiter in pendingWaiters { waiter.continuation?.resume(returning: .failure(poisoned)) }
                pendingWaiters = []
                pendingBytes = []
            }
        }
        flushing = false
        let idle = idleWaiters
        idleWaiters = []
        for waiter in idle { waiter.resume() }
        releaseIfIdle()
    }

    /// One write(2) of the batch, then one fsync. Returns the fsync time. A failed write is cut back
    /// off the file so it still ends with a whole record.
    static func writeBatch(fd: Int32, bytes: [UInt8], path: String, sync: Bool, length: Int) -> Result<Double, SRIOVError> {
        do throws(SRIOVError) {
            try DurableFile.writeAll(fd, bytes, path: path)
        } catch {
            _ = ftruncate(fd, off_t(length))
            return .failure(error)
        }
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
