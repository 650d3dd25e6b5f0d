#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SRIOVClient
import SRIOVCore
import SRIOVTestSupport
import Testing

/// A stream socket bound to `path` and listening (the test servers' common start).
/// A Unix stream socket bound to `path`, listening with `backlog` (nil: bound only, never listening).
/// Close-on-exec: a process another test spawns in parallel must not inherit it and keep it alive.
func listeningUnixSocket(path: String, backlog: Int32?) throws -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard bound == 0, backlog.map({ listen(fd, $0) == 0 }) ?? true else {
        close(fd)
        throw POSIXError(.EADDRINUSE)
    }
    return fd
}

/// A one-shot server on a Unix socket: accepts one connection, reads the request head (and body by its
/// Content-Length), writes `reply` in the given pieces, closes. Runs on its own thread.
final class OneShotServer: @unchecked Sendable {
    let path: String
    let fd: Int32
    private let received = NSLock()
    private var request = ""

    init(path: String) throws {
        self.path = path
        fd = try listeningUnixSocket(path: path, backlog: 1)
    }

    deinit { close(fd) }

    var receivedRequest: String { received.withLock { request } }

    func serve(_ pieces: [String]) -> Thread {
        let thread = Thread { [self] in
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return }
            defer { close(client) }
            var data: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let text = String(decoding: data, as: UTF8.self)
                if let range = text.range(of: "\r\n\r\n") {
                    let head = text[..<range.lowerBound].lowercased()
                    let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                        .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                    if text.utf8.count - text[..<range.upperBound].utf8.count >= length { break }
                }
                let n = buffer.withUnsafeMutableBytes { read(client, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                data += buffer[0..<n]
            }
            received.withLock { request = String(decoding: data, as: UTF8.self) }
            for piece in pieces {
                let bytes = Array(piece.utf8)
                _ = bytes.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
                usleep(20_000)
            }
        }
        thread.start()
        return thread
    }
}

@Suite("HTTP/1.1 over a Unix socket (sriovctl's client)", .serialized)
struct UnixHTTPClientTests {
    @Test func contentLengthBodyInSeveralReads() throws {
        let dir = try TempDirectory("client")
        let server = try OneShotServer(path: dir.path + "/s.sock")
        _ = server.serve(["HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"a\":", "1,\"b\":2}"])
        let response = try UnixHTTPClient(socketPath: server.path, timeoutSeconds: 10).send("POST", "/v1/x", body: Array("{}".utf8))
        #expect(response.status == 200)
        #expect(String(decoding: response.body, as: UTF8.self) == #"{"a":1,"b":2}"#)
        #expect(response.header("Content-Type") == "application/json")
        let request = server.receivedRequest
        #expect(request.hasPrefix("POST /v1/x HTTP/1.1\r\n"))
        #expect(request.contains("Content-Length: 2\r\n"))
        #expect(request.contains("Connection: close\r\n"))
        #expect(request.hasSuffix("\r\n\r\n{}"))
    }

    @Test func chunkedBodyWithExtensionAndTrailer() throws {
        let dir = try TempDirectory("client")
        let server = try OneShotServer(path: dir.path + "/s.sock")
        _ = server.serve(["HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n",
                          "7\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n"])
        let response = try UnixHTTPClient(socketPath: server.path, timeoutSeconds: 10).send("GET", "/")
        #expect(response.status == 201)
        #expect(String(decoding: response.body, as: UTF8.self) == "hello, world")
    }

