import SRIOVCore
import Synchronization

/// What subscribers of `GET /v1/events` hear: lease and VF lifecycle, read off journal records as the
/// engine applies them (`LeaseEngine.record` and `recordWritten`), so an event is only sent for a change
/// in the journal. Events are published when their records are numbered, before the fsync: after a
/// crash, recovery finishes a release and a subscriber may hear `lease.released` twice: delivery is at
/// least once.
public struct EngineEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable, Codable {
        case leaseAcquired = "lease.acquired"
        case leaseReleased = "lease.released"
        /// Released by the reaper: the TTL passed without a renew.
        case leaseExpired = "lease.expired"
        /// Released by the reaper: the lease's consumer (VM, process, unit) was gone for the grace period.
        case leaseReclaimed = "lease.reclaimed"
        case leaseDrift = "lease.drift"
        /// VFs of the lease vanished (a forced VF-count change, a device gone).
        case leaseLost = "lease.lost"
        case vfQuarantined = "vf.quarantined"
        case vfUnquarantined = "vf.unquarantined"
        case pfNumVFs = "pf.numvfs"
        /// A pooled PF lost its carrier (or was set down): its VFs are out of new leases where the pool
        /// says `require_link: up`; the event names the leases on it.
        case pfDown = "pf.down"
        /// A pooled PF has carrier again.
        case pfUp = "pf.up"
        /// A PF was put into maintenance (`pf drain`): the event names every lease on it.
        case pfDraining = "pf.draining"
        /// A drained PF is back in service (`pf undrain`).
        case pfUndrained = "pf.undrained"
    }

    public enum Payload: Sendable, Equatable {
        /// The lease as it was when acquired, or just before it was taken back (nil when the engine did
        /// not see the release start, e.g. a release resumed by recovery after a restart).
        case lease(id: LeaseID, lease: Lease?, reason: String?)
        case vf(PCIAddress, lease: LeaseID?, reason: String?)
        case numVFs(NumVFsChangeRecord)
        /// Drift found on a leased VF by the host watcher: what changed and what sriovd does.
        case drift(DriftRecord)
        case pfLink(PFLinkRecord)
        case pfDrain(PFDrainRecord)
        case pfUndrain(PFUndrainRecord)
    }

    /// The journal sequence number of the record the event comes from.
    public var seq: UInt64
    /// Unix seconds.
    public var time: Double
    public var kind: Kind
    public var payload: Payload
}

/// The engine's event feed: turns journal records into `EngineEvent`s, fans them out, and counts them
/// (for metrics).
public final class EngineEvents: Sendable {
    public let bus = EventBus<EngineEvent>()

    struct State {
        /// Leases being taken back: the lease and why, until `lease.released` (which carries neither).
        var releasing: [LeaseID: (lease: Lease, cause: ReleaseCause, reason: String)] = [:]
        var counts: [EngineEvent.Kind: Int] = [:]
        var driftFound = 0
        var driftByAction: [DriftAction: Int] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// A new subscriber; see `EventBus.subscribe`.
    public func subscribe(capacity: Int = 256) -> EventBus<EngineEvent>.Subscription {
        bus.subscribe(capacity: capacity)
    }

    /// Ends every subscriber's stream (graceful shutdown).
    public func close() { bus.close() }

    /// Events published since the engine started, by kind.
    public func count(_ kind: EngineEvent.Kind) -> Int { state.withLock { $0.counts[kind] ?? 0 } }

    /// Drift the engine found since it started: a lease's VF changed underneath (`lease.drift`), or a
    /// pool VF bound to vfio-pci that no lease holds (quarantined by reconcile without a lease).
    public var driftFound: Int { state.withLock { $0.driftFound } }

    /// Drift found on leased VFs by the host watcher since the engine started, by what was done.
    public func drift(_ action: DriftAction) -> Int { state.withLock { $0.driftByAction[action] ?? 0 } }

    /// Called once per journal record, after the book applied it (`book` is the book after).
    func publish(_ record: LeaseEvent, seq: UInt64, time: Double, book: LeaseBook) {
        guard let event = translate(record, seq: seq, time: time, book: book) else { return }
        bus.publish(event)
    }

