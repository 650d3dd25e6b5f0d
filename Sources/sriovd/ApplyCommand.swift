#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Logging
import SRIOVCore
import SRIOVService

/// `sriovd apply`: the boot-time half of sriovd (sriovd-apply.service), before sriovd and the VMs start.
struct SriovdApply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Make the host what the configuration and the journal say: each pfs: entry's VF count and autoprobe, then every leased VF back on vfio-pci with its lease's settings.",
        discussion: "Run at boot before sriovd and the VMs (Config/sriovd-apply.service): after a reboot the VFs are gone, and with autoprobe off they come back unbound. Idempotent: a second run changes nothing. Opens the state directory itself, so it refuses while sriovd runs. Exit 0 when the host matches, 1 when something could not be applied (each problem on stderr). Takes sriovd's --simulated, --state-dir and --config (e.g. `sriovd apply --simulated --state-dir /var/lib/sriovd`)."
    )

    /// sriovd's own --simulated, --state-dir and --config (one spelling, before or after `apply`).
    @ParentCommand var daemon: Sriovd

    @Flag(name: .customLong("dry-run"), help: "Say what would change; change nothing.")
    var dryRun = false

    func run() async throws {
        var logger = Logger(label: "sriovd.apply")
        logger.logLevel = .warning
        let options = DaemonOptions(simulated: daemon.simulated, stateDirectory: daemon.stateDir, configPath: daemon.config)
        let changed: [String], unchanged: [String], problems: [String]
        do {
            let report = try await HostApply.run(options, dryRun: dryRun, logger: logger) { line in FileHandleOutput.error(line) }
            (changed, unchanged, problems) = (report.changed, report.unchanged, report.problems)
        } catch {
            FileHandleOutput.error("sriovd: error: \(error.message)")
            throw ExitCode(error.code.exitStatus)
        }
        for line in changed { emit((dryRun ? "dry run: " : "changed: ") + line) }
        for line in unchanged { emit("ok: " + line) }
        for line in problems { FileHandleOutput.error("sriovd apply: problem: " + line) }
        emit("\(dryRun ? "dry run: " : "")\(changed.count) changed, \(unchanged.count) already as configured, \(problems.count) problem\(problems.count == 1 ? "" : "s")")
        if !problems.isEmpty { throw ExitCode(1) }
    }

    /// A line on stdout, unbuffered like the problems on stderr, so the two keep their order on a terminal.
    func emit(_ text: String) {
        let line = text + "\n"
        _ = line.withCString { write(1, $0, strlen($0)) }
    }
}
