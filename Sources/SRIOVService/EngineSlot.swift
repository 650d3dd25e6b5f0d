import Synchronization
import SRIOVCore
import SRIOVLeasing

/// Where the API finds the engine: empty until recovery and reconcile finish, and again while draining.
public final class EngineSlot: Sendable {
    public enum Phase: String, Sendable { case starting, ready, stopping }

    private let state = Mutex<(phase: Phase, engine: LeaseEngine?, host: LeaseEngine.Host?)>((.starting, nil, nil))

    public init() {}

    public func setReady(_ engine: LeaseEngine, host: LeaseEngine.Host) {
        state.withLock { $0 = (.ready, engine, host) }
    }

    /// Readiness goes; requests already holding the engine finish on it.
    public func setStopping() {
        state.withLock { $0.phase = .stopping }
    }

    public var phase: Phase { state.withLock { $0.phase } }

    /// Why `GET /readyz` must answer 503, or nil when sriovd can serve: still starting, stopping, or
    /// running with a journal that refuses writes (a failed write or fsync, e.g. a full disk), when
    /// every lease step would fail.
    public var notReadyReason: String? {
        let (phase, engine) = state.withLock { ($0.phase, $0.engine) }
        guard phase == .ready else {
            return "sriovd is \(phase.rawValue), not ready (journal replay and reconcile run before it serves)"
        }
        if let failure = engine?.journalFailure {
            return "sriovd cannot record lease steps: \(failure.message)"
        }
        return nil
    }

    /// The engine once started (kept while stopping, so in-flight requests finish on it).
    public var engine: LeaseEngine? { state.withLock { $0.engine } }

    /// The engine and its host, or a `busy` error the API turns into 503 via `ServiceUnavailable`.
    func require() throws -> (LeaseEngine, LeaseEngine.Host) {
        let (phase, engine, host) = state.withLock { ($0.phase, $0.engine, $0.host) }
        guard let engine, let host else {
            throw ServiceUnavailable(detail: "sriovd is \(phase.rawValue): the journal is being replayed and reconciled; retry when GET /readyz says ready")
        }
        return (engine, host)
    }
}

/// 503: the engine is not there (yet).
struct ServiceUnavailable: Error {
    let detail: String
}
