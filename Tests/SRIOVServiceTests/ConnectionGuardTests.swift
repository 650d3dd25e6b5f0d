#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
@testable import SRIOVService
import SRIOVRuntime
import SRIOVTestSupport
import Testing

/// The connection guard (issue 15, defects 1 and 5): one answer per connection for a caller without a
/// token, connection limits, a peer that stopped reading, and shutdown with a half-sent request.
@Suite("Connections: limits, 401 closes, stalled peers, shutdown")
struct ConnectionGuardTests {
    // MARK: The handler, on an embedded channel (deterministic time)

    func guardedChannel(stall: TimeAmount = .seconds(30)) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(handler: ConnectionGuardHandler(writeStall: stall))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    @Test func aResponseSayingConnectionCloseClosesTheConnection() throws {
        let channel = try guardedChannel()
        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .ok)))
        try channel.writeOutbound(HTTPResponsePart.end(nil))
        #expect(channel.isActive, "an ordinary response keeps the connection (keep-alive)")
        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .unauthorized, headerFields: [.connection: "close"])))
        #expect(channel.isActive, "closed before the response was written")
        try channel.writeOutbound(HTTPResponsePart.end(nil))
        #expect(!channel.isActive)
        // The whole response went out before the close.
        var parts: [HTTPResponsePart] = []
        while let part = try channel.readOutbound(as: HTTPResponsePart.self) { parts.append(part) }
        #expect(parts.count == 4)
    }

    @Test func aPeerThatStopsReadingIsClosedAfterTheStallTimeout() throws {
        let channel = try guardedChannel(stall: .seconds(30))
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        channel.embeddedEventLoop.advanceTime(by: .seconds(29))
        #expect(channel.isActive)
        // It read in time: the timer is off.
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(channel.isActive)
        // Stuck again, for good.
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        channel.embeddedEventLoop.advanceTime(by: .seconds(30))
        #expect(!channel.isActive)
    }

    @Test func shutdownClosesAHalfReceivedRequestAtOnce() throws {
        let channel = try guardedChannel()
        try channel.writeInbound(HTTPRequestPart.head(HTTPRequest(method: .post, scheme: nil, authority: nil, path: "/v1/leases")))
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(!channel.isActive)
    }

    @Test func shutdownLeavesAnIdleOrAnsweringConnectionToHummingbird() throws {
        let channel = try guardedChannel()
        try channel.writeInbound(HTTPRequestPart.head(HTTPRequest(method: .get, scheme: nil, authority: nil, path: "/v1/pools")))
        try channel.writeInbound(HTTPRequestPart.end(nil))
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(channel.isActive, "a request being answered finishes")
        // Output stuck during shutdown: no stall timeout then.
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(!channel.isActive)
    }

    @Test func theTrackerCountsPerPeerAndExemptsTheOperator() {
        let tracker = ConnectionTracker(limits: ConnectionLimits(tcpTotal: 3, tcpPerAddress: 2, unixPerUID: 1), unlimitedUIDs: [0])
        #expect(tracker.admit(.tcp(address: "10.0.0.1")) == nil)
        #expect(tracker.admit(.tcp(address: "10.0.0.1")) == nil)
        #expect(tracker.admit(.tcp(address: "10.0.0.1")) == "tcp-address")
        #expect(tracker.admit(.tcp(address: "10.0.0.2")) == nil)
        #expect(tracker.admit(.tcp(address: "10.0.0.3")) == "tcp-total")
        tracker.closed(.tcp(address: "10.0.0.1"))
        #expect(tracker.admit(.tcp(address: "10.0.0.3")) == nil)
        #expect(tracker.admit(.unix(uid: 1000)) == nil)
        #expect(tracker.admit(.unix(uid: 1000)) == "unix-uid")
        #expect(tracker.admit(.unix(uid: 1001)) == nil)
        for _ in 0..<10 { #expect(tracker.admit(.unlimited) == nil) }
        tracker.closed(.unix(uid: 1000))
        #expect(tracker.counts.perPeer["uid 1000"] == nil)
        #expect(tracker.counts.tcp == 3)
    }

    // MARK: A real daemon

    /// A tenant with the admin right for the test's uid on the socket, and a token for TCP.
    static func access(tokensFile: String) -> String {
        """

        access:
          listen_tcp: "127.0.0.1:0"
          tokens_file: \(tokensFile)
          tenants:
            - name: ops
              uids: [\(getuid())]
              pools: ["*"]
              rights: [admin]
            - name: orch
              tokens: [orch-1]
              pools: ["*"]

        """
    }

    /// The lock-out: before, a 401 left the connection open, so a caller without a token
    /// could hold connections by sending a request now and then.
    @Test func aCallerWithoutATokenGetsOneAnswerPerConnection() async throws {
        let secrets = try TempDirectory("tokens")
        let tokens = try DaemonAccessTests.tokensFile(secrets)
        try await AccessDaemon.with(access: Self.access(tokensFile: tokens)) { d in
            let port = try #require(d.daemon.listeners.tcpPort)
            let outcome = try await onThread { () throws -> (String, Int) in
                let fd = try tcpConnect(port)
                defer { close(fd) }
                try send(fd, "GET /v1/pools HTTP/1.1\r\nHost: localhost\r\n\r\n")
                let (head, eof) = try readUntilEOF(fd, timeout: 60)  // returns at EOF; 60 s only if it never comes
                return (head, eof ? 0 : -1)
            }
            #expect(outcome.0.hasPrefix("HTTP/1.1 401"))
            #expect(outcome.0.lowercased().contains("connection: close"))
            #expect(outcome.1 == 0, "the connection stayed open after the 401")
        }
    }

    /// Defect 1: a token-less flood leaves /healthz on the Unix socket answering, and sriovd keeps
    /// only what the limits allow. Small limits and 300 connections here (the test process shares its
    /// event loops with the other tests); 4,000 connections against the default limits, sriovd's CPU
    /// and the latency figures: `Benchmarks/connection-flood.py`, a separate process.
    @Test func aTokenlessFloodLeavesTheUnixSocketAnswering() async throws {
        let secrets = try TempDirectory("tokens")
        let tokens = try DaemonAccessTests.tokensFile(secrets)
        let limits = ConnectionLimits(tcpTotal: 24, tcpPerAddress: 16, unixPerUID: 8)
        try await AccessDaemon.with(access: Self.access(tokensFile: tokens), options: { $0.connectionLimits = limits }) { d in
            let port = try #require(d.daemon.listeners.tcpPort)
            let flood = try await onThread { () throws -> [Int32] in
                var fds: [Int32] = []
                for _ in 0..<300 { fds.append(try tcpConnect(port)) }
                return fds
            }
            defer { for fd in flood { close(fd) } }
            // Let the accept loop take all of them in (refused ones are closed at once).
            var refused = 0.0
            for _ in 0..<300 {
                let metrics = try await unixHTTP(d.socketPath, "GET", "/metrics")
                refused = Self.counter(metrics.body, "sriovd_connections_refused_total")
                if refused >= Double(300 - limits.tcpPerAddress) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(refused == Double(300 - limits.tcpPerAddress))
            let start = ContinuousClock.now
            let health = try await unixHTTP(d.socketPath, "GET", "/healthz")
            let latency = start.duration(to: .now)
            #expect(health.status == 200)
            #expect(latency < .seconds(10), "healthz took \(latency)")  // liveness: before the fix it hung for ~100 s
        }
    }

    /// Defect 5: a half-sent body used to delay shutdown by the 60 s idle timeout.
    @Test func shutdownDoesNotWaitForAHalfSentBody() async throws {
        let daemon = try await TestDaemon.start()
        let fd = try await onThread { () throws -> Int32 in
            let fd = try unixConnect(daemon.socketPath)
            try send(fd, "POST /v1/leases HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"pool\":")
            return fd
        }
        defer { close(fd) }
        try await Task.sleep(for: .milliseconds(300))
        let start = ContinuousClock.now
        try await daemon.stop()
        let took = start.duration(to: .now)
        // Before the fix it waited for the 60 s idle timeout; it takes about a second now (the margin is
        // for a loaded machine: the whole suite runs beside it).
        #expect(took < .seconds(50), "shutdown took \(took) with a half-sent body open")
    }

    static func counter(_ metrics: String, _ name: String) -> Double {
        metrics.split(separator: "\n").filter { $0.hasPrefix(name) }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
    }
}

func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

func tcpConnect(_ port: Int) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = in_addr_t(UInt32(0x7f00_0001).bigEndian)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        close(fd)
        throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
    }
    return fd
}

func unixConnect(_ path: String) throws -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EIO) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard connected == 0 else {
        close(fd)
        throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
    }
    return fd
}

func send(_ fd: Int32, _ text: String) throws {
    let out = Array(text.utf8)
    guard out.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == out.count else { throw POSIXError(.EIO) }
}

/// Reads until the peer closes (true) or `timeout` seconds pass with nothing to read (false).
func readUntilEOF(_ fd: Int32, timeout: Int) throws -> (String, Bool) {
    var received: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(timeout * 1000)) > 0 else { return (String(decoding: received, as: UTF8.self), false) }
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { return (String(decoding: received, as: UTF8.self), true) }
        received += chunk[0..<n]
    }
}

