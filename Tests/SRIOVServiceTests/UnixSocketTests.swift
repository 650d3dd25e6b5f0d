#if canImport(Glibc)
import SRIOVRuntime
import Glibc
#endif
import Foundation
import Logging
import ServiceLifecycle
import SRIOVClient
import SRIOVCore
import SRIOVLeasing
import SRIOVService
import SRIOVTestSupport
import Synchronization
import Testing

/// One HTTP/1.1 exchange over a Unix socket, on its own thread: the blocking read must not hold one of
/// the (on 2 cores, two) cooperative threads the server's handlers need.
func unixHTTP(_ socketPath: String, _ method: String, _ path: String, body: String? = nil) async throws -> (status: Int, body: String) {
    try await withCheckedThrowingContinuation { continuation in
        Thread {
            continuation.resume(with: Result { try blockingUnixHTTP(socketPath, method, path, body: body) })
        }.start()
    }
}

/// One blocking HTTP/1.1 exchange over a Unix socket (`Connection: close`, read to EOF).
func blockingUnixHTTP(_ socketPath: String, _ method: String, _ path: String, body: String? = nil) throws -> (status: Int, body: String) {
    let fd = try unixConnect(socketPath)
    defer { close(fd) }
    var request = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
    if let body { request += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)" } else { request += "\r\n" }
    let out = Array(request.utf8)
    guard out.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == out.count else { throw POSIXError(.EIO) }
    var response: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        response += chunk[0..<n]
    }
    let text = String(decoding: response, as: UTF8.self)
    let status = Int(text.split(separator: " ", maxSplits: 2).dropFirst().first ?? "") ?? 0
    let bodyText = text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
    return (status, bodyText)
}

