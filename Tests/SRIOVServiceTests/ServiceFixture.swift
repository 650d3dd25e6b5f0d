import SRIOVRuntime
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ServiceLifecycle
import SRIOVConfig
import SRIOVCore
import SRIOVLeasing
import SRIOVService
import SRIOVSimulator
import SRIOVTestSupport

/// A simulated host in a temp dir, the sample configuration (Config/sriovd.yaml), and an engine slot.
struct ServiceFixture {
    let dir: TempDirectory
    let sim: SimulatedHost
    let config: SRIOVConfig
    let slot = EngineSlot()

    init() throws {
        dir = try TempDirectory("svc")
        sim = try SimulatedHost.create(directory: dir.path + "/sim", spec: .standard())
        config = try SRIOVConfig.parse(yaml: EmbeddedConfig.simulatedHost, source: "Config/sriovd.yaml")
    }

    var host: LeaseEngine.Host { LeaseEngine.Host(source: sim, control: sim, link: sim) }

    /// Starts the engine (replay + reconcile) and marks the slot ready.
    func start() async throws -> LeaseEngine {
        let engine = try await LeaseEngine.start(stateDirectory: dir.path + "/state", config: config, host: host, fsync: false)
        slot.setReady(engine, host: host)
        return engine
    }

    /// The router; its callers are root on the Unix socket unless `access` says otherwise (the
    /// in-memory test channel has no SO_PEERCRED, so the caller comes from `AccessControl`).
    func app(access: AccessControl = ServiceFixture.rootAccess()) -> some ApplicationProtocol {
        Application(router: APIRoutes.router(slot: slot, access: access))
    }

    /// The built-in policy, with every request coming from uid 0 (the `local-admin` tenant).
    static func rootAccess() -> AccessControl {
        let policy = AccessPolicy(access: nil, source: "test", daemonUID: 0)
        return AccessControl(policy: policy, unsocketedCaller: policy.caller(PeerCredentials(uid: 0, gid: 0, pid: 1), groups: [0]))
    }
}

extension ByteBuffer {
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(readableBytesView))) as? [String: Any] ?? [:]
    }
    var text: String { String(buffer: self) }
}

func jsonBody(_ object: [String: Any]) -> ByteBuffer {
    ByteBuffer(bytes: (try? JSONSerialization.data(withJSONObject: object)) ?? Data())
}

/// sriovd serving a simulated host in a temp dir on a Unix socket there: the start-up every
/// real-socket test needs, returned once the socket listens.
struct TestDaemon {
    let dir: TempDirectory
    let daemon: SRIOVDaemon
    let group: ServiceGroup
    let running: Task<Void, any Error>

    var options: DaemonOptions { daemon.options }
    var socketPath: String { daemon.options.socketPath }

    /// `socket` is relative to the temp dir; `edit` adjusts the options before start.
    static func start(_ name: String = "sriovd", config: String = EmbeddedConfig.simulatedHost, socket: String = "sriovd.sock",
                      fsync: Bool = false, reapInterval: Duration = .seconds(5), logLevel: Logger.Level = .warning,
                      options edit: (inout DaemonOptions) -> Void = { _ in }) async throws -> TestDaemon {
        let dir = try TempDirectory(name)
        try dir.file("sriovd.yaml", config)
        var options = DaemonOptions(simulated: true, stateDirectory: dir.path + "/state", configPath: dir.path + "/sriovd.yaml",
                                    socketPath: dir.path + "/" + socket)
        edit(&options)
        let listening = AsyncStream<Void>.makeStream()
        var logger = Logger(label: "sriovd-test")
        logger.logLevel = logLevel
        let daemon = SRIOVDaemon(options: options, notifier: SystemdNotifier(socketPath: nil), logger: logger, fsync: fsync,
                                 reapInterval: reapInterval, onListening: { listening.continuation.yield() })
        let group = ServiceGroup(configuration: .init(services: [daemon], logger: logger))
        let running = Task { try await group.run() }
        var iterator = listening.stream.makeAsyncIterator()
        _ = await iterator.next()
        return TestDaemon(dir: dir, daemon: daemon, group: group, running: running)
    }

    /// Graceful shutdown (SIGTERM's path), then whatever the daemon threw.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await running.value
    }
}
