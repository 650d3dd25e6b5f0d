import Logging
import SRIOVCore
import SRIOVLeasing
import SRIOVRuntime

/// `sriovd apply`: opens the state directory (its lock: sriovd must not be running), applies the
/// configuration's `pfs:` and restores leased VFs, without the start-up reconcile (which would take the
/// driverless VFs of a reboot for drift), then closes the journal.
public enum HostApply {
    public static func run(_ options: DaemonOptions, dryRun: Bool, timeout: Duration = .seconds(120),
                           logger: Logger = Logger(label: "sriovd.apply"),
                           progress: @escaping @Sendable (String) -> Void = { _ in }) async throws(SRIOVError) -> LeaseEngine.ApplyReport {
        let config = try ConfigLoading.load(path: options.configPath, simulated: options.simulated)
        let host = try HostSelection.open(options)
        let engine = try await LeaseEngine.start(stateDirectory: options.stateDirectory, config: config, host: host,
                                                 logger: logger, reconcile: false)
        let report = await engine.apply(dryRun: dryRun, timeout: timeout, progress: progress)
        await engine.close(snapshottingLongReplay: !dryRun)
        return report
    }
}
