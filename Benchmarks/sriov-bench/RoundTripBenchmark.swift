#if canImport(Glibc)
import Glibc
#endif
import SRIOVClient
import SRIOVCore

/// `http-roundtrip`: what one kept-alive HTTP round trip costs on this machine, sriovd's against the
/// least any server could do. The same client (daemon-load's raw one, one kept-alive connection) sends
/// the same GET to:
/// - a minimal responder this benchmark starts as a process of its own (`http-responder`): blocking
///   POSIX calls on one thread, reading to the end of each request's head and writing one fixed answer
///   (`{"leases":[]}`, what sriovd answers with no leases): the transport's floor, the two processes'
///   system calls and wake-ups with no HTTP stack;
/// - sriovd on `--socket`, the same path (default `GET /v1/leases`).
/// The difference is what sriovd's HTTP stack, router and route cost per request. A lease cycle through
/// the API is two requests, so twice that is part of what the API adds to the engine (`lease-engine`).
func httpRoundTrip(_ arguments: ArraySlice<String>) {
    var socket: String?
    var path = "/v1/leases"
    var requests = 200
    func usage(_ why: String) -> Never {
        usageError("http-roundtrip", "sriov-bench http-roundtrip --socket PATH [--path /v1/leases] [--requests N]", why)
    }
    for (flag, value) in optionPairs(arguments, usage: usage) {
        switch flag {
        case "--socket": socket = value
        case "--path":
            guard value.hasPrefix("/"), !value.contains(" ") else { usage("invalid --path \(value): give an absolute request path without spaces") }
            path = value
        case "--requests":
            guard let n = Int(value), n > 0 else { usage("invalid --requests \(value): give a positive whole number") }
            requests = n
        default: usage("unknown option \(flag)")
        }
    }
    guard let socket else { usage("--socket is required: the Unix socket sriovd serves on") }

    // The responder's socket next to nothing of sriovd's: a fresh directory of our own. It is bound and
    // listening before the responder starts (the responder inherits it), so the first GET needs no wait.
    var template = Array("/tmp/sriov-bench-responder.XXXXXX".utf8CString)
    guard let dir = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }).map({ String(cString: $0) }) else {
        print("http-roundtrip: error: cannot create a directory under /tmp for the responder's socket: \(String(cString: strerror(errno)))")
        exit(1)
    }
    let responderSocket = dir + "/responder.sock"
    func removeDirectory() {
        unlink(responderSocket)
        rmdir(dir)
    }
    let listening: Int32
    switch listeningSocket(responderSocket) {
    case .success(let fd): listening = fd
    case .failure(let why):
        removeDirectory()
        print("http-roundtrip: error: \(why)")
        exit(1)
    }
    let started = startProcess([CommandLine.arguments[0], "http-responder", String(listening)])
    close(listening)
    guard started.error == 0 else {
        removeDirectory()
        print("http-roundtrip: error: cannot start the minimal responder (\(CommandLine.arguments[0])): \(String(cString: strerror(started.error)))")
        exit(1)
    }
    func stopResponder() {
        kill(started.pid, SIGTERM)
        var status: Int32 = 0
        waitpid(started.pid, &status, 0)
        removeDirectory()
    }

    /// The times of `requests` GETs on one kept-alive connection (after 10 not counted, which open it).
    func run(_ socketPath: String) -> (times: Stats, body: Int)? {
        let connection = UnixHTTPConnection(socketPath: socketPath, timeoutSeconds: 30)
        defer { connection.close() }
        let clock = ContinuousClock()
        var samples: [Double] = []
        var body = 0
        for i in 0..<(requests + 10) {
            let start = clock.now
            let response: UnixHTTPClient.Response
            do {
                response = try connection.send("GET", path)
            } catch {
                let why: String
                if let e = error as? ConnectError {
                    why = "cannot connect (\(String(cString: strerror(e.errno)))): is sriovd serving on this socket?"
                } else if let e = error as? SRIOVError {
                    why = e.message
                } else {
                    why = "\(error)"
                }
                print("http-roundtrip: error: GET \(path) on \(socketPath): \(why)")
                return nil
            }
            guard response.status == 200 else {
                print("http-roundtrip: error: GET \(path) on \(socketPath) answered \(response.status), not 200: give a path sriovd answers with 200 (--path)")
                return nil
            }
            if i >= 10 {
                samples.append(ms(start.duration(to: clock.now)))
                body = response.body.count
            }
        }
        return (Stats(samples: samples), body)
    }
    print("http-roundtrip: \(requests) kept-alive GET \(path) on one connection each, the same raw client (daemon-load's)")
    let floorRun = run(responderSocket)
    let sriovdRun = floorRun == nil ? nil : run(socket)
    stopResponder()
    guard let floor = floorRun, let sriovd = sriovdRun else { exit(1) }
    func f(_ v: Double) -> String { String(format: "%.3f", v) }
    let (floorP50, sriovdP50) = (floor.times.percentile(0.5), sriovd.times.percentile(0.5))
    print("http-roundtrip: minimal responder (one thread, blocking POSIX, a fixed \(floor.body)-byte answer): p50 \(f(floorP50)) ms  p90 \(f(floor.times.percentile(0.9))) ms")
    print("http-roundtrip: sriovd (\(socket), \(sriovd.body)-byte answer): p50 \(f(sriovdP50)) ms  p90 \(f(sriovd.times.percentile(0.9))) ms")
    print("http-roundtrip: sriovd's HTTP stack, router and route add \(f(sriovdP50 - floorP50)) ms a request (p50), \(String(format: "%.1f", sriovdP50 / max(floorP50, 0.001)))x the floor's round trip")
}