    @Test func truncatedBodyIsAnIOError() throws {
        let dir = try TempDirectory("client")
        let server = try OneShotServer(path: dir.path + "/s.sock")
        _ = server.serve(["HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"])
        #expect {
            try UnixHTTPClient(socketPath: server.path, timeoutSeconds: 10).send("GET", "/")
        } throws: { error in
            (error as? SRIOVError)?.message == "sriovd's answer ended after 5 of 100 bytes"
        }
    }

    @Test func problemDetailsBecomeTheEngineError() throws {
        let dir = try TempDirectory("client")
        let server = try OneShotServer(path: dir.path + "/s.sock")
        let problem = #"{"code":"not-found","detail":"no pool named 'nope'","status":404,"title":"Not Found","type":"urn:sriovd:problem:not-found"}"#
        _ = server.serve(["HTTP/1.1 404 Not Found\r\nContent-Type: application/problem+json\r\nContent-Length: \(problem.utf8.count)\r\n\r\n\(problem)"])
        #expect {
            _ = try DaemonClient(socketPath: server.path).pools()
        } throws: { error in
            (error as? SRIOVError) == SRIOVError(.notFound, "no pool named 'nope'")
        }
    }

    /// A listener that goes away with our request unread (sriovd stopping or crashing between the
    /// connect and its accept) resets the connection: the error says so, and what to check.
    @Test func aConnectionResetBeforeTheAnswerSaysSriovdDroppedIt() throws {
        let dir = try TempDirectory("client")
        let path = dir.path + "/reset.sock"
        let listener = try listeningUnixSocket(path: path, backlog: 1)
        let client = UnixHTTPClient(socketPath: path, timeoutSeconds: 10)
        let closer = Thread {
            // Once the request sits unread in the accepted socket, close both: the kernel resets.
            let fd = accept(listener, nil, nil)
            var pending: Int32 = 0
            for _ in 0..<500 where ioctl(fd, UInt(FIONREAD), &pending) == 0 && pending == 0 { usleep(2_000) }
            close(fd)
            close(listener)
        }
        closer.start()
        #expect {
            try client.send("GET", "/v1/leases")
        } throws: { error in
            let e = error as? SRIOVError
            return e?.cause == .errno(ECONNRESET)
                && e?.message == "sriovd on \(path) dropped the connection without answering GET /v1/leases (ECONNRESET); it may have stopped or crashed: check `systemctl status sriovd`, then retry"
        }
    }

    @Test func socketErrnosHaveTheirNames() {
        #expect(Errno.name(ECONNRESET) == "ECONNRESET" && Errno.name(ECONNREFUSED) == "ECONNREFUSED" && Errno.name(EPIPE) == "EPIPE")
        #expect(Errno.name(4095) == "E#4095")
    }

    @Test func missingSocketAndNobodyListening() throws {
        let dir = try TempDirectory("client")
        let client = DaemonClient(socketPath: dir.path + "/none.sock", unreachableHint: "try --direct")
        #expect {
            _ = try client.leases(owner: nil)
        } throws: { error in
            let e = error as? SRIOVError
            return e?.code == .unsupported && e?.cause == .errno(ENOENT)
                && e?.message == "no sriovd is answering on \(dir.path)/none.sock: the socket does not exist (ENOENT); try --direct"
        }
        // A socket file nobody listens on: what a crashed daemon leaves behind. Bound and never
        // listening, so that a process spawned in parallel in the instant before close-on-exec takes it
        // cannot make the connect succeed (a listening socket it held would have, then been reset).
        // (Closed here once, by itself: a second close elsewhere could shut a descriptor another test
        // running in parallel has just been given the same number.)
        let stalePath = dir.path + "/stale.sock"
        close(try listeningUnixSocket(path: stalePath, backlog: nil))
        #expect {
            _ = try DaemonClient(socketPath: stalePath, unreachableHint: "try --direct").leases(owner: nil)
        } throws: { error in
            (error as? SRIOVError)?.cause == .errno(ECONNREFUSED)
                && (error as? SRIOVError)?.message.contains("nothing listens on the socket (ECONNREFUSED") == true
        }
    }
}

/// A server on a Unix socket that plays a script per accepted connection, in order: answer a request,
/// read a request and close without answering, or close. Records every request it read. Runs on its
/// own thread.
final class ScriptedServer: @unchecked Sendable {
    enum Step {
        /// Reads one request, then writes this answer.
        case answer(String)
        /// Reads one request, then closes the connection without a word.
        case readThenClose
    }

    let path: String
    let fd: Int32
    private let lock = NSLock()
    private var received: [String] = []
    private var acceptedCount = 0
    /// Signalled each time the server has closed a connection.
    let closed = DispatchSemaphore(value: 0)

