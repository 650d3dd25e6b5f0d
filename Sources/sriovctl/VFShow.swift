import ArgumentParser
import SRIOVCore

/// `sriovctl vf show <pf> <vf>`: one VF's PCI side and netlink settings.
struct VFShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one VF's settings as the PF reports them."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The PF: a netdev name or a PCI address.", valueName: "pf"))
    var pf: String

    @Argument(help: ArgumentHelp("The VF index (0, 1, ...).", valueName: "vf"), transform: Parse.vfIndex)
    var vf: VFIndex

    @Flag(name: .customLong("json"), help: "Print as JSON.")
    var json = false

    func run() async throws {
        try await ErrorReporting.run {
            let (target, status) = try await global.host().status(of: pf)
            try vf.check(numVFs: status.pf.numVFs, pf: target.label)
            let info = status.vfs[vf.value]
            if json { try JSONOutput.print(info) } else { Output.line(VFRows.table([info])) }
        }
    }
}
