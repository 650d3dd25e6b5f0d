#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import ServiceLifecycle
import SRIOVCore
import SRIOVLeasing
import SRIOVRuntime
@testable import SRIOVService
import SRIOVTestSupport
import Synchronization
import Testing

/// A long-lived HTTP/1.1 request over a Unix socket, read incrementally (an SSE stream). Every blocking
/// read runs on its own thread, with a 60 s receive timeout so a missing event fails instead of hanging (10 s was too short beside the whole suite on a loaded 2-core machine: 3 failures in 5 runs).
final class StreamingUnixRequest: Sendable {
    let fd: Int32
    let received = Mutex<String>("")

    init(_ socketPath: String, _ path: String) throws {
        fd = try unixConnect(socketPath)
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let request = Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == request.count else {
            // No close here: fd is set, so deinit closes it; a second close could hit a reused number.
            throw POSIXError(.EIO)
        }
    }

    deinit { close(fd) }

    /// Everything received so far once it contains `needle` (nil at EOF or after 10 s without data).
    func read(until needle: String) async -> String? {
        await read { $0.contains(needle) }
    }

    /// Everything received so far once `done` says so (nil at EOF or after 10 s without data).
    func read(until done: @escaping @Sendable (String) -> Bool) async -> String? {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: self.blockingRead(until: done)) }.start()
        }
    }

    /// Reads to EOF: true when the server closed the stream within the timeout.
    func readToEOF() async -> Bool {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: self.blockingRead(until: nil) != nil) }.start()
        }
    }

    private func blockingRead(until done: (@Sendable (String) -> Bool)?) -> String? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let text = received.withLock { $0 }
            if let done, done(text) { return text }
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n == 0 { return done == nil ? text : nil }
            if n < 0 { return nil }
            received.withLock { $0 += String(decoding: chunk[0..<n], as: UTF8.self) }
        }
    }
}

/// The SSE message that starts with `event: <kind>` in `text`: its id and its data as JSON.
func sseMessage(_ kind: String, in text: String) -> (id: String, data: [String: Any])? {
    guard let start = text.range(of: "event: \(kind)\n") else { return nil }
    let block = text[start.lowerBound...].components(separatedBy: "\n\n").first ?? ""
    var id = ""
    var data: [String: Any] = [:]
    for line in block.split(separator: "\n") {
        if line.hasPrefix("id: ") { id = String(line.dropFirst(4)) }
        if line.hasPrefix("data: ") {
            data = (try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8))) as? [String: Any] ?? [:]
        }
    }
    return (id, data)
}

