import SRIOVRuntime
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import SRIOVConfig
import SRIOVCore
import SRIOVLeasing

/// The daemon as one `Service`: opens the engine (journal replay + reconcile) before it listens, serves
/// the API on the Unix socket (and on TCP with bearer tokens when configured) next to the expiry reaper, and on graceful shutdown stops accepting, lets in-flight requests finish,
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
    /// What `GET /metrics` serves (sriovd's main bootstraps swift-metrics with the same factory).
    public let metrics: ServiceMetrics
    /// How many listeners are up, and the TCP port (for tests that listen on port 0).
    public let listeners = ListenerState()

    public init(options: DaemonOptions, slot: EngineSlot = EngineSlot(), notifier: SystemdNotifier = SystemdNotifier(),
                logger: Logger = Logger(label: "sriovd"), fsync: Bool = true,
                reapInterval: Duration = .seconds(5), metrics: ServiceMetrics = ServiceMetrics(),
                onListening: @escaping @Sendable () async -> Void = {}) {
        self.options = options
        self.slot = slot
        self.notifier = notifier
        self.logger = logger
        self.fsync = fsync
        self.reapInterval = reapInterval
        self.onListening = onListening
        self.metrics = metrics
    }

    /// A kept-alive connection with no request for this long is closed (clients reconnect).
    public static let idleTimeout: TimeAmount = .seconds(60)

    public func run() async throws {
        let config = try ConfigLoading.load(path: options.configPath, simulated: options.simulated)
        let metrics = self.metrics
        // Every sysfs write and netlink request of a lease step, timed into /metrics (HostProfile).
        let host = HostProfile.wrap(try HostSelection.open(options)) { metrics.hostOperation($0, $1) }
        let access = try DaemonListeners.prepare(config: config, options: options, logger: logger)
        try SocketFile.prepare(options.socketPath)
        DescriptorLimit.raise(wanted: options.connectionLimits.descriptorsWanted, logger: logger)
        logger.info("starting the lease engine: replaying the journal and reconciling",
                    metadata: ["state_dir": "\(options.stateDirectory)", "config": "\(config.source)"])
        let engine = try await LeaseEngine.start(stateDirectory: options.stateDirectory, config: config, host: host,
                                                 fsync: fsync, logger: logger)
        await engine.setConsumerGrace(seconds: options.consumerGrace)
        do {
            try await serve(engine: engine, host: host, access: access)
        } catch {
            slot.setStopping()
            await engine.close()
            throw error
        }
        SocketFile.remove(options.socketPath)
        // A graceful stop leaves a snapshot when the next start would replay a long tail of records.
        await engine.close(snapshottingLongReplay: true)
        logger.info("stopped; journal closed")
    }

    func serve(engine: LeaseEngine, host: LeaseEngine.Host, access: DaemonListeners) async throws {
        slot.setReady(engine, host: host)
        let socketPath = options.socketPath
        let notifier = self.notifier
        let logger = self.logger
        let onListening = self.onListening
        let listeners = self.listeners
        listeners.expect(access.tcp == nil ? 1 : 2)
        let ready: @Sendable () async -> Void = {
            notifier.notify("READY=1")
            logger.info("ready", metadata: ["socket": "\(socketPath)", "tcp": "\(listeners.tcpPort.map(String.init) ?? "-")"])
            await onListening()
        }
        let socketGroup = access.socketGroup
        let metrics = self.metrics
        // One tracker for both listeners: the limits are the daemon's.
        let tracker = ConnectionTracker(limits: options.connectionLimits, logger: logger,
                                        refused: { reason in metrics.connectionRefused(reason: reason) })
        var app = Application(
            router: APIRoutes.router(slot: slot, metrics: metrics, access: access.access),
            server: .identifiedHTTP1(idleTimeout: Self.idleTimeout, tracker: tracker),
            configuration: ApplicationConfiguration(address: .unixDomainSocket(path: socketPath), serverName: "sriovd"),
            onServerRunning: { _ in
                do throws(SRIOVError) {
                    if let socketGroup { try SocketFile.setGroup(socketPath, gid: socketGroup.gid) }
                    try SocketFile.setMode(socketPath)
                } catch {
                    logger.error("socket group or mode not set", metadata: ["error": "\(error.message)"])
                }
                if listeners.arrived() { await ready() }
            },
            logger: logger
        )
        if let tcp = access.tcp {
            // The same API on TCP: callers there are identified by bearer tokens only.
            app.addServices(Application(
                router: APIRoutes.router(slot: slot, metrics: metrics, access: access.access),
                server: .identifiedHTTP1(idleTimeout: Self.idleTimeout, tracker: tracker),
                configuration: ApplicationConfiguration(address: .hostname(tcp.host, port: tcp.port), serverName: "sriovd"),
                onServerRunning: { channel in
                    listeners.setTCPPort(channel.localAddress?.port)
                    logger.info("listening on TCP", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "\(tcp)")"])
                    if listeners.arrived() { await ready() }
                },
                logger: logger
            ))
        }
        app.addServices(LeaseReaper(engine: engine, interval: reapInterval, logger: logger))
        if options.hostEvents {
            app.addServices(HostWatcher(engine: engine, source: HostSelection.events(simulated: options.simulated, stateDirectory: options.stateDirectory),
                                        settings: options.hostWatcher, logger: logger, factory: metrics.factory))
        }
        let slot = self.slot
        try await withGracefulShutdownHandler {
            try await app.run()
        } onGracefulShutdown: {
            slot.setStopping()
            // Event streams never end on their own; end them so in-flight requests can finish.
            engine.eventFeed.close()
            notifier.notify("STOPPING=1")
            logger.info("stopping: finishing in-flight requests")
        }
    }
}
