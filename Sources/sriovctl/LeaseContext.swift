import ArgumentParser
import Logging
import SRIOVConfig
import SRIOVCore
import SRIOVJournal
import SRIOVLeasing
import SRIOVRuntime
import SRIOVSysfs

/// Options of the commands that open sriovd's state (the journal) in-process.
struct LeaseOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: ArgumentHelp("sriovd's configuration (pools). Default: /etc/sriovd/sriovd.yaml if it exists; with --simulated, the built-in sample for the simulated host.", valueName: "file"))
    var config: String?
}

enum LeaseContext {
    /// The configuration: --config, else /etc/sriovd/sriovd.yaml, else (simulated) the built-in sample,
    /// else an empty configuration (no pools).
    static func config(path: String?, simulated: Bool) throws(SRIOVError) -> SRIOVConfig {
        try ConfigLoading.load(path: path, simulated: simulated)
    }

    /// Opens the lease engine on this host's state directory: replay, reconcile, reap expired leases.
    static func engine(_ global: GlobalOptions, _ options: LeaseOptions) async throws(SRIOVError) -> (LeaseEngine, HostContext) {
        try await engine(global.choice, configPath: options.config)
    }

    /// `discovery`: `.pooled` for the lease commands, which read only the pools' PFs at start-up
    /// (`LeaseEngine.Discovery`).
    static func engine(_ global: HostChoice, configPath: String?,
                       discovery: LeaseEngine.Discovery = .wholeHost) async throws(SRIOVError) -> (LeaseEngine, HostContext) {
        // In-process commands work on sriovd's state; they never create it: a mistyped --state-dir would
        // otherwise get a new, empty state directory and report success against it (sriovd creates its
        // own on first start). Checked before the host: --simulated would create the directory for its
        // simulated host.
        try JournalMaintenance.requireStateDirectory(global.stateDir, simulated: global.simulated)
        let host = try global.host()
        let config = try config(path: configPath, simulated: global.simulated)
        var logger = Logger(label: "sriovctl")
        logger.logLevel = .warning
        let engine = try await LeaseEngine.start(
            stateDirectory: global.stateDir, config: config,
            host: LeaseEngine.Host(source: host.source, control: host.control, link: host.link, consumers: host.consumers,
                                   nodes: VFIONodes(paths: host.paths)),
            logger: logger, discovery: discovery)
        return (engine, host)
    }

    /// Who is asking, for the audit trail.
    static var caller: String {
        "cli uid \(CurrentUser.uid)"
    }
}

#if canImport(Glibc)
import Glibc
#endif

enum CurrentUser {
    static var uid: UInt32 { getuid() }
}
