#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import ServiceLifecycle
import SRIOVConfig
import SRIOVCore
import SRIOVLeasing
import SRIOVRuntime
import SRIOVService
import SRIOVTestSupport
import Testing

/// One HTTP/1.1 exchange with 127.0.0.1:`port` on its own thread (see `unixHTTP`).
func tcpHTTP(_ port: Int, _ method: String, _ path: String, headers: [String: String] = [:],
             body: String? = nil) async throws -> (status: Int, head: String, body: String) {
    try await withCheckedThrowingContinuation { continuation in
        Thread {
            continuation.resume(with: Result { try blockingTCPHTTP(port, method, path, headers: headers, body: body) })
        }.start()
    }
}

func blockingTCPHTTP(_ port: Int, _ method: String, _ path: String, headers: [String: String],
                     body: String?) throws -> (status: Int, head: String, body: String) {
    let fd = try tcpConnect(port)
    defer { close(fd) }
    var request = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
    for (name, value) in headers { request += "\(name): \(value)\r\n" }
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
    let parts = text.components(separatedBy: "\r\n\r\n")
    let status = Int(text.split(separator: " ", maxSplits: 2).dropFirst().first ?? "") ?? 0
    return (status, parts.first ?? "", parts.dropFirst().joined(separator: "\r\n\r\n"))
}

/// A daemon on the simulated host with `access`, run until `body` returns.
struct AccessDaemon {
    let dir: TempDirectory
    let daemon: SRIOVDaemon
    var socketPath: String { daemon.options.socketPath }

    static func with(access: String, options edit: (inout DaemonOptions) -> Void = { _ in },
                     _ body: (AccessDaemon) async throws -> Void) async throws {
        let test = try await TestDaemon.start("sriovd-access", config: EmbeddedConfig.simulatedHost + access, logLevel: .critical,
                                              options: edit)
        do {
            try await body(AccessDaemon(dir: test.dir, daemon: test.daemon))
        } catch {
            _ = try? await test.stop()
            throw error
        }
        try await test.stop()
    }

    /// Runs a daemon that must refuse to start; returns its error.
    static func refusal(access: String, options edit: (inout DaemonOptions) -> Void = { _ in }) async throws -> SRIOVError? {
        let dir = try TempDirectory("sriovd-access")
        try dir.file("sriovd.yaml", EmbeddedConfig.simulatedHost + access)
        var options = DaemonOptions(simulated: true, stateDirectory: dir.path + "/state", configPath: dir.path + "/sriovd.yaml",
                                    socketPath: dir.path + "/sriovd.sock")
        edit(&options)
        var logger = Logger(label: "sriovd-test")
        logger.logLevel = .critical
        let daemon = SRIOVDaemon(options: options, notifier: SystemdNotifier(socketPath: nil), logger: logger, fsync: false)
        do {
            try await daemon.run()
            return nil
        } catch let error as SRIOVError {
            var st = stat()
            #expect(lstat(options.socketPath, &st) != 0, "a refused daemon left a socket")
            return error
        }
    }
}

func json(_ text: String) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
}

@Suite("sriovd: tenants on the Unix socket, bearer tokens on TCP, the socket's group")
struct DaemonAccessTests {
    static let orchToken = "orch-secret-0123456789"

    /// The test's own uid (root in CI) in a tenant without admin; an admin tenant behind a token.
    static func access(tokensFile: String, tcp: Bool = true) -> String {
        """

        access:
        \(tcp ? "  listen_tcp: \"127.0.0.1:0\"\n" : "")  tokens_file: \(tokensFile)
          tenants:
            - name: me
              uids: [\(getuid())]
              pools: [uplink]
            - name: orch
              tokens: [orch-1]
              pools: ["*"]
              rights: [admin]

        """
    }

    static func tokensFile(_ dir: TempDirectory, mode: mode_t = 0o600) throws -> String {
        try dir.file("tokens", "# sriovd bearer tokens\norch-1 \(TokenStore.hashLine(orchToken))\nspare \(TokenStore.hashLine("unused"))\n")
        let path = dir.path + "/tokens"
        chmod(path, mode)
        return path
    }

