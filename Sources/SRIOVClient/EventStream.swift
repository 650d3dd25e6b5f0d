#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SRIOVAPI
import SRIOVCore

extension DaemonClient {
    /// `GET /v1/events`, followed as it streams: the head is read here (an error answer becomes its
    /// `SRIOVError`), then a thread of its own reads the chunked body and yields each server-sent event.
    /// Ending the iteration shuts the socket down, which ends the thread's blocking read.
    ///
    /// Kernel interface: `socket(AF_UNIX, SOCK_STREAM)`, `connect(2)`, `send(2)`, `read(2)`, `shutdown(2)`.
    public func events() throws(SRIOVError) -> AsyncThrowingStream<EventRecord, any Error> {
        let fd: Int32
        do {
            fd = try http.connectSocket()
        } catch let error as SRIOVError {
            throw error
        } catch let error as ConnectError {
            throw unreachable(error)
        } catch {
            throw SRIOVError(.io, "talking to sriovd on \(http.socketPath) failed: \(error)")
        }
        // The stream is quiet between events (a heartbeat comes every 15 s): no receive timeout.
        var none = timeval(tv_sec: 0, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, socklen_t(MemoryLayout<timeval>.size))
        if let failure = http.writeAll(fd, HTTPRequestHead.bytes("GET", "/v1/events", headers: [], body: nil, keepAlive: false)) {
            Glibc.close(fd)
            throw http.sendError(failure.errno)
        }
        var reader = EventStreamReader(fd: fd, socketPath: http.socketPath)
        do throws(SRIOVError) {
            if let refusal = try reader.readHead() {
                Glibc.close(fd)
                throw DaemonClient.error(from: refusal)
            }
        } catch {
            Glibc.close(fd)
            throw error
        }
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: EventRecord.self)
        let box = ReaderBox(reader)
        let thread = Thread {
            var reader = box.take()
            do throws(SRIOVError) {
                while let record = try reader.next() {
                    if case .terminated = continuation.yield(record) { break }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
            Glibc.close(fd)
        }
        continuation.onTermination = { _ in _ = shutdown(fd, Int32(SHUT_RDWR)) }
        thread.start()
        return stream
    }
}

/// Hands the reader to the thread that owns it from then on.
private final class ReaderBox: @unchecked Sendable {
    private var reader: EventStreamReader?
    init(_ reader: EventStreamReader) { self.reader = reader }
    func take() -> EventStreamReader {
        defer { reader = nil }
        return reader ?? EventStreamReader(fd: -1, socketPath: "")
    }
}

/// Reads `GET /v1/events`'s answer from a socket: the head, then a chunked (or connection-delimited)
/// body of server-sent events (`event:`, `id:`, `data:` lines, a blank line ends one; `:` lines are
/// comments, the heartbeat).
struct EventStreamReader {
    let fd: Int32
    let socketPath: String
    private var pending: [UInt8] = []
    private var chunked = false
    private var body: [UInt8] = []
    private var ended = false

    init(fd: Int32, socketPath: String) {
        self.fd = fd
        self.socketPath = socketPath
    }

    /// Reads more bytes into `pending`; false at the end of the connection.
    private mutating func fill() throws(SRIOVError) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { pending += buffer[0..<n]; return true }
            if n == 0 { return false }
            let e = errno
            if e == EINTR { continue }
            // shutdown(2) from the consumer's side ends the read this way too.
            if e == EBADF || e == ECONNRESET || e == ENOTCONN { return false }
            throw SRIOVError(.io, "reading sriovd's event stream from \(socketPath) failed (\(Errno.name(e)))", cause: .errno(e))
        }
    }

    private static func find(_ needle: [UInt8], in hay: [UInt8], from start: Int = 0) -> Int? {
        guard hay.count >= needle.count + start else { return nil }
        var i = start
        while i <= hay.count - needle.count {
            if hay[i] == needle[0] && Array(hay[i..<(i + needle.count)]) == needle { return i }
            i += 1
        }
        return nil
    }

    /// Reads the status line and headers. nil for a 200; otherwise the whole error answer.
    mutating func readHead() throws(SRIOVError) -> UnixHTTPClient.Response? {
        var headEnd = EventStreamReader.find([13, 10, 13, 10], in: pending)
        while headEnd == nil {
            guard try fill() else { throw SRIOVError(.io, "sriovd on \(socketPath) closed the event stream before answering") }
            headEnd = EventStreamReader.find([13, 10, 13, 10], in: pending)
        }
        guard let end = headEnd else { return nil }
        let head = String(decoding: pending[0..<end], as: UTF8.self)
        let lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusWords = lines.first?.split(separator: " ") ?? []
        guard statusWords.count >= 2, let status = Int(statusWords[1]) else {
            throw SRIOVError(.io, "sriovd on \(socketPath) answered the event stream with a malformed status line")
        }
        if status != 200 {
            while try fill() {}
            var parser = HTTPResponseParser()
            if let response = try parser.feed(pending[...], eof: true) { return response }
            return UnixHTTPClient.Response(status: status, headers: [], body: [])
        }
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "transfer-encoding", parts[1].lowercased().contains("chunked") { chunked = true }
        }
        pending.removeFirst(end + 4)
        return nil
    }

    /// Moves the body's bytes from `pending` to `body` (undoing chunked framing); false when the body ended.
    private mutating func decode() throws(SRIOVError) -> Bool {
        guard chunked else {
            body += pending
            pending.removeAll()
            return true
        }
        while let lineEnd = EventStreamReader.find([13, 10], in: pending) {
            let sizeText = String(decoding: pending[0..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                throw SRIOVError(.io, "sriovd's event stream from \(socketPath) has a malformed chunk")
            }
            if size == 0 { return false }
            guard pending.count >= lineEnd + 2 + size + 2 else { break }
            body += pending[(lineEnd + 2)..<(lineEnd + 2 + size)]
            pending.removeFirst(lineEnd + 2 + size + 2)
        }
        return true
    }

    /// The next event, or nil when the stream ended.
    mutating func next() throws(SRIOVError) -> EventRecord? {
        while true {
            // One event: everything up to a blank line.
            if let end = EventStreamReader.find([10, 10], in: body) {
                let text = String(decoding: body[0..<end], as: UTF8.self)
                body.removeFirst(end + 2)
                var kind: String?
                var data = ""
                for line in text.split(separator: "\n") {
                    if line.hasPrefix(":") { continue }
                    if line.hasPrefix("event:") { kind = line.dropFirst(6).trimmingCharacters(in: .whitespaces) }
                    if line.hasPrefix("data:") { data += line.dropFirst(5).trimmingCharacters(in: .whitespaces) }
                }
                if kind == "stream.overflow" {
                    throw SRIOVError(.busy, "sriovd cut this event stream off: it fell too far behind; subscribe again and resynchronise from `sriovctl lease list` and `pool list`")
                }
                guard !data.isEmpty else { continue }
                do {
                    return try CompactJSONDecoder().decode(EventRecord.self, from: Array(data.utf8))
                } catch {
                    throw SRIOVError(.io, "sriovd sent an event this sriovctl cannot read (\(error)); are sriovctl and sriovd the same version?")
                }
            }
            if ended { return nil }
            guard try fill() else { ended = true; _ = try decode(); continue }
            if !(try decode()) { ended = true }
        }
    }
}
