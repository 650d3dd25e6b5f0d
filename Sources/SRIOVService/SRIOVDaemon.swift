import SRIOVRuntime
import Hummingbird
import Logging
import ServiceLifecycle
import SRIOVConfig
import SRIOVCore
import SRIOVLeasing

/// The daemon as one `Service`: opens the engine (journal replay + reconcile) before it listens, serves
/// the API on the Unix socket next to the expiry reaper, and on graceful shutdown stops accepting, lets in-flight requests finish,
/// then closes the journal (releasing the state directory's lock).
public struct SRIOVDaemon: Service {
    public let options: DaemonOptions
    public let slot: EngineSlot
    let notifier: SystemdNotifier
    let logger: Logger
    let fsync: Bool
    /// How often expired leases are released.
    let reapInterval: Duration
    /// Called once the socket listens (after its chmod and READY=1); for tests.
    let onListening: @Sendable () async -> Void

    public init(options: DaemonOptions, slot: EngineSlot = EngineSlot(), notifier: SystemdNotifier = SystemdNotifier(),
                logger: Logger = Logger(label: "sriovd"), fsync: Bool = true,
                reapInterval: Duration = .seconds(5), onListening: @escaping @Sendable () async -> Void = {}) {
        self.options = options
        self.slot = slot
        self.notifier = notifier
        self.logger = logger
        self.fsync = fsync
        self.reapInterval = reapInterval
        self.onListening = onListening
    }

    public func run() async throws {
        let config = try ConfigLoading.load(path: options.configPath, simulated: options.simulated)
        let host = try HostSelection.open(options)
        try SocketFile.prepare(options.socketPath)
        logger.info("starting the lease engine: replaying the journal and reconciling",
                    metadata: ["state_dir": "\(options.stateDirectory)", "config": "\(config.source)"])
        let engine = try await LeaseEngine.start(stateDirectory: options.stateDirectory, config: config, host: host,
                                                 fsync: fsync, logger: logger)
        do {
            try await serve(engine: engine, host: host)
        } catch {
            slot.setStopping()
            await engine.close()
            throw error
        }
        SocketFile.remove(options.socketPath)
        await engine.close()
        logger.info("stopped; journal closed")
    }

    func serve(engine: LeaseEngine, host: LeaseEngine.Host) async throws {
        slot.setReady(engine, host: host)
        let socketPath = options.socketPath
        let notifier = self.notifier
        let logger = self.logger
        let onListening = self.onListening
        var app = Application(
            router: APIRoutes.router(slot: slot),
            configuration: ApplicationConfiguration(address: .unixDomainSocket(path: socketPath), serverName: "sriovd"),
            onServerRunning: { _ in
                do throws(SRIOVError) { try SocketFile.setMode(socketPath) } catch {
                    logger.error("socket mode not set", metadata: ["error": "\(error.message)"])
                }
                notifier.notify("READY=1")
                logger.info("ready", metadata: ["socket": "\(socketPath)"])
                await onListening()
            },
            logger: logger
        )
        app.addServices(LeaseReaper(engine: engine, interval: reapInterval, logger: logger))
        let slot = self.slot
        try await withGracefulShutdownHandler {
            try await app.run()
        } onGracefulShutdown: {
            slot.setStopping()
            notifier.notify("STOPPING=1")
            logger.info("stopping: finishing in-flight requests")
        }
    }
}
