#if canImport(Glibc)
import Glibc
#endif
import SRIOVConfig
import SRIOVCore
import SRIOVLeasing
import SRIOVRuntime
import SRIOVNetlink
import SRIOVSimulator
import SRIOVSysfs

/// What `sriovd` was asked to serve: which host, where its state lives, which configuration, which socket.
public struct DaemonOptions: Sendable, Equatable {
    public static let defaultStateDirectory = DefaultPaths.stateDirectory
    public static let defaultSocketPath = DefaultPaths.socket
    public static let defaultLibvirtStateDirectory = FileConsumerProbe.defaultLibvirtStateDirectory

    public var simulated: Bool
    public var stateDirectory: String
    /// nil: /etc/sriovd/sriovd.yaml if it exists, else (simulated) the built-in sample, else no pools.
    public var configPath: String?
    public var socketPath: String
    public var sysfsRoot: String
    public var procfsRoot: String
    /// Also serve the API on TCP (bearer tokens); overrides the configuration's `access.listen_tcp`.
    public var listenTCP: ListenAddress? = nil
    /// The Unix socket's group (a name or gid); overrides `access.socket_group`.
    public var socketGroup: String? = nil
    /// Connections kept open at once, and how long a peer that stopped reading is waited for.
    public var connectionLimits = ConnectionLimits()
    /// Follow the host's events (`HostWatcher`): kernel uevents and rtnetlink, or the simulated host's
    /// event log. Off (`--no-host-events`) for comparison benchmarks: then only lease steps and the
    /// 5-minute refresh update the engine's view, as before.
    public var hostEvents = true
    public var hostWatcher = HostWatchSettings()
    /// Seconds a lease's consumer must be seen gone, continuously, before the reaper takes the lease back.
    public var consumerGrace: Double = 30
    /// libvirt's QEMU run-state directory, where `libvirt:<uuid>` consumers are looked for (real host only;
    /// the simulated host has its own under its tree).
    public var libvirtStateDirectory: String = FileConsumerProbe.defaultLibvirtStateDirectory

    public init(simulated: Bool = false, stateDirectory: String = DaemonOptions.defaultStateDirectory, configPath: String? = nil,
                socketPath: String = DaemonOptions.defaultSocketPath, sysfsRoot: String = DefaultPaths.sysfs, procfsRoot: String = DefaultPaths.procfs) {
        self.simulated = simulated
        self.stateDirectory = stateDirectory
        self.configPath = configPath
        self.socketPath = socketPath
        self.sysfsRoot = sysfsRoot
        self.procfsRoot = procfsRoot
    }
}

extension HostSelection {
    /// The daemon's host, from its options.
    public static func open(_ options: DaemonOptions) throws(SRIOVError) -> LeaseEngine.Host {
        var host = try open(simulated: options.simulated, stateDirectory: options.stateDirectory, sysfsRoot: options.sysfsRoot,
                            procfsRoot: options.procfsRoot)
        if !options.simulated {
            host.consumers = FileConsumerProbe(procfs: options.procfsRoot, libvirtStateDirectory: options.libvirtStateDirectory)
        }
        return host
    }
}
