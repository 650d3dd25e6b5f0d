#if canImport(Glibc)
import Glibc
#endif
import SRIOVCore
import Synchronization

/// One HTTP/1.1 exchange per connection over a Unix stream socket, with plain POSIX calls: sriovctl
/// must start fast, so no event loop is pulled in for a request or two. A caller that makes many
/// requests keeps one connection open with `UnixHTTPConnection` instead.
public struct UnixHTTPClient: Sendable {
    public struct Response: Sendable, Equatable {
        public var status: Int
        /// Header names lower-cased, in the order received.
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        public func header(_ name: String) -> String? {
            let lower = name.lowercased()
            return headers.first { $0.name == lower }?.value
        }

        public static func == (a: Response, b: Response) -> Bool {
            a.status == b.status && a.body == b.body && a.headers.map(\.name) == b.headers.map(\.name)
                && a.headers.map(\.value) == b.headers.map(\.value)
        }
    }

    /// Why no exchange took place (the caller words the remedy).
    public enum ConnectFailure: Sendable, Equatable {
        /// ENOENT: no socket file at the path.
        case missing
        /// ECONNREFUSED: a socket file nobody listens on (a stopped or crashed server).
        case refused
        /// EACCES/EPERM: the socket's mode or owner keeps this user out.
        case denied
    }

    public let socketPath: String
    /// Seconds a read or write may block (SO_RCVTIMEO / SO_SNDTIMEO).
    public let timeoutSeconds: Int

    public init(socketPath: String, timeoutSeconds: Int = 300) {
        self.socketPath = socketPath
        self.timeoutSeconds = timeoutSeconds
    }

    /// Sends one request (`Connection: close`) and reads the whole response.
    /// Kernel interface: `socket(AF_UNIX, SOCK_STREAM)`, `connect(2)`, `send(2)`, `read(2)`.
    /// Throws `ConnectError` when nobody could be reached, `SRIOVError` for anything after that.
    public func send(_ method: String, _ target: String, headers: [(String, String)] = [], body: [UInt8]? = nil) throws -> Response {
        let fd = try connectSocket()
        defer { close(fd) }
        let request = HTTPRequestHead.bytes(method, target, headers: headers, body: body, keepAlive: false)
        if let failure = writeAll(fd, request) {
            throw sendError(failure.errno)
        }
        switch try readResponse(fd, method, target) {
        case .response(let response, _):
            return response
        case .closedBeforeResponse(let e):
            throw closedError(e, method, target)
        }
    }

    /// A connected socket, or `ConnectError`.
    func connectSocket() throws -> Int32 {
        var address = sockaddr_un()
        let bytes = Array(socketPath.utf8)
        guard !bytes.isEmpty, bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw SRIOVError(.invalidArgument, "socket path \(Quote.shell(socketPath)) must be 1-107 bytes; pass a shorter --socket")
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            let e = errno
            throw SRIOVError(.io, "cannot create a Unix socket (\(Errno.name(e)))", cause: .errno(e))
        }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        var result: Int32
        repeat {
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        } while result != 0 && errno == EINTR
        guard result == 0 else {
            let e = errno
            close(fd)
            switch e {
            case ENOENT, ENOTDIR: throw ConnectError(failure: .missing, socketPath: socketPath, errno: e)
            case ECONNREFUSED: throw ConnectError(failure: .refused, socketPath: socketPath, errno: e)
            case EACCES, EPERM: throw ConnectError(failure: .denied, socketPath: socketPath, errno: e)
            default:
                throw SRIOVError(.io, "cannot connect to \(socketPath) (\(Errno.name(e)))", cause: .errno(e))
            }
        }
        return fd
    }

    /// A failed `send(2)`: the error and how many bytes of the request had been accepted before it.
    struct WriteFailure: Error {
        var errno: Int32
        var sent: Int
    }

    /// Writes every byte, or says how far it got. `MSG_NOSIGNAL`: a server that closed the connection
    /// is an EPIPE error here, not a SIGPIPE that kills the calling process.
    func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> WriteFailure? {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return Glibc.send(fd, base + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                let e = errno
                if e == EINTR { continue }
                return WriteFailure(errno: e, sent: offset)
            }
            offset += n
        }
        return nil
    }

    func sendError(_ e: Int32) -> SRIOVError {
        if e == EAGAIN || e == EWOULDBLOCK {
            return SRIOVError(.timeout, "sriovd on \(socketPath) did not take the request within \(timeoutSeconds) s; it may be stuck (check `journalctl -u sriovd`)")
        }
        return SRIOVError(.io, "sending the request to sriovd on \(socketPath) failed (\(Errno.name(e)))", cause: .errno(e))
    }

    func closedError(_ e: Int32?, _ method: String, _ target: String) -> SRIOVError {
        guard let e else {
            return SRIOVError(.io, "sriovd on \(socketPath) closed the connection before a complete answer to \(method) \(target)")
        }
        // ECONNRESET here: the listener went away with our connection still waiting to be accepted
        // (sriovd stopped or crashed between our connect and its accept).
        return SRIOVError(.io, "sriovd on \(socketPath) dropped the connection without answering \(method) \(target) (\(Errno.name(e))); it may have stopped or crashed: check `systemctl status sriovd`, then retry", cause: .errno(e))
    }

    /// How reading an answer ended.
    enum ReadOutcome {
        /// A complete response; `reusable`: framed by its length (or chunks), nothing after it, and
        /// the server did not ask to close, so the connection can carry the next request.
        case response(Response, reusable: Bool)
        /// The server closed the connection (EOF, or the errno of ECONNRESET) before sending any byte.
        case closedBeforeResponse(errno: Int32?)
    }

    /// Reads one response from `fd`. Throws `SRIOVError` for a timeout, a malformed answer, or a
    /// connection that ends inside the answer.
    func readResponse(_ fd: Int32, _ method: String, _ target: String) throws(SRIOVError) -> ReadOutcome {
        var parser = HTTPResponseParser()
        var buffer = [UInt8](repeating: 0, count: 32768)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                let e = errno
                if e == EINTR { continue }
                if e == EAGAIN || e == EWOULDBLOCK {
                    throw SRIOVError(.timeout, "sriovd on \(socketPath) did not answer \(method) \(target) within \(timeoutSeconds) s; it may be stuck on the kernel (check `journalctl -u sriovd`)")
                }
                if parser.data.isEmpty && (e == ECONNRESET || e == EPIPE) { return .closedBeforeResponse(errno: e) }
                throw SRIOVError(.io, "reading sriovd's answer from \(socketPath) failed (\(Errno.name(e)))", cause: .errno(e))
            }
            if n == 0 && parser.data.isEmpty { return .closedBeforeResponse(errno: nil) }
            if let response = try parser.feed(buffer[0..<n], eof: n == 0) {
                return .response(response, reusable: parser.reusable(response))
            }
            if n == 0 {
                throw closedError(nil, method, target)
            }
        }
    }
}

