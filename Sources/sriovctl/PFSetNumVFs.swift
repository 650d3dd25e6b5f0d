import ArgumentParser
import SRIOVCore
import SRIOVLeasing

/// `sriovctl pf set-numvfs <pf> <n>`: through the lease engine (sriovd, or --direct): through 0,
/// autoprobe first, wait for the VFs.
struct PFSetNumVFs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-numvfs",
        abstract: "Set a PF's VF count (through 0 when changing between non-zero counts) and wait for the VFs.",
        discussion: "Pooled VFs should be born unbound: use --autoprobe off. Refused (exit 75) while leases hold VFs of the PF, naming them: every VF is removed on the way; --force changes the count anyway and marks those leases lost (audited). Refuses the management NIC and PFs whose VFs are bound to vfio-pci unless --force. Asks sriovd over its socket (admin callers only); --direct runs the lease engine in this process."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var configOptions: LeaseOptions
    @OptionGroup var connect: ConnectOptions

    @Argument(help: ArgumentHelp("The PF: a netdev name or a PCI address.", valueName: "pf"))
    var pf: String

    @Argument(help: ArgumentHelp("The number of VFs (0 removes them all).", valueName: "n"), transform: Parse.count)
    var count: Int

    @Option(name: .customLong("autoprobe"), help: ArgumentHelp("Set sriov_drivers_autoprobe first: on binds new VFs to their driver, off leaves them unbound.", valueName: "on|off"),
            transform: Parse.onOff("--autoprobe"))
    var autoprobe: Bool?

    @Option(name: .customLong("timeout"), help: ArgumentHelp("Seconds to wait for the VFs to appear (default 120).", valueName: "seconds"), transform: Parse.seconds)
    var timeout: Int?

    @Flag(name: .customLong("force"), help: "Change the management NIC or a protected PF, remove VFs bound to vfio-pci, or remove leased VFs (their leases are marked lost).")
    var force = false

    func validate() throws { try connect.check(global, configOptions) }

    func run() async throws {
        try await ErrorReporting.run {
            let body = NumVFsBody(numvfs: count, autoprobe: autoprobe, force: force ? true : nil, timeoutSeconds: timeout)
            let pf = self.pf
            let result = try await connect.using(global, configOptions) { door in try await door.setNumVFs(pf: pf, body) }
            for warning in result.warnings { Output.error("warning: \(warning)") }
            Output.line("\(result.interface.map { "\(result.pf) (\($0))" } ?? result.pf): \(result.after) VFs (was \(result.before))")
        }
    }
}
