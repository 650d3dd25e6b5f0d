import Foundation
import Hummingbird
import SRIOVCore
import SRIOVLeasing

/// `GET /v1/events`: server-sent events (text/event-stream) of lease and VF lifecycle, one message per
/// journaled change (`event:` the kind, `id:` the journal seq, `data:` one line of JSON), and a comment
/// line every `heartbeat` so proxies and clients can tell a quiet stream from a dead one.
///
/// A subscriber more than `capacity` events behind is sent `event: stream.overflow` and the stream ends:
/// reconnect and resynchronise from `GET /v1/leases` and `GET /v1/pools`. The stream also ends when
/// sriovd shuts down.
enum EventRoutes {
    static let capacity = 1024

    static func register(on router: Router<ServiceRequestContext>, slot: EngineSlot, heartbeat: Duration = .seconds(15)) {
        router.get("/v1/events") { _, context in
            // Every tenant's leases go by on the stream: admins only until it is filtered per tenant.
            try Authorization.require(.admin, context)
            let (engine, _) = try slot.require()
            // Subscribed before the response starts: nothing recorded after this request is missed.
            let subscription = engine.eventFeed.subscribe(capacity: capacity)
            let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-store"]
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                defer { subscription.cancel() }
                try await stream(subscription, to: &writer, heartbeat: heartbeat)
            })
        }
    }

    enum Item: Sendable {
        case event(EngineEvent)
        case heartbeat
    }

    static func stream(_ subscription: EventBus<EngineEvent>.Subscription, to writer: inout any ResponseBodyWriter,
                       heartbeat: Duration) async throws {
        let (items, feed) = AsyncStream.makeStream(of: Item.self, bufferingPolicy: .bufferingOldest(capacity))
        let lagged = try await withThrowingTaskGroup(of: Bool.self) { group -> Bool in
            group.addTask {
                // Forwards until the bus ends the subscription; true when this writer fell behind.
                defer { feed.finish() }
                for await event in subscription.events {
                    if case .dropped = feed.yield(.event(event)) { return true }
                }
                return false
            }
            group.addTask {
                while true {
                    do { try await Task.sleep(for: heartbeat) } catch { return false }
                    feed.yield(.heartbeat)
                }
            }
            // A first comment sends the headers now, not with the first event.
            try await writer.write(ByteBuffer(string: ": sriovd events\n\n"))
            for await item in items {
                switch item {
                case .event(let event): try await writer.write(ByteBuffer(string: try message(event)))
                case .heartbeat: try await writer.write(ByteBuffer(string: ": heartbeat\n\n"))
                }
            }
            group.cancelAll()
            var lagged = false
            for try await fellBehind in group { lagged = lagged || fellBehind }
            return lagged
        }
        if subscription.overflowed || lagged {
            try await writer.write(ByteBuffer(string: "event: stream.overflow\ndata: {\"detail\":\"this subscriber fell \(capacity) events behind and was cut off; reconnect and resynchronise from GET /v1/leases and GET /v1/pools\"}\n\n"))
        }
        try await writer.finish(nil)
    }

    /// One SSE message; JSONEncoder's output has no raw newline, so `data:` is one line.
    static func message(_ event: EngineEvent) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = String(decoding: try encoder.encode(EventDocument(event)), as: UTF8.self)
        return "event: \(event.kind.rawValue)\nid: \(event.seq)\ndata: \(data)\n\n"
    }
}

/// An event's `data:` JSON: `type`, `time` (Unix seconds), `seq`, and per kind the lease (as
/// `GET /v1/leases/{id}` returns it) and `reason`; the VF, its lease and `reason`; or the PF's VF count
/// `before` and `after`; for drift found by the host watcher, the VF, its `interface` and `index`,
/// `changes` (field, wanted, actual) and `action`.
struct EventDocument: Encodable {
    let event: EngineEvent

    init(_ event: EngineEvent) { self.event = event }

    enum Keys: String, CodingKey {
        case type, time, seq, leaseId, lease, reason, vf, pf, interface, before, after, requestedBy, index, changes, action, carrier, leases, deadline
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(event.kind.rawValue, forKey: .type)
        try c.encode(event.time, forKey: .time)
        try c.encode(event.seq, forKey: .seq)
        switch event.payload {
        case .lease(let id, let lease, let reason):
            try c.encode(id, forKey: .leaseId)
            try c.encodeIfPresent(lease.map(LeaseDocument.init), forKey: .lease)
            try c.encodeIfPresent(reason, forKey: .reason)
        case .vf(let vf, let lease, let reason):
            try c.encode(vf, forKey: .vf)
            try c.encodeIfPresent(lease, forKey: .leaseId)
            try c.encodeIfPresent(reason, forKey: .reason)
        case .numVFs(let change):
            try c.encode(change.pf, forKey: .pf)
            try c.encodeIfPresent(change.interface, forKey: .interface)
            try c.encode(change.before, forKey: .before)
            try c.encode(change.after, forKey: .after)
            try c.encode(change.requestedBy, forKey: .requestedBy)
        case .drift(let record):
            // Drift found by the host watcher: typed changes (field, wanted, actual) and the action.
            try c.encode(record.lease, forKey: .leaseId)
            try c.encode(record.vf, forKey: .vf)
            try c.encodeIfPresent(record.interface, forKey: .interface)
            try c.encodeIfPresent(record.index, forKey: .index)
            try c.encode(record.changes, forKey: .changes)
            try c.encode(record.action.rawValue, forKey: .action)
            try c.encode(record.summary, forKey: .reason)
        case .pfLink(let change):
            try c.encode(change.pf, forKey: .pf)
            try c.encodeIfPresent(change.interface, forKey: .interface)
            try c.encodeIfPresent(change.carrier, forKey: .carrier)
            try c.encode(change.leases, forKey: .leases)
        case .pfDrain(let drain):
            try c.encode(drain.pf, forKey: .pf)
            try c.encodeIfPresent(drain.interface, forKey: .interface)
            try c.encode(drain.leases, forKey: .leases)
            try c.encodeIfPresent(drain.deadline, forKey: .deadline)
            try c.encode(drain.requestedBy, forKey: .requestedBy)
        case .pfUndrain(let undrain):
            try c.encode(undrain.pf, forKey: .pf)
            try c.encodeIfPresent(undrain.interface, forKey: .interface)
            try c.encode(undrain.requestedBy, forKey: .requestedBy)
        }
    }
}