    @Test func unixCallerIsItsTenantAndTCPCallersNeedAToken() async throws {
        let secrets = try TempDirectory("tokens")
        let tokens = try Self.tokensFile(secrets)
        try await AccessDaemon.with(access: Self.access(tokensFile: tokens)) { d in
            // The Unix socket: SO_PEERCRED uid -> tenant me.
            let acquired = try await unixHTTP(d.socketPath, "POST", "/v1/leases", body: #"{"pool":"uplink","owner":"vm-u"}"#)
            #expect(acquired.status == 201, "\(acquired.body)")
            #expect(json(acquired.body)["requestedBy"] as? String == "tenant me (uid \(getuid()))")
            let refused = try await unixHTTP(d.socketPath, "POST", "/v1/leases", body: #"{"pool":"storage","owner":"vm-u"}"#)
            #expect(refused.status == 403 && json(refused.body)["code"] as? String == "forbidden")
            let audit = try await unixHTTP(d.socketPath, "GET", "/v1/audit")
            #expect(audit.status == 403 && (json(audit.body)["detail"] as? String ?? "").contains("needs the admin right"))

            let port = try #require(d.daemon.listeners.tcpPort)
            #expect(port > 0)
            // TCP: health for anyone; everything else needs a valid token.
            #expect(try await tcpHTTP(port, "GET", "/healthz").status == 200)
            for headers in [[:], ["Authorization": "Bearer wrong"], ["Authorization": "Basic b3JjaDpzZWNyZXQ="],
                            ["Authorization": "Bearer " + TokenStore.hashLine(Self.orchToken)]] {
                let r = try await tcpHTTP(port, "GET", "/v1/pools", headers: headers)
                #expect(r.status == 401, "\(headers)")
                #expect(r.head.lowercased().contains("www-authenticate: bearer realm=\"sriovd\""), "\(r.head)")
                #expect(json(r.body)["code"] as? String == "unauthenticated")
            }
            let bearer = ["Authorization": "Bearer \(Self.orchToken)"]
            let pools = try await tcpHTTP(port, "GET", "/v1/pools", headers: bearer)
            #expect(pools.status == 200, "\(pools.body)")
            let viaTCP = try await tcpHTTP(port, "POST", "/v1/leases", headers: bearer, body: #"{"pool":"storage","owner":"vm-t"}"#)
            #expect(viaTCP.status == 201, "\(viaTCP.body)")
            #expect(json(viaTCP.body)["requestedBy"] as? String == "tenant orch (token orch-1)")
            // The admin token reads the trail: both callers, as the transports identified them.
            let trail = try await tcpHTTP(port, "GET", "/v1/audit", headers: bearer)
            let records = json(trail.body)["records"] as? [[String: Any]] ?? []
            let who = records.filter { $0["action"] as? String == "lease.acquire" }.compactMap { $0["who"] as? String }
            #expect(who == ["tenant me (uid \(getuid()))", "tenant orch (token orch-1)"], "\(records)")
            #expect(records.contains { $0["action"] as? String == "api.refused" && $0["who"] as? String == "tenant me (uid \(getuid()))" })
        }
    }

    @Test func tcpWithoutTokensRefusesToStart() async throws {
        let noTokens = "\naccess:\n  tenants:\n    - {name: me, uids: [0], pools: [\"*\"]}\n"
        let error = try #require(try await AccessDaemon.refusal(access: noTokens) { $0.listenTCP = ListenAddress(host: "127.0.0.1", port: 0) })
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains("refusing to serve TCP on 127.0.0.1:0") && error.message.contains("access.tokens_file is not set"))
        // Without any access: section, --listen-tcp is refused the same way.
        let builtIn = try #require(try await AccessDaemon.refusal(access: "") { $0.listenTCP = ListenAddress(host: "127.0.0.1", port: 0) })
        #expect(builtIn.message.contains("refusing to serve TCP"))
    }

    @Test func aWorldReadableTokensFileRefusesToStart() async throws {
        let secrets = try TempDirectory("tokens")
        let tokens = try Self.tokensFile(secrets, mode: 0o604)
        let error = try #require(try await AccessDaemon.refusal(access: Self.access(tokensFile: tokens)))
        #expect(error.code == .permissionDenied && error.message.contains("chmod 600"))
    }

    @Test func socketGroupIsSetOrTheDaemonRefusesToStart() async throws {
        // Some group other than ours that every Linux has.
        let group = try #require(["daemon", "bin", "sys", "adm", "nogroup"].first { (try? UnixAccounts.gid(ofGroup: $0)) != nil })
        let gid = try UnixAccounts.gid(ofGroup: group)
        try await AccessDaemon.with(access: "\naccess:\n  socket_group: \(group)\n") { d in
            var st = stat()
            #expect(stat(d.socketPath, &st) == 0)
            #expect(st.st_gid == gid && st.st_mode & 0o777 == 0o660)
        }
        // --socket-group wins over the file; an unknown group stops the daemon before it listens.
        let error = try #require(try await AccessDaemon.refusal(access: "\naccess:\n  socket_group: \(group)\n") {
            $0.socketGroup = "no-such-group-sriovd"
        })
        #expect(error.code == .notFound && error.message.contains("group 'no-such-group-sriovd' does not exist"))
    }
}