/// A persistent HTTP/1.1 connection to sriovd's Unix socket (keep-alive), for a caller that makes
/// many requests (an orchestrator, the load benchmark): no connect, accept and connection set-up per
/// request. Requests on one connection go one at a time (a lock holds the connection for the whole
/// exchange); use one connection per thread for concurrency.
///
/// It connects on the first request and again after the server closed the connection. When a
/// *reused* connection turns out to be closed by the server (its idle timeout) before any byte of the
/// answer arrived, the request is sent once more on a new connection, but only if that cannot do a
/// thing twice: when no byte of it had been accepted, or when it is idempotent (GET, HEAD, PUT,
/// DELETE, OPTIONS, or a request with an `Idempotency-Key`). A POST without a key is never resent:
/// the error says the outcome is unknown.
public final class UnixHTTPConnection: Sendable {
    public let client: UnixHTTPClient
    private let state = Mutex<State>(State())

    struct State: ~Copyable {
        var fd: Int32 = -1
        /// Requests this connection answered (more than 0: the server may have closed it since).
        var exchanges = 0
        /// Connections opened so far.
        var connects = 0

        mutating func close() {
            if fd >= 0 { Glibc.close(fd) }
            fd = -1
            exchanges = 0
        }

        deinit { if fd >= 0 { Glibc.close(fd) } }
    }

    public var socketPath: String { client.socketPath }

    public init(socketPath: String, timeoutSeconds: Int = 300) {
        client = UnixHTTPClient(socketPath: socketPath, timeoutSeconds: timeoutSeconds)
    }

    /// Whether a connection is open now (for tests).
    public var isOpen: Bool { state.withLock { $0.fd >= 0 } }

    /// How many connections it opened so far (1 while the server kept the first one open).
    public var connects: Int { state.withLock { $0.connects } }

    /// Closes the connection; the next request opens a new one.
    public func close() {
        state.withLock { $0.close() }
    }

    /// Methods RFC 9110 (section 9.2.2) calls idempotent.
    static let idempotentMethods: Set<String> = ["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"]

