#if canImport(Glibc)
import Glibc
#endif
import SRIOVCore

/// One HTTP/1.1 exchange per connection over a Unix stream socket, with plain POSIX calls: sriovctl
/// must start fast, so no event loop is pulled in for a request or two.
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
    /// Kernel interface: `socket(AF_UNIX, SOCK_STREAM)`, `connect(2)`, `write(2)`, `read(2)`.
    /// Throws `ConnectError` when nobody could be reached, `SRIOVError` for anything after that.
    public func send(_ method: String, _ target: String, headers: [(String, String)] = [], body: [UInt8]? = nil) throws -> Response {
        let fd = try connectSocket()
        defer { close(fd) }
        var head = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAccept: application/json\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body {
            head += "Content-Length: \(body.count)\r\n"
        }
        head += "\r\n"
        try writeAll(fd, Array(head.utf8) + (body ?? []))
        var parser = HTTPResponseParser()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                let e = errno
                if e == EINTR { continue }
                if e == EAGAIN || e == EWOULDBLOCK {
                    throw SRIOVError(.timeout, "sriovd on \(socketPath) did not answer \(method) \(target) within \(timeoutSeconds) s; it may be stuck on the kernel (check `journalctl -u sriovd`)")
                }
                throw SRIOVError(.io, "reading sriovd's answer from \(socketPath) failed (\(Errno.name(e)))", cause: .errno(e))
            }
            if let response = try parser.feed(buffer[0..<n], eof: n == 0) { return response }
            if n == 0 {
                throw SRIOVError(.io, "sriovd on \(socketPath) closed the connection before a complete answer to \(method) \(target)")
            }
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

    func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(SRIOVError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                let e = errno
                if e == EINTR { continue }
                throw SRIOVError(.io, "sending the request to sriovd on \(socketPath) failed (\(Errno.name(e)))", cause: .errno(e))
            }
            offset += n
        }
    }
}

/// Nobody could be reached on the socket.
public struct ConnectError: Error, Sendable, Equatable {
    public var failure: UnixHTTPClient.ConnectFailure
    public var socketPath: String
    public var errno: Int32
}

/// An HTTP/1.1 response read incrementally: the status line, headers, then a body framed by
/// `Content-Length`, by `Transfer-Encoding: chunked`, or (neither) by the end of the connection.
struct HTTPResponseParser {
    var data: [UInt8] = []

    /// Adds bytes; returns the response once it is complete (or at EOF, when the body runs to the end).
    mutating func feed(_ bytes: ArraySlice<UInt8>, eof: Bool) throws(SRIOVError) -> UnixHTTPClient.Response? {
        data += bytes
        guard let headEnd = find([13, 10, 13, 10], in: data[...]) else {
            if eof && !data.isEmpty { throw SRIOVError(.io, "sriovd's answer ended inside its headers") }
            return nil
        }
        let headText = String(decoding: data[..<headEnd], as: UTF8.self)
        var lines = headText.split(separator: "\r\n" as Character, omittingEmptySubsequences: false).map(String.init)
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw SRIOVError(.io, "not an HTTP/1.x answer: \(Quote.shell(String(statusLine.prefix(80))))")
        }
        var headers: [(name: String, value: String)] = []
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((line[..<colon].lowercased(), trimmed(line[line.index(after: colon)...])))
        }
        let response = UnixHTTPClient.Response(status: status, headers: headers, body: [])
        let bodyStart = headEnd + 4
        let rest = data[bodyStart...]
        if status == 204 || status == 304 || (100..<200).contains(status) {
            return response
        }
        if let te = response.header("transfer-encoding"), te.lowercased().contains("chunked") {
            guard let body = try dechunk(rest) else {
                if eof { throw SRIOVError(.io, "sriovd's chunked answer ended before its last chunk") }
                return nil
            }
            var r = response
            r.body = body
            return r
        }
        if let text = response.header("content-length") {
            guard let length = Int(text), length >= 0 else {
                throw SRIOVError(.io, "sriovd sent an invalid Content-Length \(Quote.shell(text))")
            }
            guard rest.count >= length else {
                if eof { throw SRIOVError(.io, "sriovd's answer ended after \(rest.count) of \(length) bytes") }
                return nil
            }
            var r = response
            r.body = Array(rest.prefix(length))
            return r
        }
        guard eof else { return nil }
        var r = response
        r.body = Array(rest)
        return r
    }

    /// The body of a complete chunked message, nil while chunks are missing.
    func dechunk(_ bytes: ArraySlice<UInt8>) throws(SRIOVError) -> [UInt8]? {
        var body: [UInt8] = []
        var at = bytes.startIndex
        while true {
            guard let lineEnd = find([13, 10], in: bytes[at...]) else { return nil }
            let sizeText = String(decoding: bytes[at..<lineEnd], as: UTF8.self)
            let sizeField = sizeText.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
            guard let size = Int(trimmed(sizeField[...]), radix: 16), size >= 0 else {
                throw SRIOVError(.io, "sriovd sent an invalid chunk size \(Quote.shell(sizeText))")
            }
            let dataStart = lineEnd + 2
            if size == 0 {
                // Trailers (if any) end with an empty line.
                var t = dataStart
                while true {
                    guard let end = find([13, 10], in: bytes[t...]) else { return nil }
                    if end == t { return body }
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

    func trimmed(_ text: Substring) -> String {
        String(text.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }

    func find(_ needle: [UInt8], in hay: ArraySlice<UInt8>) -> Int? {
        guard hay.count >= needle.count else { return nil }
        var i = hay.startIndex
        while i + needle.count <= hay.endIndex {
            if hay[i] == needle[0] && hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