@Suite("sriovd on a real Unix socket")
struct UnixSocketTests {
    @Test func roundTripRecordsPeerUIDAndShutsDownGracefully() async throws {
        let test = try await TestDaemon.start(socket: "run/sriovd.sock")
        let (daemon, options, socketPath) = (test.daemon, test.options, test.socketPath)

        // The socket: mode 0660, and a second daemon would refuse it.
        var st = stat()
        #expect(stat(socketPath, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o660)
        #expect(SocketFile.listening(socketPath))
        #expect(throws: SRIOVError.self) { try SocketFile.prepare(socketPath) }

        let ready = try await unixHTTP(socketPath, "GET", "/readyz")
        #expect(ready.status == 200)
        let acquired = try await unixHTTP(socketPath, "POST", "/v1/leases", body: #"{"pool":"uplink","owner":"vm-sock"}"#)
        #expect(acquired.status == 201, "\(acquired.body)")
        let lease = try #require(try JSONSerialization.jsonObject(with: Data(acquired.body.utf8)) as? [String: Any])
        // No access: section: root and the daemon's own user are the built-in local-admin tenant.
        #expect(lease["requestedBy"] as? String == "tenant local-admin (uid \(getuid()))")
        let engine = try #require(daemon.slot.engine)
        let audit = await engine.auditLog()
        #expect(audit.contains { $0.action == "lease.acquire" && $0.who == "tenant local-admin (uid \(getuid()))" }, "\(audit)")

        try await test.stop()
        #expect(daemon.slot.phase == .stopping)
        // The socket is gone and the state directory's lock was released: a new engine opens it.
        #expect(lstat(socketPath, &st) != 0)
        let host = try HostSelection.open(options)
        let config = try ConfigLoading.load(path: options.configPath, simulated: true)
        let reopened = try await LeaseEngine.start(stateDirectory: options.stateDirectory, config: config, host: host, fsync: false)
        #expect(await reopened.leases().map(\.owner) == ["vm-sock"])
        await reopened.close()
    }

    /// HTTP/1.1 keep-alive (sriovctl's client with `keepAlive`): many requests on one connection, the
    /// caller identified on each (SO_PEERCRED is read once, when the connection is set up); an idle
    /// kept-alive connection does not hold up a graceful shutdown.
    @Test func keptAliveConnectionCarriesManyRequests() async throws {
        let test = try await TestDaemon.start()
        let client = DaemonClient(socketPath: test.socketPath, timeoutSeconds: 30, keepAlive: true)
        let requesters: [String] = try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { () throws(SRIOVError) -> [String] in
                    var seen: [String] = []
                    for i in 0..<3 {
                        let lease = try client.acquire(LeaseRequest(pool: "uplink", owner: "vm-ka-\(i)", requestID: "ka-\(i)"))
                        seen.append(lease.requestedBy ?? "-")
                        let listed = try client.leases(owner: "vm-ka-\(i)").map(\.id)
                        seen.append(listed == [lease.id] ? "listed" : "listed \(listed)")
                        seen.append(try client.release(lease.id).lease.requestedBy ?? "-")
                    }
                    return seen
                })
            }.start()
        }
        let caller = "tenant local-admin (uid \(getuid()))"
        #expect(requesters == Array(repeating: [caller, "listed", caller], count: 3).flatMap { $0 })
        #expect(client.connection?.connects == 1)
        #expect(client.connection?.isOpen == true)
        try await test.stop()
        client.close()
    }

    /// SIGTERM while acquires are in flight: each one finishes (or never started), the journal is closed
    /// only after them, and a restart finds every lease active and the promises kept on the host.
    @Test func gracefulShutdownDuringLeases() async throws {
        let test = try await TestDaemon.start("sriovd-stop", socket: "run/sriovd.sock", fsync: true, logLevel: .critical)
        let (daemon, options, socketPath) = (test.daemon, test.options, test.socketPath)

        let requests = (0..<16).map { n in
            Task { try? await unixHTTP(socketPath, "POST", "/v1/leases", body: #"{"pool":"uplink","owner":"vm-\#(n)"}"#) }
        }
        // Stop as soon as the first acquire has reserved its VF: it, and any others under way, are in flight.
        let engine0 = try #require(daemon.slot.engine)
        for _ in 0..<5000 where await engine0.currentBook.leases.isEmpty { try await Task.sleep(for: .milliseconds(1)) }
        await test.group.triggerGracefulShutdown()
        var answered = 0
        for request in requests {
            if let reply = await request.value, reply.status == 201 { answered += 1 }
        }
        // The one that had reserved when SIGTERM came was finished and answered.
        #expect(answered >= 1)
        try await test.running.value
        #expect(daemon.slot.phase == .stopping)

        // Restart: nothing half-done, every answered lease is there, the host matches the book.
        let host = try HostSelection.open(options)
        let config = try ConfigLoading.load(path: options.configPath, simulated: true)
        let engine = try await LeaseEngine.start(stateDirectory: options.stateDirectory, config: config, host: host, fsync: false,
                                                 reconcile: false)
        let leases = await engine.leases()
        #expect(leases.allSatisfy { $0.state == .active }, "\(leases.map { ($0.id.value, $0.state.rawValue) })")
        #expect(leases.count >= answered)
        let inventory = try host.source.inventory()
        var readouts: [InterfaceName: VFReadout] = [:]
        for pf in inventory.pfs { if let iface = pf.interfaces.first { readouts[iface] = try await host.link.readVFs(pf: iface) } }
        let problems = Invariants.check(book: await engine.currentBook, plan: await engine.plan, inventory: inventory, readouts: readouts)
        #expect(problems.isEmpty, "\(problems)")
        await engine.close()
    }

    @Test func reaperReleasesExpiredLeasesWhileServing() async throws {
        let test = try await TestDaemon.start(reapInterval: .milliseconds(100))
        let socketPath = test.socketPath
        let acquired = try await unixHTTP(socketPath, "POST", "/v1/leases", body: #"{"pool":"uplink","owner":"vm-ttl","ttlSeconds":1}"#)
        #expect(acquired.status == 201, "\(acquired.body)")
        // Wait (bounded) for the wall clock to pass the TTL and the reaper to run.
        var remaining = -1
        for _ in 0..<100 {
            try await Task.sleep(for: .milliseconds(100))
            let list = try await unixHTTP(socketPath, "GET", "/v1/leases")
            remaining = ((try JSONSerialization.jsonObject(with: Data(list.body.utf8)) as? [String: Any])?["leases"] as? [Any])?.count ?? -1
            if remaining == 0 { break }
        }
        #expect(remaining == 0)
        try await test.stop()
    }

    @Test func staleSocketIsReplacedButARegularFileIsNot() throws {
        let dir = try TempDirectory("sock")
        let path = dir.path + "/stale.sock"
        // A bound socket with no listener: what a crashed daemon leaves behind.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: Array(path.utf8))
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        close(fd)
        #expect(bound == 0)
        #expect(!SocketFile.listening(path))
        try SocketFile.prepare(path)
        var st = stat()
        #expect(lstat(path, &st) != 0)

        try dir.file("plain", "not a socket")
        #expect(throws: SRIOVError.self) { try SocketFile.prepare(dir.path + "/plain") }
        #expect(dir.exists("plain"))
    }

    @Test func sdNotifySendsADatagram() throws {
        let dir = try TempDirectory("notify")
        let path = dir.path + "/notify.sock"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        #expect(SystemdNotifier(socketPath: path).notify("READY=1"))
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        #expect(n > 0 && String(decoding: buffer[0..<max(0, n)], as: UTF8.self) == "READY=1")
        #expect(!SystemdNotifier(socketPath: nil).notify("READY=1"))
    }

    @Test func sdNotifyReachesAnAbstractSocket() throws {
        let name = "sriovd-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = [UInt8(0)] + Array(name.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        #expect(bound == 0)
        #expect(SystemdNotifier(socketPath: "@" + name).notify("STOPPING=1"))
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        #expect(n > 0 && String(decoding: buffer[0..<max(0, n)], as: UTF8.self) == "STOPPING=1")
    }
}
