#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Logging
import ServiceLifecycle
import SRIOVCore
import SRIOVService

/// `sriovd`: serves the lease engine over HTTP on a Unix socket until SIGTERM/SIGINT.
struct Sriovd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sriovd",
        abstract: "The SR-IOV VF lease daemon: serves the lease API (Docs/openapi.yaml) on a Unix socket.",
        discussion: "Replays the journal and reconciles with the host before it listens; stops gracefully on SIGTERM or SIGINT. With NOTIFY_SOCKET set (systemd Type=notify) it sends READY=1 and STOPPING=1."
    )

    @Flag(name: .customLong("simulated"), help: "Serve the simulated host (created under the state directory on first use).")
    var simulated = false

    @Option(name: .customLong("state-dir"), help: ArgumentHelp("sriovd's state directory (journal, lock).", valueName: "dir"))
    var stateDir: String = DaemonOptions.defaultStateDirectory

    @Option(name: .customLong("config"), help: ArgumentHelp("sriovd's configuration (pools). Default: /etc/sriovd/sriovd.yaml if it exists; with --simulated, the built-in sample for the simulated host.", valueName: "file"))
    var config: String?

    @Option(name: .customLong("socket"), help: ArgumentHelp("The Unix socket to serve on (mode 0660).", valueName: "path"))
    var socket: String = DaemonOptions.defaultSocketPath

    @Option(name: .customLong("log-level"), help: ArgumentHelp("trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel: String = "info"

    func validate() throws {
        for (flag, value) in [("--state-dir", stateDir), ("--socket", socket), ("--config", config ?? "-")] where value.isEmpty {
            throw ValidationError("\(flag) is empty; give a path")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("invalid --log-level \(Quote.shell(logLevel)): use trace, debug, info, notice, warning, error or critical")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "sriovd")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let daemon = SRIOVDaemon(
            options: DaemonOptions(simulated: simulated, stateDirectory: stateDir, configPath: config, socketPath: socket),
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [daemon], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch let error as SRIOVError {
            FileHandleOutput.error("sriovd: error: \(error.message)")
            throw ExitCode(DaemonExit.code(for: error.code))
        } catch let error as ServiceGroupError {
            FileHandleOutput.error("sriovd: error: \(error)")
            throw ExitCode(1)
        }
    }
}

/// sriovd's exit codes (sysexits.h), like sriovctl's.
enum DaemonExit {
    static func code(for code: SRIOVError.Code) -> Int32 {
        switch code {
        case .invalidArgument: return 64
        case .corrupt: return 65
        case .notFound: return 66
        case .unsupported: return 69
        case .io: return 74
        case .busy, .timeout: return 75
        case .permissionDenied, .protected: return 77
        case .kernelRefused, .verificationFailed: return 1
        }
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
        var other = command
        try other.run()
        exit(0)
    }
    try await daemon.run()
} catch {
    Sriovd.exit(withError: error)
}