    init(path: String) throws {
        self.path = path
        fd = try listeningUnixSocket(path: path, backlog: 4)
    }

    deinit { close(fd) }

    var requests: [String] { lock.withLock { received } }
    var connections: Int { lock.withLock { acceptedCount } }

    /// Reads one request (head, and a body by its Content-Length); nil at EOF.
    static func readRequest(_ client: Int32, _ pending: inout [UInt8]) -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let text = String(decoding: pending, as: UTF8.self)
            if let range = text.range(of: "\r\n\r\n") {
                let headBytes = text[..<range.upperBound].utf8.count
                let head = text[..<range.lowerBound].lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if pending.count >= headBytes + length {
                    let request = String(decoding: pending[..<(headBytes + length)], as: UTF8.self)
                    pending.removeFirst(headBytes + length)
                    return request
                }
            }
            let n = buffer.withUnsafeMutableBytes { read(client, $0.baseAddress, $0.count) }
            if n <= 0 { return nil }
            pending += buffer[0..<n]
        }
    }

    func run(_ script: [[Step]]) -> Thread {
        let thread = Thread { [self] in
            for steps in script {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { return }
                lock.withLock { acceptedCount += 1 }
                var pending: [UInt8] = []
                for step in steps {
                    guard let request = ScriptedServer.readRequest(client, &pending) else { break }
                    lock.withLock { received.append(request) }
                    switch step {
                    case .answer(let reply):
                        let bytes = Array(reply.utf8)
                        _ = bytes.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
                    case .readThenClose:
                        break
                    }
                    if case .readThenClose = step { break }
                }
                close(client)
                closed.signal()
            }
        }
        thread.start()
        return thread
    }

    static func ok(_ body: String, extraHeaders: String = "") -> String {
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\(extraHeaders)Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
    }
}

@Suite("Kept-alive connections to sriovd (UnixHTTPConnection)", .serialized)
struct UnixHTTPConnectionTests {
    @Test func severalRequestsOnOneConnection() throws {
        let dir = try TempDirectory("client")
        let server = try ScriptedServer(path: dir.path + "/s.sock")
        _ = server.run([[.answer(ScriptedServer.ok("{\"n\":1}")),
                         .answer("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"),
                         .answer("HTTP/1.1 204 No Content\r\n\r\n"),
                         .answer(ScriptedServer.ok("[]"))]])
        let connection = UnixHTTPConnection(socketPath: server.path, timeoutSeconds: 10)
        defer { connection.close() }
        let first = try connection.send("POST", "/v1/leases", headers: [("Content-Type", "application/json")], body: Array("{}".utf8))
        #expect(first.status == 200 && first.body == Array("{\"n\":1}".utf8))
        let second = try connection.send("GET", "/v1/leases")
        #expect(second.status == 201 && second.body == Array("abcde".utf8))
        let third = try connection.send("DELETE", "/v1/leases/l-0123456789abcdef")
        #expect(third.status == 204 && third.body.isEmpty)
        let fourth = try connection.send("GET", "/v1/pools")
        #expect(fourth.body == Array("[]".utf8))
        #expect(connection.isOpen)
        #expect(server.connections == 1)
        let requests = server.requests
        #expect(requests.count == 4)
        #expect(requests.allSatisfy { !$0.lowercased().contains("connection: close") })
        #expect(requests[0].hasPrefix("POST /v1/leases HTTP/1.1\r\n") && requests[0].hasSuffix("\r\n\r\n{}"))
    }

    @Test func connectionCloseAnswerEndsTheConnection() throws {
        let dir = try TempDirectory("client")
        let server = try ScriptedServer(path: dir.path + "/s.sock")
        _ = server.run([[.answer(ScriptedServer.ok("1", extraHeaders: "Connection: close\r\n"))], [.answer(ScriptedServer.ok("2"))]])
        let connection = UnixHTTPConnection(socketPath: server.path, timeoutSeconds: 10)
        defer { connection.close() }
        #expect(try connection.send("GET", "/a").body == Array("1".utf8))
        #expect(!connection.isOpen)
        #expect(try connection.send("POST", "/b", body: []).body == Array("2".utf8))
        #expect(server.connections == 2)
    }