    /// Sends one request on the connection (keep-alive) and reads the whole response.
    /// Throws `ConnectError` when nobody could be reached, `SRIOVError` for anything after that.
    public func send(_ method: String, _ target: String, headers: [(String, String)] = [], body: [UInt8]? = nil) throws -> UnixHTTPClient.Response {
        let request = HTTPRequestHead.bytes(method, target, headers: headers, body: body, keepAlive: true)
        let idempotent = Self.idempotentMethods.contains(method)
            || headers.contains { $0.0.lowercased() == "idempotency-key" }
        let client = self.client
        return try state.withLock { s throws -> UnixHTTPClient.Response in
            var resent = false
            while true {
                let reused = s.fd >= 0 && s.exchanges > 0
                if s.fd < 0 {
                    s.fd = try client.connectSocket()
                    s.connects += 1
                }
                if let failure = client.writeAll(s.fd, request) {
                    s.close()
                    // The server had closed the connection: nothing of the request reached it.
                    let closed = failure.errno == EPIPE || failure.errno == ECONNRESET
                    if reused && !resent && closed && failure.sent == 0 {
                        resent = true
                        continue
                    }
                    throw client.sendError(failure.errno)
                }
                let outcome: UnixHTTPClient.ReadOutcome
                do {
                    outcome = try client.readResponse(s.fd, method, target)
                } catch {
                    // A timeout or an answer cut short: the connection's state is unknown.
                    s.close()
                    throw error
                }
                switch outcome {
                case .response(let response, let reusable):
                    if reusable { s.exchanges += 1 } else { s.close() }
                    return response
                case .closedBeforeResponse(let e):
                    s.close()
                    if reused && !resent && idempotent {
                        resent = true
                        continue
                    }
                    if reused && !idempotent {
                        throw SRIOVError(.io, "sriovd on \(client.socketPath) closed the kept-alive connection without answering \(method) \(target); it may or may not have acted on it, so it was not sent again: check (e.g. `sriovctl lease list`) before retrying", cause: e.map { .errno($0) })
                    }
                    throw client.closedError(e, method, target)
                }
            }
        }
    }
}

/// Nobody could be reached on the socket.
public struct ConnectError: Error, Sendable, Equatable {
    public var failure: UnixHTTPClient.ConnectFailure
    public var socketPath: String
    public var errno: Int32
}

/// A request's bytes: request line, headers, body.
enum HTTPRequestHead {
    static func bytes(_ method: String, _ target: String, headers: [(String, String)], body: [UInt8]?, keepAlive: Bool) -> [UInt8] {
        // HTTP/1.1 connections persist unless a side says `close`; keep-alive requests say nothing.
        var head = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\n\(keepAlive ? "" : "Connection: close\r\n")Accept: application/json\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body {
            head += "Content-Length: \(body.count)\r\n"
        }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if let body { bytes += body }
        return bytes
    }
}

/// An HTTP/1.1 response read incrementally: the status line, headers, then a body framed by
/// `Content-Length`, by `Transfer-Encoding: chunked`, or (neither) by the end of the connection. The
/// head is parsed once, on the bytes, when its blank line has arrived.
struct HTTPResponseParser {
    private(set) var data: [UInt8] = []
    /// Set with the complete response: the bytes it took, and whether its body ran to the end of the
    /// connection (no length, no chunks).
    private(set) var messageEnd: Int?
    private(set) var endedByEOF = false
    private(set) var http10 = false

    /// The parsed head: the response without its body, where the body starts, how it is framed.
    private enum Framing { case none, length(Int), chunked, toEOF }
    private var head: (response: UnixHTTPClient.Response, bodyStart: Int, framing: Framing)?
    /// Where the search for the head's blank line resumes.
    private var scanned = 0

    /// Adds bytes; returns the response once it is complete (or at EOF, when the body runs to the end).
    mutating func feed(_ bytes: ArraySlice<UInt8>, eof: Bool) throws(SRIOVError) -> UnixHTTPClient.Response? {
        data += bytes
        if head == nil {
            guard let headEnd = find([13, 10, 13, 10], in: data[max(0, scanned - 3)...]) else {
                scanned = data.count
                if eof && !data.isEmpty { throw SRIOVError(.io, "sriovd's answer ended inside its headers") }
                return nil
            }
            head = try parseHead(data[..<headEnd], bodyStart: headEnd + 4)
        }
        guard let (response, bodyStart, framing) = head else { return nil }
        let rest = data[bodyStart...]
        switch framing {
        case .none:
            messageEnd = bodyStart
            return response
        case .chunked:
            guard let (body, end) = try dechunk(rest) else {
                if eof { throw SRIOVError(.io, "sriovd's chunked answer ended before its last chunk") }
                return nil
            }
            var r = response
            r.body = body
            messageEnd = end
            return r
        case .length(let length):
            guard rest.count >= length else {
                if eof { throw SRIOVError(.io, "sriovd's answer ended after \(rest.count) of \(length) bytes") }
                return nil
            }
            var r = response
            r.body = Array(rest.prefix(length))
            messageEnd = bodyStart + length
            return r
        case .toEOF:
            guard eof else { return nil }
            var r = response
            r.body = Array(rest)
            messageEnd = data.count
            endedByEOF = true
            return r
        }
    }