@Suite("API v1: events and metrics")
struct EventsAndMetricsTests {
    @Test func eventStreamDeliversLeaseEventsAndEndsOnShutdown() async throws {
        let test = try await TestDaemon.start("sriovd-events")
        let socketPath = test.socketPath

        let events = try StreamingUnixRequest(socketPath, "/v1/events")
        let head = try #require(await events.read(until: ": sriovd events"))
        #expect(head.hasPrefix("HTTP/1.1 200"), "\(head)")
        #expect(head.lowercased().contains("content-type: text/event-stream"), "\(head)")

        let acquired = try await unixHTTP(socketPath, "POST", "/v1/leases", body: #"{"pool":"uplink","owner":"vm-sse"}"#)
        #expect(acquired.status == 201, "\(acquired.body)")
        let lease = try #require(try JSONSerialization.jsonObject(with: Data(acquired.body.utf8)) as? [String: Any])
        let id = try #require(lease["id"] as? String)

        // The whole message: its data line carries the lease id.
        let afterAcquire = try #require(await events.read(until: "\"leaseId\":\"\(id)\""), "no lease.acquired event")
        let message = try #require(sseMessage("lease.acquired", in: afterAcquire))
        #expect(message.data["type"] as? String == "lease.acquired")
        #expect(message.data["leaseId"] as? String == id)
        #expect((message.data["lease"] as? [String: Any])?["owner"] as? String == "vm-sse")
        #expect((message.data["lease"] as? [String: Any])?["state"] as? String == "active")
        let seq = try #require(UInt64(message.id))
        #expect(message.data["seq"] as? Int == Int(seq))
        let engine = try #require(test.daemon.slot.engine)
        #expect(seq <= (await engine.currentBook.seq))

        let released = try await unixHTTP(socketPath, "DELETE", "/v1/leases/\(id)")
        #expect(released.status == 200, "\(released.body)")
        let afterRelease = try #require(await events.read(until: "\"reason\":\"released\""), "no lease.released event")
        let releasedMessage = try #require(sseMessage("lease.released", in: afterRelease))
        #expect(releasedMessage.data["leaseId"] as? String == id)
        #expect(UInt64(releasedMessage.id) ?? 0 > seq)

        // Graceful shutdown ends the open stream, so it does not hold the daemon up.
        await test.group.triggerGracefulShutdown()
        #expect(await events.readToEOF())
        try await test.running.value
        #expect(engine.eventFeed.bus.subscriberCount == 0)
    }

    @Test func quietStreamsGetHeartbeatComments() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        let dir = try TempDirectory("sse-heartbeat")
        let socketPath = dir.path + "/events.sock"
        // The events route alone, with a fast heartbeat, behind the API's middlewares.
        let router = Router(context: ServiceRequestContext.self)
        router.add(middleware: ProblemMiddleware())
        router.add(middleware: AccessMiddleware(control: ServiceFixture.rootAccess(), slot: f.slot))
        EventRoutes.register(on: router, slot: f.slot, heartbeat: .milliseconds(50))
        let listening = AsyncStream<Void>.makeStream()
        var logger = Logger(label: "sriovd-test")
        logger.logLevel = .warning
        let app = Application(router: router, configuration: .init(address: .unixDomainSocket(path: socketPath)),
                              onServerRunning: { _ in listening.continuation.yield() }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let running = Task { try await group.run() }
        var iterator = listening.stream.makeAsyncIterator()
        _ = await iterator.next()

        let events = try StreamingUnixRequest(socketPath, "/v1/events")
        let text = await events.read { $0.components(separatedBy: ": heartbeat\n\n").count > 3 }
        #expect(text != nil, "fewer than three heartbeats: \(events.received.withLock { $0 })")
        #expect(text?.contains("event:") == false)
        // Closing the feed (what shutdown does) ends the response: the last chunk is sent.
        engine.eventFeed.close()
        #expect(await events.read(until: "\r\n0\r\n\r\n") != nil)
        await group.triggerGracefulShutdown()
        try await running.value
        await engine.close()
    }

    @Test func eventBusIsBoundedAndForgetsSubscribersThatLeave() async throws {
        let bus = EventBus<Int>()
        let slow = bus.subscribe(capacity: 2)
        let other = bus.subscribe(capacity: 8)
        #expect(bus.subscriberCount == 2)
        for n in 1...3 { bus.publish(n) }
        // The slow subscriber keeps what it had room for, then its stream ends, marked as overflowed.
        var got: [Int] = []
        for await n in slow.events { got.append(n) }
        #expect(got == [1, 2])
        #expect(slow.overflowed)
        #expect(!other.overflowed)
        #expect(bus.subscriberCount == 1)
        other.cancel()
        #expect(bus.subscriberCount == 0)
        bus.publish(4)
        var rest: [Int] = []
        for await n in other.events { rest.append(n) }
        #expect(rest == [1, 2, 3])

        // After close, streams end and new subscribers get an ended stream.
        let open = bus.subscribe()
        bus.close()
        var none: [Int] = []
        for await n in open.events { none.append(n) }
        let late = bus.subscribe()
        for await n in late.events { none.append(n) }
        #expect(none.isEmpty && bus.subscriberCount == 0)
    }

    @Test func engineEventsFollowTheJournal() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        let subscription = engine.eventFeed.subscribe()
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-ev"))
        _ = try await engine.setNumVFs(pf: "ens4f1np1", to: 2, autoprobe: nil, force: false, requestedBy: "test")
        _ = try await engine.release(lease.id)
        subscription.cancel()
        var kinds: [EngineEvent.Kind] = []
        var seqs: [UInt64] = []
        for await event in subscription.events {
            kinds.append(event.kind)
            seqs.append(event.seq)
            if case .numVFs(let change) = event.payload {
                #expect(change.pf == "0000:af:00.1" && change.interface == "ens4f1np1" && change.before == 0 && change.after == 2)
                #expect(change.requestedBy == "test")
            }
        }
        #expect(kinds == [.leaseAcquired, .pfNumVFs, .leaseReleased])
        #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count)
        #expect(engine.eventFeed.count(.leaseAcquired) == 1)
        await engine.close()
    }