    /// The server closed the idle connection before the next request was written: nothing of it
    /// reached the server (EPIPE), so even a POST goes again on a new connection.
    @Test func closedIdleConnectionIsReopenedForAnyRequestWhenNothingWasSent() throws {
        let dir = try TempDirectory("client")
        let server = try ScriptedServer(path: dir.path + "/s.sock")
        _ = server.run([[.answer(ScriptedServer.ok("1"))], [.answer(ScriptedServer.ok("2"))]])
        let connection = UnixHTTPConnection(socketPath: server.path, timeoutSeconds: 10)
        defer { connection.close() }
        #expect(try connection.send("GET", "/a").body == Array("1".utf8))
        server.closed.wait()
        let response = try connection.send("POST", "/v1/leases", body: Array("{}".utf8))
        #expect(response.body == Array("2".utf8))
        #expect(server.connections == 2)
        #expect(server.requests.filter { $0.hasPrefix("POST") }.count == 1)
    }

    /// The request was written, then the server closed without answering: an idempotent request is
    /// sent once more on a new connection.
    @Test func idempotentRequestIsResentOnceAfterACloseWithoutAnswer() throws {
        let dir = try TempDirectory("client")
        let server = try ScriptedServer(path: dir.path + "/s.sock")
        _ = server.run([[.answer(ScriptedServer.ok("1")), .readThenClose], [.answer(ScriptedServer.ok("2"))]])
        let connection = UnixHTTPConnection(socketPath: server.path, timeoutSeconds: 10)
        defer { connection.close() }
        #expect(try connection.send("GET", "/a").body == Array("1".utf8))
        #expect(try connection.send("DELETE", "/v1/leases/l-0123456789abcdef").body == Array("2".utf8))
        #expect(server.requests.filter { $0.hasPrefix("DELETE") }.count == 2)
        // A POST with an Idempotency-Key is idempotent too.
        let again = try ScriptedServer(path: dir.path + "/t.sock")
        _ = again.run([[.answer(ScriptedServer.ok("1")), .readThenClose], [.answer(ScriptedServer.ok("3"))]])
        let keyed = UnixHTTPConnection(socketPath: again.path, timeoutSeconds: 10)
        defer { keyed.close() }
        _ = try keyed.send("GET", "/a")
        #expect(try keyed.send("POST", "/v1/leases", headers: [("Idempotency-Key", "req-1")], body: Array("{}".utf8)).body == Array("3".utf8))
    }

    /// A POST that was written and then met a close without an answer is not sent again: the daemon
    /// may have acted on it.
    @Test func postIsNotResentAfterItWasWritten() throws {
        let dir = try TempDirectory("client")
        let server = try ScriptedServer(path: dir.path + "/s.sock")
        _ = server.run([[.answer(ScriptedServer.ok("1")), .readThenClose]])
        let connection = UnixHTTPConnection(socketPath: server.path, timeoutSeconds: 10)
        defer { connection.close() }
        _ = try connection.send("GET", "/a")
        #expect {
            try connection.send("POST", "/v1/leases", body: Array("{}".utf8))
        } throws: { error in
            (error as? SRIOVError)?.message.contains("it may or may not have acted on it, so it was not sent again") == true
        }
        #expect(server.requests.filter { $0.hasPrefix("POST") }.count == 1)
        #expect(server.connections == 1)
        #expect(!connection.isOpen)
    }

    /// A fresh connection closed without an answer is the server's doing, not an idle close: no resend.
    @Test func freshConnectionClosedWithoutAnswerIsAnError() throws {
        let dir = try TempDirectory("client")
        let server = try ScriptedServer(path: dir.path + "/s.sock")
        _ = server.run([[.readThenClose]])
        let connection = UnixHTTPConnection(socketPath: server.path, timeoutSeconds: 10)
        #expect {
            try connection.send("GET", "/a")
        } throws: { error in
            (error as? SRIOVError)?.message == "sriovd on \(server.path) closed the connection before a complete answer to GET /a"
        }
        #expect(server.connections == 1)
    }
}