    private mutating func parseHead(_ bytes: ArraySlice<UInt8>, bodyStart: Int) throws(SRIOVError) -> (UnixHTTPClient.Response, Int, Framing) {
        var lines = split(bytes)
        let statusLine = lines.isEmpty ? bytes[bytes.startIndex..<bytes.startIndex] : lines.removeFirst()
        let parts = statusLine.split(separator: UInt8(ascii: " "), maxSplits: 2)
        let version = parts.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        guard parts.count >= 2, version.hasPrefix("HTTP/1."), let status = Int(String(decoding: parts[1], as: UTF8.self)) else {
            throw SRIOVError(.io, "not an HTTP/1.x answer: \(Quote.shell(String(String(decoding: statusLine, as: UTF8.self).prefix(80))))")
        }
        http10 = version == "HTTP/1.0"
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(lines.count)
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let name = line[..<colon].map { $0 >= 0x41 && $0 <= 0x5a ? $0 + 0x20 : $0 }
            headers.append((String(decoding: name, as: UTF8.self), String(decoding: trimmed(line[(colon + 1)...]), as: UTF8.self)))
        }
        let response = UnixHTTPClient.Response(status: status, headers: headers, body: [])
        if status == 204 || status == 304 || (100..<200).contains(status) {
            return (response, bodyStart, .none)
        }
        if let te = response.header("transfer-encoding"), te.lowercased().contains("chunked") {
            return (response, bodyStart, .chunked)
        }
        if let text = response.header("content-length") {
            guard let length = Int(text), length >= 0 else {
                throw SRIOVError(.io, "sriovd sent an invalid Content-Length \(Quote.shell(text))")
            }
            return (response, bodyStart, .length(length))
        }
        return (response, bodyStart, .toEOF)
    }

    /// Whether the connection can carry another request after `response`: its end was known without
    /// closing, nothing came after it, and neither the status line (HTTP/1.0) nor a `Connection:
    /// close` says the server is done with it.
    func reusable(_ response: UnixHTTPClient.Response) -> Bool {
        guard let messageEnd, !endedByEOF, messageEnd == data.count else { return false }
        let connection = response.header("connection")?.lowercased() ?? ""
        let tokens = connection.split(separator: ",").map { String(decoding: trimmed(ArraySlice($0.utf8)), as: UTF8.self) }
        if tokens.contains("close") { return false }
        return !http10 || tokens.contains("keep-alive")
    }

    /// The body of a complete chunked message and the index after its last byte, nil while chunks are missing.
    func dechunk(_ bytes: ArraySlice<UInt8>) throws(SRIOVError) -> (body: [UInt8], end: Int)? {
        var body: [UInt8] = []
        var at = bytes.startIndex
        while true {
            guard let lineEnd = find([13, 10], in: bytes[at...]) else { return nil }
            let sizeLine = bytes[at..<lineEnd]
            let sizeField = sizeLine.split(separator: UInt8(ascii: ";"), maxSplits: 1, omittingEmptySubsequences: false).first ?? sizeLine
            guard let size = Int(String(decoding: trimmed(sizeField), as: UTF8.self), radix: 16), size >= 0 else {
                throw SRIOVError(.io, "sriovd sent an invalid chunk size \(Quote.shell(String(decoding: sizeLine, as: UTF8.self)))")
            }
            let dataStart = lineEnd + 2
            if size == 0 {
                // Trailers (if any) end with an empty line.
                var t = dataStart
                while true {
                    guard let end = find([13, 10], in: bytes[t...]) else { return nil }
                    if end == t { return (body, end + 2) }
                    t = end + 2
                }
            }
            guard bytes.endIndex - dataStart >= size + 2 else { return nil }
            body += bytes[dataStart..<(dataStart + size)]
            guard bytes[dataStart + size] == 13, bytes[dataStart + size + 1] == 10 else {
                throw SRIOVError(.io, "sriovd's chunk of \(size) bytes is not followed by CRLF")
            }
            at = dataStart + size + 2
        }
    }

    /// The lines of a head (CRLF-separated).
    func split(_ bytes: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = bytes.startIndex
        while let end = find([13, 10], in: bytes[start...]) {
            lines.append(bytes[start..<end])
            start = end + 2
        }
        lines.append(bytes[start...])
        return lines
    }

    /// Without leading and trailing spaces and tabs.
    func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var start = bytes.startIndex, end = bytes.endIndex
        while start < end && (bytes[start] == 0x20 || bytes[start] == 0x09) { start += 1 }
        while end > start && (bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09) { end -= 1 }
        return bytes[start..<end]
    }

    func find(_ needle: [UInt8], in hay: ArraySlice<UInt8>) -> Int? {
        guard hay.count >= needle.count, let first = needle.first else { return nil }
        var i = hay.startIndex
        let last = hay.endIndex - needle.count
        while i <= last {
            if hay[i] == first {
                var j = 1
                while j < needle.count && hay[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
            }
            i += 1
        }
        return nil
    }
}
