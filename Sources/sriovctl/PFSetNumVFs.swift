import ArgumentParser
import SRIOVCore

/// `sriovctl pf set-numvfs <pf> <n>`: through 0, autoprobe first, wait for the VFs.
struct PFSetNumVFs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-numvfs",
        abstract: "Set a PF's VF count (through 0 when changing between non-zero counts) and wait for the VFs.",
        discussion: "Pooled VFs should be born unbound: use --autoprobe off. Refuses the management NIC and PFs whose VFs are bound to vfio-pci unless --force."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var configOptions: LeaseOptions

    @Argument(help: ArgumentHelp("The PF: a netdev name or a PCI address.", valueName: "pf"))
    var pf: String

    @Argument(help: ArgumentHelp("The number of VFs (0 removes them all).", valueName: "n"), transform: Parse.count)
    var count: Int

    @Option(name: .customLong("autoprobe"), help: ArgumentHelp("Set sriov_drivers_autoprobe first: on binds new VFs to their driver, off leaves them unbound.", valueName: "on|off"),
            transform: Parse.onOff("--autoprobe"))
    var autoprobe: Bool?

    @Option(name: .customLong("timeout"), help: ArgumentHelp("Seconds to wait for the VFs to appear (default 120).", valueName: "seconds"), transform: Parse.seconds)
    var timeout: Duration = .seconds(120)

    @Flag(name: .customLong("force"), help: "Change the management NIC, or remove VFs bound to vfio-pci.")
    var force = false

    func run() async throws {
        try await ErrorReporting.run {
            let host = try global.host()
            var target = try host.resolve(pf)
            try LeaseContext.applyProtection(&target, configOptions, simulated: global.simulated)
            let change = NumVFsChange(source: host.source, control: host.control)
            let outcome = try await change.run(target, to: count, autoprobe: autoprobe, force: force, timeout: timeout) { line in
                Output.error(line)
            }
            Output.line("\(target.label): \(outcome.after) VFs (was \(outcome.before))")
        }
    }
}
