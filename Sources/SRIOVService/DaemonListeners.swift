#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization
import SRIOVConfig
import SRIOVCore

/// What the daemon listens on and who may call it, decided once at start-up from the options and the
/// configuration's `access:` section: the access control (tenants, tokens), the Unix socket's group,
/// and the TCP address. Everything is checked before the engine starts, so a typo in a group name or a
/// world-readable tokens file stops sriovd with a clear error instead of serving something else.
public struct DaemonListeners: Sendable {
    public let access: AccessControl
    /// The socket file's group (`socket_group` / `--socket-group`), resolved to a gid.
    public let socketGroup: (name: String, gid: UInt32)?
    /// `listen_tcp` / `--listen-tcp`.
    public let tcp: ListenAddress?

    /// Options win over the configuration.
    public static func prepare(config: SRIOVConfig, options: DaemonOptions, daemonUID: UInt32 = geteuid(),
                               logger: Logger) throws(SRIOVError) -> DaemonListeners {
        let tcp = options.listenTCP ?? config.access?.listenTCP
        let tokens = try config.access?.tokensFile.map { path throws(SRIOVError) in try TokenStore.load(path: path) }
        let access = AccessControl(policy: AccessPolicy(config: config, daemonUID: daemonUID), tokens: tokens)
        for warning in try access.check(listenTCP: tcp) {
            logger.warning("access", metadata: ["warning": "\(warning)"])
        }
        if let tcp, !tcp.isLoopback {
            logger.warning("serving TCP beyond this host without TLS: bearer tokens cross the network in clear text; listen on 127.0.0.1 behind a TLS-terminating proxy",
                           metadata: ["listen": "\(tcp)"])
        }
        var group: (String, UInt32)?
        if let name = options.socketGroup ?? config.access?.socketGroup {
            let gid = try UnixAccounts.gid(ofGroup: name)
            guard UnixAccounts.mayChown(toGroup: gid) else {
                throw SRIOVError(.permissionDenied, "cannot give the socket to group \(name) (gid \(gid)): sriovd runs as uid \(daemonUID), which is neither root nor in that group; run sriovd as root, add its user to \(name), or drop socket_group / --socket-group")
            }
            group = (name, gid)
        }
        if config.access == nil {
            logger.info("no access: section in the configuration: only root and the user sriovd runs as may use the API",
                        metadata: ["config": "\(config.source)", "uids": "\(access.policy.localAdmin.uids.map(String.init).joined(separator: ","))"])
        }
        return DaemonListeners(access: access, socketGroup: group, tcp: tcp)
    }
}

/// Counts the servers that still have to start listening; READY=1 goes out when the last one does.
/// Also keeps the TCP port the kernel gave (`listen_tcp` with port 0, in tests).
public final class ListenerState: Sendable {
    private let state = Mutex<(remaining: Int, tcpPort: Int?)>((0, nil))

    public init() {}

    func expect(_ servers: Int) { state.withLock { $0.remaining = servers } }

    /// True for the last server to arrive.
    func arrived() -> Bool {
        state.withLock { s in
            s.remaining -= 1
            return s.remaining == 0
        }
    }

    func setTCPPort(_ port: Int?) { state.withLock { $0.tcpPort = port } }

    /// The TCP port the API listens on, once it does (nil without TCP).
    public var tcpPort: Int? { state.withLock { $0.tcpPort } }
}