/// A Unix socket bound at `path` and listening, for the responder to inherit; or why not.
func listeningSocket(_ path: String) -> Result<Int32, ListenFailure> {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard fd >= 0, bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
        if fd >= 0 { close(fd) }
        return .failure(ListenFailure(description: "cannot open a socket at \(path)"))
    }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard bound == 0, listen(fd, 16) == 0 else {
        let why = String(cString: strerror(errno))
        close(fd)
        return .failure(ListenFailure(description: "cannot listen on \(path): \(why)"))
    }
    return .success(fd)
}

struct ListenFailure: Error, CustomStringConvertible {
    let description: String
}

/// `http-responder <fd>`: the minimal responder `http-roundtrip` starts (not for direct use), on the
/// listening socket it inherits as descriptor `fd`: accepts one connection at a time and answers each
/// request head (up to its blank line; requests with a body are not expected) with the same fixed 200
/// and JSON body. Ends on SIGTERM.
func httpResponder(_ arguments: ArraySlice<String>) -> Never {
    guard arguments.count == 1, let fd = arguments.first.flatMap({ Int32($0) }), fd >= 0 else {
        print("usage: sriov-bench http-responder FD (a listening socket; started by http-roundtrip)")
        exit(64)
    }
    let answer = Array("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n{\"leases\":[]}".utf8)
    var buffer = [UInt8](repeating: 0, count: 16384)
    while true {
        let connection = accept(fd, nil, nil)
        guard connection >= 0 else {
            if errno == EINTR || errno == ECONNABORTED { continue }
            print("http-responder: error: accept on descriptor \(fd): \(String(cString: strerror(errno)))")
            exit(1)
        }
        var have = 0
        reading: while true {
            let n = buffer.withUnsafeMutableBytes { read(connection, $0.baseAddress! + have, $0.count - have) }
            guard n > 0 else { break }
            have += n
            // Every complete head in the buffer gets the answer; what follows the last one is kept.
            var start = 0
            var i = 3
            while i < have {
                if buffer[i] == 0x0a && buffer[i - 1] == 0x0d && buffer[i - 2] == 0x0a && buffer[i - 3] == 0x0d {
                    let written = answer.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
                    guard written == answer.count else { break reading }
                    start = i + 1
                    i += 4
                } else {
                    i += 1
                }
            }
            if start > 0 {
                buffer.replaceSubrange(0..<(have - start), with: buffer[start..<have])
                have -= start
            }
            if have == buffer.count { break }
        }
        close(connection)
    }
}