    @Test func driftQuarantineAndExpiryAreEvents() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        let subscription = engine.eventFeed.subscribe()
        let drifting = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-drift"))
        let vf = try #require(drifting.vfs.first).pciAddress
        try f.sim.unbind(vf)
        _ = await engine.reconcile()
        _ = try await engine.release(drifting.id)
        try await engine.unquarantine(vf, requestedBy: "test")
        let expiring = try await engine.acquire(LeaseRequest(pool: "storage", owner: "vm-ttl", ttlSeconds: 1))
        // The wall clock has to pass the TTL (bounded wait).
        var reaped: [LeaseID] = []
        for _ in 0..<40 where reaped.isEmpty {
            try await Task.sleep(for: .milliseconds(100))
            reaped = await engine.reapExpired()
        }
        #expect(reaped == [expiring.id])
        subscription.cancel()
        var seen: [(EngineEvent.Kind, EngineEvent.Payload)] = []
        for await event in subscription.events { seen.append((event.kind, event.payload)) }
        #expect(seen.map(\.0) == [.leaseAcquired, .leaseDrift, .leaseReleased, .vfUnquarantined, .leaseAcquired, .leaseExpired])
        if case .vf(let address, let lease, let reason)? = seen.first(where: { $0.0 == .leaseDrift })?.1 {
            #expect(address == vf && lease == drifting.id && (reason ?? "").contains("driver changed underneath"))
        } else {
            Issue.record("no lease.drift event for \(vf)")
        }
        if case .lease(let id, let lease, let reason)? = seen.last?.1 {
            #expect(id == expiring.id && lease?.owner == "vm-ttl" && (reason ?? "").hasPrefix("expired"))
        } else {
            Issue.record("no lease.expired event")
        }
        #expect(engine.eventFeed.driftFound == 1)
        await engine.close()
    }

    /// The value of the sample `name{labels}` in Prometheus text, if present.
    static func sample(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test func metricsShowPoolsAndLeaseOperations() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        let metrics = ServiceMetrics()
        let app = Application(router: APIRoutes.router(slot: f.slot, metrics: metrics, access: ServiceFixture.rootAccess()))
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/leases", method: .post, body: jsonBody(["pool": "uplink", "owner": "vm-m"])) { r in
                #expect(r.status == .created)
            }
            try await client.execute(uri: "/v1/leases", method: .post, body: jsonBody(["pool": "nosuch", "owner": "vm-m"])) { r in
                #expect(r.status == .notFound)
            }
            try await client.execute(uri: "/metrics", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
                let text = r.body.text
                #expect(Self.sample(text, #"sriovd_pool_vfs{pool="uplink",state="leased"}"#) == 1, "\(text)")
                #expect(Self.sample(text, #"sriovd_pool_vfs{pool="uplink",state="free"}"#) == 7)
                #expect(Self.sample(text, #"sriovd_pool_vfs{pool="storage",state="free"}"#) == 8)
                #expect(Self.sample(text, #"sriovd_pool_vfs{pool="storage",state="quarantined"}"#) == 0)
                #expect(Self.sample(text, #"sriovd_lease_operations_total{op="acquire",result="ok"}"#) == 1)
                #expect(Self.sample(text, #"sriovd_lease_operations_total{op="acquire",result="not-found"}"#) == 1)
                #expect(Self.sample(text, #"sriovd_lease_operation_duration_seconds_count{op="acquire"}"#) == 2)
                #expect((Self.sample(text, "sriovd_journal_fsyncs_total") ?? 0) > 0)
                #expect(Self.sample(text, "sriovd_journal_fsync_seconds_total") != nil)
                #expect(Self.sample(text, "sriovd_reconcile_drift_total") == 0)
            }
        }
        await engine.close()
    }

    @Test func hostOperationsAreHistogramsByKind() async throws {
        let metrics = ServiceMetrics()
        metrics.hostOperation("sysfs.unbind", .microseconds(120))
        metrics.hostOperation("sysfs.unbind", .milliseconds(3))
        metrics.hostOperation("netlink.getlink", .microseconds(40))
        let text = try await metrics.scrape(engine: nil)
        #expect(Self.sample(text, #"sriovd_host_operation_duration_seconds_count{op="sysfs.unbind"}"#) == 2, "\(text)")
        #expect(Self.sample(text, #"sriovd_host_operation_duration_seconds_bucket{op="sysfs.unbind",le="0.00025"}"#) == 1)
        #expect(Self.sample(text, #"sriovd_host_operation_duration_seconds_bucket{op="netlink.getlink",le="0.00005"}"#) == 1)
    }
}
