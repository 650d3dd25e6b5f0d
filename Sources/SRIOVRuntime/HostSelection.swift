#if canImport(Glibc)
import Glibc
#endif
import SRIOVConfig
import SRIOVCore
import SRIOVLeasing
import SRIOVNetlink
import SRIOVSimulator
import SRIOVSysfs

/// Where the configuration comes from, for `sriovd` and `sriovctl` alike.
public enum ConfigLoading {
    /// --config, else /etc/sriovd/sriovd.yaml, else (simulated) the built-in sample, else an empty configuration.
    public static func load(path: String?, simulated: Bool, defaultPath: String = SRIOVConfig.defaultPath) throws(SRIOVError) -> SRIOVConfig {
        if let path { return try SRIOVConfig.load(path: path) }
        if FileSystem.exists(defaultPath) { return try SRIOVConfig.load(path: defaultPath) }
        if simulated {
            return try SRIOVConfig.parse(yaml: EmbeddedConfig.simulatedHost, source: "<built-in sample for the simulated host>")
        }
        // No file: the empty configuration, without starting a YAML parser (every sriovctl command
        // that writes to a PF asks for the configuration's protected PFs).
        return SRIOVConfig(source: "<no configuration: \(defaultPath) does not exist; pass --config>")
    }
}

/// The host to work on: the simulated one (under the state directory) or the real sysfs + netlink.
public enum HostSelection {
    public static func open(simulated: Bool, stateDirectory: String, sysfsRoot: String = DefaultPaths.sysfs,
                            procfsRoot: String = DefaultPaths.procfs) throws(SRIOVError) -> LeaseEngine.Host {
        let host = try openUnwrapped(simulated: simulated, stateDirectory: stateDirectory, sysfsRoot: sysfsRoot, procfsRoot: procfsRoot)
        // Test runs that crash at a chosen host step (`Failpoints`): count every write.
        guard Failpoints.enabled else { return host }
        return LeaseEngine.Host(source: host.source, control: FailpointPCIControl(host.control), link: FailpointVFLink(host.link),
                                consumers: host.consumers, nodes: host.nodes)
    }

    /// The host's events for the host watcher: the kernel's netlink sockets, or the simulated host's
    /// event log (`SimulatedEventSource`). Opened when the watcher runs, so a refusal (not root) is the
    /// watcher's to report.
    public static func events(simulated: Bool, stateDirectory: String) -> any HostEventSource {
        if simulated {
            return SimulatedEventSource(directory: SimulatedHost.directory(inStateDirectory: stateDirectory))
        }
        return KernelEventSource()
    }

    static func openUnwrapped(simulated: Bool, stateDirectory: String, sysfsRoot: String,
                              procfsRoot: String) throws(SRIOVError) -> LeaseEngine.Host {
        if simulated {
            try Directories.ensure(stateDirectory, mode: 0o750, what: "state directory")
            let sim = try SimulatedHost.openOrCreate(directory: SimulatedHost.directory(inStateDirectory: stateDirectory))
            // Consumers under the simulated host's own tree: proc/, sys/fs/cgroup/, run/libvirt/qemu/.
            return LeaseEngine.Host(source: sim, control: sim, link: sim, consumers: FileConsumerProbe(root: sim.directory),
                                    nodes: VFIONodes(paths: sim.paths))
        }
        let paths = HostPaths(sysfs: sysfsRoot, procfs: procfsRoot, modules: "/lib/modules")
        guard FileSystem.isDirectory(paths.sysfs) else {
            throw SRIOVError(.notFound, "sysfs root \(Quote.shell(sysfsRoot)) does not exist or is not a directory; pass --sysfs-root with a mounted sysfs (usually /sys), or use --simulated")
        }
        return LeaseEngine.Host(source: SysfsDiscovery(paths: paths), control: SysfsPCIControl(paths: paths),
                                link: NetlinkVFLink(), consumers: FileConsumerProbe(procfs: paths.procfs), nodes: VFIONodes(paths: paths))
    }
}

public enum Directories {
    /// Creates `path` (and parents) with `mode` if it is missing.
    public static func ensure(_ path: String, mode: mode_t, what: String) throws(SRIOVError) {
        if FileSystem.isDirectory(path) { return }
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, mode) != 0 && errno != EEXIST {
                let e = errno
                // EROFS is an I/O error (74), not a missing right (77): running as root would not help.
                let hint = e == EROFS ? "the file system is read-only; remount it read-write or pass a path on a writable one"
                    : "run as root or pass a writable path"
                throw SRIOVError(e == EACCES || e == EPERM ? .permissionDenied : .io,
                                 "cannot create the \(what) \(Quote.shell(path)) (\(Errno.name(e)) at \(current)); \(hint)",
                                 cause: .errno(e))
            }
        }
        guard FileSystem.isDirectory(path) else {
            throw SRIOVError(.io, "\(what) \(Quote.shell(path)) is not a directory")
        }
    }
}
