import ArgumentParser
import SRIOVCore
import SRIOVNetlink
import SRIOVRuntime
import SRIOVSimulator
import SRIOVSysfs

/// Options every subcommand takes: which host to work on and where sriovd keeps its state.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("sysfs-root"), help: ArgumentHelp("Where sysfs is mounted.", valueName: "dir"))
    var sysfsRoot: String = DefaultPaths.sysfs

    @Option(name: .customLong("procfs-root"), help: ArgumentHelp("Where procfs is mounted.", valueName: "dir"))
    var procfsRoot: String = DefaultPaths.procfs

    @Option(name: .customLong("state-dir"), help: ArgumentHelp("sriovd's state directory (the simulated host lives in <dir>/simulated-host).", valueName: "dir"))
    var stateDir: String = DefaultPaths.stateDirectory

    @Flag(name: .customLong("simulated"), help: "Work on the simulated host instead of the real one (created on first use).")
    var simulated: Bool = false

    /// The same choice as plain values, for code that runs without ArgumentParser (the fast path).
    var choice: HostChoice {
        HostChoice(sysfsRoot: sysfsRoot, procfsRoot: procfsRoot, stateDir: stateDir, simulated: simulated)
    }

    func validate() throws { try choice.validate() }

    /// The options given that choose this process's host and state (`--simulated`, `--state-dir`,
    /// `--sysfs-root`, `--procfs-root`): meaningless when sriovd is asked instead.
    var hostOptionsGiven: [String] { choice.hostOptionsGiven }

    /// The host to work on: the real one or the simulated one.
    func host() throws(SRIOVError) -> HostContext { try choice.host() }
}

/// Which host and state directory a command works on, as plain values: what `GlobalOptions` parses,
/// and what the fast path (`FastPath`) fills in without ArgumentParser.
struct HostChoice: Equatable, Sendable {
    var sysfsRoot = DefaultPaths.sysfs
    var procfsRoot = DefaultPaths.procfs
    var stateDir = DefaultPaths.stateDirectory
    var simulated = false

    func validate() throws {
        if simulated && (sysfsRoot != DefaultPaths.sysfs || procfsRoot != DefaultPaths.procfs) {
            throw ValidationError("--simulated uses the simulated host's own sysfs and procfs; drop --sysfs-root/--procfs-root, or drop --simulated")
        }
        for (flag, value) in [("--sysfs-root", sysfsRoot), ("--procfs-root", procfsRoot), ("--state-dir", stateDir)] where value.isEmpty {
            throw ValidationError("\(flag) is empty; give a directory")
        }
    }

    var hostOptionsGiven: [String] {
        var given: [String] = []
        if simulated { given.append("--simulated") }
        if stateDir != DefaultPaths.stateDirectory { given.append("--state-dir") }
        if sysfsRoot != DefaultPaths.sysfs { given.append("--sysfs-root") }
        if procfsRoot != DefaultPaths.procfs { given.append("--procfs-root") }
        return given
    }

    /// The host to work on: the real one or the simulated one.
    func host() throws(SRIOVError) -> HostContext {
        let host = try HostSelection.open(simulated: simulated, stateDirectory: stateDir, sysfsRoot: sysfsRoot, procfsRoot: procfsRoot)
        // The engine needs no paths; the CLI keeps them to say which host it read.
        let paths = simulated ? HostPaths(root: SimulatedHost.directory(inStateDirectory: stateDir))
            : HostPaths(sysfs: sysfsRoot, procfs: procfsRoot, modules: "/lib/modules")
        let description = simulated ? "simulated host at \(SimulatedHost.directory(inStateDirectory: stateDir))" : "host at \(paths.sysfs)"
        return HostContext(source: host.source, control: host.control, link: host.link, paths: paths, description: description,
                           consumers: host.consumers)
    }
}

/// The seams a command works through, chosen once from the global options.
struct HostContext {
    let source: any HostInventorySource
    let control: any PCIDeviceControl
    let link: any VFLinkControl
    let paths: HostPaths
    let description: String
    /// Lease consumers on this host (`--direct` leases with `--consumer`).
    var consumers: any ConsumerProbe = UnprobedConsumers()

    /// The PF named on the command line (a netdev or a PCI address).
    func resolve(_ pf: String) throws(SRIOVError) -> PFTarget {
        try source.resolvePF(pf)
    }

    /// The PF and every VF, sysfs and netlink merged (netlink only where the PF has a netdev).
    func status(of pf: String) async throws(SRIOVError) -> (PFTarget, PFStatus) {
        let target = try resolve(pf)
        let readout: VFReadout? = if let iface = target.interface { try await link.readVFs(pf: iface) } else { nil }
        return (target, PFStatus(target: target, readout: readout))
    }
}
