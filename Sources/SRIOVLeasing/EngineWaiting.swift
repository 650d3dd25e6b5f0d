import SRIOVCore

/// Callers parked on the engine until something they wait for changes: a lease another request is
/// acquiring under the same request id (`settled`), or the journal having no lease record in flight
/// (`snapshot`). Each waits on a continuation that the code making the change resumes (`number`, the
/// end of `record`), or, after its timeout on the engine's injected clock, resumes itself. No polling.
struct EngineWaiters {
    var nextToken: UInt64 = 0
    /// Waiters for a change of one lease's state (activated, releasing, released).
    var leases: [LeaseID: [UInt64: CheckedContinuation<Bool, Never>]] = [:]
    /// Waiters for `inflight` to reach 0.
    var quiet: [UInt64: CheckedContinuation<Bool, Never>] = [:]
    /// Waiters for no lease operation to be running (`busy` empty).
    var idle: [UInt64: CheckedContinuation<Bool, Never>] = [:]
    /// The timeout of each waiter, cancelled once it is resumed.
    var timers: [UInt64: Task<Void, Never>] = [:]
}

/// Time elapsed on an injected `Clock` since a reading was taken, without naming the clock's `Instant`
/// type: the engine keeps `any Clock<Duration>` (a test clock in tests, `ContinuousClock` otherwise).
struct Uptime: Sendable {
    let clock: any Clock<Duration>
    private let read: @Sendable () -> Duration

    init(_ clock: any Clock<Duration>) {
        self.clock = clock
        read = Uptime.reader(clock)
    }

    private static func reader<C: Clock>(_ clock: C) -> @Sendable () -> Duration where C.Duration == Duration {
        let start = clock.now
        return { start.duration(to: clock.now) }
    }

    /// Time since the engine started, on its clock.
    var now: Duration { read() }
}

extension LeaseEngine {
    /// Parks the caller until `register`'s waiter list is resumed, or `timeout` passes on the engine's
    /// clock. True when resumed by a change, false on timeout.
    private func park(timeout: Duration, _ register: (inout EngineWaiters, UInt64, CheckedContinuation<Bool, Never>) -> Void) async -> Bool {
        let token = waiters.nextToken
        waiters.nextToken += 1
        let clock = uptime.clock
        let changed = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            register(&waiters, token, continuation)
            waiters.timers[token] = Task { [weak self] in
                do { try await clock.sleep(for: timeout, tolerance: nil) } catch { return }
                await self?.timeOut(token)
            }
        }
        waiters.timers.removeValue(forKey: token)?.cancel()
        return changed
    }

    private func timeOut(_ token: UInt64) {
        waiters.timers[token] = nil
        if let continuation = waiters.quiet.removeValue(forKey: token) { continuation.resume(returning: false); return }
        if let continuation = waiters.idle.removeValue(forKey: token) { continuation.resume(returning: false); return }
        for (id, var parked) in waiters.leases {
            guard let continuation = parked.removeValue(forKey: token) else { continue }
            waiters.leases[id] = parked.isEmpty ? nil : parked
            continuation.resume(returning: false)
            return
        }
    }

    /// Waits for a change of lease `id`'s state (or its removal); false after `timeout`.
    func awaitChange(of id: LeaseID, timeout: Duration) async -> Bool {
        await park(timeout: timeout) { waiters, token, continuation in waiters.leases[id, default: [:]][token] = continuation }
    }

    /// Waits for no lease record to be in flight; false after `timeout`.
    func awaitQuiet(timeout: Duration) async -> Bool {
        guard inflight > 0 else { return true }
        return await park(timeout: timeout) { waiters, token, continuation in waiters.quiet[token] = continuation }
    }

    /// Waits until no lease's acquire or release is running in this process; false after `timeout`.
    func awaitNoOperations(timeout: Duration) async -> Bool {
        guard !busy.isEmpty else { return true }
        return await park(timeout: timeout) { waiters, token, continuation in waiters.idle[token] = continuation }
    }

    func resumeIdleWaiters() {
        let parked = waiters.idle
        waiters.idle = [:]
        for (_, continuation) in parked { continuation.resume(returning: true) }
    }

    /// Resumes whoever waits on the lease `event` changes (called after the book applied it).
    func resumeWaiters(after event: LeaseEvent) {
        guard !waiters.leases.isEmpty else { return }
        let id: LeaseID
        switch event {
        case .activated(let lease, _), .releasing(let lease, _, _), .released(let lease): id = lease
        default: return
        }
        guard let parked = waiters.leases.removeValue(forKey: id) else { return }
        for continuation in parked.values { continuation.resume(returning: true) }
    }

    /// One lease record less in flight; the last one resumes whoever waits for quiet.
    func finishedRecording() {
        inflight -= 1
        guard inflight == 0, !waiters.quiet.isEmpty else { return }
        let parked = waiters.quiet
        waiters.quiet = [:]
        for continuation in parked.values { continuation.resume(returning: true) }
    }
}
