#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SRIOVClient
import SRIOVCore
import SRIOVTestSupport
import Testing

/// A one-shot server on a Unix socket: accepts one connection, reads the request head (and body by its
/// Content-Length), writes `reply` in the given pieces, closes. Runs on its own thread.
final class OneShotServer: @unchecked Sendable {
    let path: String
    let fd: Int32
    private let received = NSLock()
    private var request = ""

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(fd, 1) == 0 else { throw POSIXError(.EADDRINUSE) }
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

    @Test func missingSocketAndNobodyListening() throws {
        let dir = try TempDirectory("client")
        let client = DaemonClient(socketPath: dir.path + "/none.sock", unreachableHint: "try --direct")
        #expect {
            _ = try client.leases()
        } throws: { error in
            let e = error as? SRIOVError
            return e?.code == .unsupported && e?.cause == .errno(ENOENT)
                && e?.message == "no sriovd is answering on \(dir.path)/none.sock: the socket does not exist (ENOENT); try --direct"
        }
        // A socket file nobody listens on: what a crashed daemon leaves behind.
        let stale = try OneShotServer(path: dir.path + "/stale.sock")
        close(stale.fd)
        #expect {
            _ = try DaemonClient(socketPath: stale.path, unreachableHint: "try --direct").leases()
        } throws: { error in
            (error as? SRIOVError)?.cause == .errno(ECONNREFUSED)
                && (error as? SRIOVError)?.message.contains("nothing listens on the socket (ECONNREFUSED") == true
        }
    }
}