    func translate(_ record: LeaseEvent, seq: UInt64, time: Double, book: LeaseBook) -> EngineEvent? {
        state.withLock { state -> EngineEvent? in
            let made: (EngineEvent.Kind, EngineEvent.Payload)?
            switch record {
            case .activated(let id, _):
                made = (.leaseAcquired, .lease(id: id, lease: book.lease(id), reason: nil))
            case .releasing(let id, let cause, let reason):
                if let lease = book.lease(id) {
                    // Bounded: a take-back whose journal append failed never sends `released`.
                    if state.releasing.count >= 4096 { state.releasing.removeAll() }
                    state.releasing[id] = (lease, cause, reason)
                }
                made = nil
            case .released(let id):
                let taken = state.releasing.removeValue(forKey: id)
                made = (taken?.cause == .expired ? .leaseExpired : taken?.cause == .consumerGone ? .leaseReclaimed : .leaseReleased, .lease(id: id, lease: taken?.lease, reason: taken?.reason))
            case .quarantined(let vf, let reason, let lease):
                if lease == nil { state.driftFound += 1 }
                made = (.vfQuarantined, .vf(vf, lease: lease, reason: reason))
            case .unquarantined(let vf):
                made = (.vfUnquarantined, .vf(vf, lease: nil, reason: nil))
            case .drift(let id, let vf, let reason):
                state.driftFound += 1
                made = (.leaseDrift, .vf(vf, lease: id, reason: reason))
            case .marked(let id, let condition, let reason):
                state.driftFound += 1
                made = (condition == .lost ? .leaseLost : .leaseDrift, .lease(id: id, lease: book.lease(id), reason: reason))
            case .vfDrift(let record):
                state.driftFound += 1
                state.driftByAction[record.action, default: 0] += 1
                made = (.leaseDrift, .drift(record))
            case .numVFsChanged(let change):
                made = change.before != change.after ? (.pfNumVFs, .numVFs(change)) : nil
            case .pfLink(let change):
                made = (change.isUp ? .pfUp : .pfDown, .pfLink(change))
            case .pfDraining(let drain):
                made = (.pfDraining, .pfDrain(drain))
            case .pfUndrained(let undrain):
                made = (.pfUndrained, .pfUndrain(undrain))
            case .audit, .vfioGranted:
                made = nil
            case .reserved, .saved, .configuring, .binding, .renewed, .returned:
                made = nil
            }
            guard let (kind, payload) = made else { return nil }
            state.counts[kind, default: 0] += 1
            return EngineEvent(seq: seq, time: time, kind: kind, payload: payload)
        }
    }
}

extension LeaseEngine {
    /// Hands a journaled record to the event feed; `record(_:)` calls it after `book.apply`.
    func publish(_ event: LeaseEvent, seq: UInt64) {
        eventFeed.publish(event, seq: seq, time: clock.now(), book: book)
    }
}

extension EventRecord {
    /// The event as `GET /v1/events` describes it (the lease without its attach specs).
    public init(_ event: EngineEvent) {
        self.init(type: event.kind.rawValue, time: event.time, seq: event.seq)
        switch event.payload {
        case .lease(let id, let lease, let reason):
            leaseId = id.value
            self.lease = lease
            self.reason = reason
        case .vf(let vf, let lease, let reason):
            self.vf = vf.description
            leaseId = lease?.value
            self.reason = reason
        case .numVFs(let change):
            pf = change.pf
            interface = change.interface
            before = change.before
            after = change.after
            requestedBy = change.requestedBy
        case .drift(let record):
            leaseId = record.lease.value
            vf = record.vf.description
            interface = record.interface
            index = record.index
            changes = record.changes
            action = record.action.rawValue
            reason = record.summary
        case .pfLink(let change):
            pf = change.pf
            interface = change.interface
            carrier = change.carrier
            leases = change.leases
        case .pfDrain(let drain):
            pf = drain.pf
            interface = drain.interface
            leases = drain.leases
            requestedBy = drain.requestedBy
            deadline = drain.deadline
        case .pfUndrain(let undrain):
            pf = undrain.pf
            interface = undrain.interface
            requestedBy = undrain.requestedBy
        }
    }
}
