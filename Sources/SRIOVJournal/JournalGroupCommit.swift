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
        guard RecordCodec.isValidType(type) else {
            throw SRIOVError(.invalidArgument, "journal record type \(Quote.shell(type)) is not 1-100 characters of letters, digits and . _ - : /")
        }
        let data: [UInt8]
        do {
            data = Array(try encoder.encode(payload))
        } catch {
            throw SRIOVError(.invalidArgument, "journal record \(type): the payload does not encode as JSON: \(error)",
                             cause: .other(String(describing: error)))
        }
        // JSONEncoder escapes newlines inside strings and only emits raw ones when pretty-printing.
        guard !data.isEmpty, !data.contains(0x0a) else {
            throw SRIOVError(.invalidArgument, "journal record \(type): the payload's JSON is not a single line")
        }
        return try await enqueue(type: type, data: data)
    }

    /// Assigns the next seq and queues the line; resumes when its batch is durable.
    func enqueue(type: String, data: [UInt8]) async throws(SRIOVError) -> UInt64 {
        try checkUsable()
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<UInt64, SRIOVError>, Never>) in
            let seq = nextSeq
            nextSeq += 1
            RecordCodec.encode(seq: seq, timestamp: RecordCodec.timestamp(), type: type, data: data, into: &pendingBytes)
            pendingWaiters.append((seq, continuation))
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
            let bytes = pendingBytes
            let waiters = pendingWaiters
            pendingBytes = []
            pendingBytes.reserveCapacity(bytes.count)
            pendingWaiters = []
            let fd = self.fd, path = self.path, sync = self.sync, length = fileLength
            let outcome = await onIOThread { Journal.writeBatch(fd: fd, bytes: bytes, path: path, sync: sync, length: length) }
            switch outcome {
            case .success(let seconds):
                fileLength += bytes.count
                stats.appends += waiters.count
                stats.fsyncs += 1
                stats.fsyncSeconds += seconds
                if let last = waiters.last { durableSeq = last.seq }
                CrashHook.appendsBecameDurable(waiters.count)
                for waiter in waiters { waiter.continuation.resume(returning: .success(waiter.seq)) }
            case .failure(let error):
                let first = waiters.first?.seq ?? nextSeq
                let poisoned = SRIOVError(error.code,
                                          "\(error.message). The journal stops accepting records (seq \(first) and later may or may not be on disk): fix the disk, then restart sriovd, which re-reads the journal",
                                          cause: error.cause)
                failure = poisoned
                for waiter in waiters { waiter.continuation.resume(returning: .failure(poisoned)) }
                for waiter in pendingWaiters { waiter.continuation.resume(returning: .failure(poisoned)) }
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
