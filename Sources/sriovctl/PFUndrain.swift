import ArgumentParser
import SRIOVCore
import SRIOVLeasing

/// `sriovctl pf undrain <pf>`: a drained PF back in service.
struct PFUndrain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "undrain",
        abstract: "Return a drained PF to service: new leases may use its VFs again.",
        discussion: "Ends `pf drain` (journaled, audited); a PF that is not draining is left as it is. Asks sriovd over its socket (admin callers only); --direct runs the lease engine in this process."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var configOptions: LeaseOptions
    @OptionGroup var connect: ConnectOptions

    @Argument(help: ArgumentHelp("The PF: a netdev name or a PCI address.", valueName: "pf"))
    var pf: String

    func validate() throws { try connect.check(global, configOptions) }

    func run() async throws {
        try await ErrorReporting.run {
            let pf = self.pf
            let status = try await connect.using(global, configOptions) { door in try await door.undrainPF(pf) }
            Output.line("\(status.label): in service")
        }
    }
}
