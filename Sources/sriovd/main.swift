#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import SRIOVConfig
import SRIOVCore
import SRIOVService

/// `sriovd`: serves the lease engine over HTTP on a Unix socket until SIGTERM/SIGINT.
struct Sriovd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sriovd",
        abstract: "The SR-IOV VF lease daemon: serves the lease API (Docs/openapi.yaml) on a Unix socket.",
        discussion: "Replays the journal and reconciles with the host before it listens; stops gracefully on SIGTERM or SIGINT. With NOTIFY_SOCKET set (systemd Type=notify) it sends READY=1 and STOPPING=1. `sriovd apply` (run at boot, before sriovd) creates the configured VFs and puts leased VFs back on vfio-pci.",
        subcommands: [SriovdApply.self]
    )

    @Flag(name: .customLong("simulated"), help: "Serve the simulated host (created under the state directory on first use).")
    var simulated = false

    @Option(name: .customLong("state-dir"), help: ArgumentHelp("sriovd's state directory (journal, lock).", valueName: "dir"))
    var stateDir: String = DaemonOptions.defaultStateDirectory

    @Option(name: .customLong("config"), help: ArgumentHelp("sriovd's configuration (pools). Default: /etc/sriovd/sriovd.yaml if it exists; with --simulated, the built-in sample for the simulated host.", valueName: "file"))
    var config: String?

    @Option(name: .customLong("socket"), help: ArgumentHelp("The Unix socket to serve on (mode 0660).", valueName: "path"))
    var socket: String = DaemonOptions.defaultSocketPath

    @Option(name: .customLong("listen-tcp"), help: ArgumentHelp("Also serve the API on TCP, for callers with a bearer token (needs access.tokens_file); overrides access.listen_tcp.", valueName: "host:port"),
            transform: { text in try ListenAddressArgument.parse(text) })
    var listenTCP: ListenAddress?

    @Option(name: .customLong("socket-group"), help: ArgumentHelp("Give the socket to this group (mode 0660: its members may connect); overrides access.socket_group.", valueName: "group"))
    var socketGroup: String?

    @Flag(name: .customLong("no-host-events"), help: "Do not follow the host's events (uevents, rtnetlink); for comparison benchmarks. Drift and vanished VFs are then seen only at start-up and by `lease check`.")
    var noHostEvents = false

    @Option(name: .customLong("full-pass-interval"), help: ArgumentHelp("Seconds between the host watcher's full passes over the whole host (the safety net behind events).", valueName: "seconds"))
    var fullPassInterval: Int = 300

    @Option(name: .customLong("consumer-grace"), help: ArgumentHelp("Seconds a lease's consumer (libvirt domain, pid, cgroup, unit) must be seen gone, without a break, before sriovd takes the lease back.", valueName: "seconds"))
    var consumerGrace: Int = 30

    @Option(name: .customLong("libvirt-state-dir"), help: ArgumentHelp("libvirt's QEMU run-state directory, where libvirt:<uuid> consumers are looked for.", valueName: "dir"))
    var libvirtStateDir: String = DaemonOptions.defaultLibvirtStateDirectory

    @Option(name: .customLong("log-level"), help: ArgumentHelp("trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel: String = "info"

    func validate() throws {
        for (flag, value) in [("--state-dir", stateDir), ("--socket", socket), ("--config", config ?? "-"), ("--socket-group", socketGroup ?? "-")] where value.isEmpty {
            throw ValidationError("\(flag) is empty; give a path")
        }
        guard (1...86_400).contains(fullPassInterval) else {
            throw ValidationError("invalid --full-pass-interval \(fullPassInterval): use 1 to 86400 seconds")
        }
        guard (0...86_400).contains(consumerGrace) else {
            throw ValidationError("invalid --consumer-grace \(consumerGrace): use 0 to 86400 seconds")
        }
        guard libvirtStateDir.hasPrefix("/") else {
            throw ValidationError("invalid --libvirt-state-dir \(Quote.shell(libvirtStateDir)): give an absolute path (libvirt's is /run/libvirt/qemu)")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("invalid --log-level \(Quote.shell(logLevel)): use trace, debug, info, notice, warning, error or critical")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "sriovd")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        // The one place Prometheus is bootstrapped: swift-metrics users anywhere in the process report to
        // the registry `GET /metrics` renders.
        let metrics = ServiceMetrics(registry: PrometheusCollectorRegistry())
        MetricsSystem.bootstrap(metrics.factory)
        var options = DaemonOptions(simulated: simulated, stateDirectory: stateDir, configPath: config, socketPath: socket)
        options.listenTCP = listenTCP
        options.socketGroup = socketGroup
        options.hostEvents = !noHostEvents
        options.hostWatcher.fullPassInterval = .seconds(fullPassInterval)
        options.consumerGrace = Double(consumerGrace)
        options.libvirtStateDirectory = libvirtStateDir
        let daemon = SRIOVDaemon(
            options: options,
            logger: logger, metrics: metrics)
        let group = ServiceGroup(configuration: .init(services: [daemon], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch let error as SRIOVError {
            FileHandleOutput.error("sriovd: error: \(error.message)")
            throw ExitCode(error.code.exitStatus)
        } catch let error as ServiceGroupError {
            FileHandleOutput.error("sriovd: error: \(error)")
            throw ExitCode(1)
        }
    }
}

/// `--listen-tcp`'s value, with the parser's own message on a bad one.
enum ListenAddressArgument {
    static func parse(_ text: String) throws -> ListenAddress {
        do { return try ListenAddress.parse(text) } catch { throw ValidationError(error.message) }
    }
}

enum FileHandleOutput {
    static func error(_ text: String) {
        let line = text + "\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }
}

// `await Sriovd.main()` resolves to ParsableCommand's synchronous main in top-level code; run it explicitly.
do {
    let command = try Sriovd.parseAsRoot()
    guard let daemon = command as? Sriovd else {
        if let apply = command as? SriovdApply {
            try await apply.run()
        } else {
            var other = command
            try other.run()
        }
        exit(0)
    }
    try await daemon.run()
} catch {
    Sriovd.exit(withError: error)
}
