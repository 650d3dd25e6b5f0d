import ArgumentParser
import SRIOVCore
import SRIOVLeasing

/// `sriovctl vf unquarantine <pci>`: through the front door (sriovd, or --direct).
struct VFUnquarantine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unquarantine",
        abstract: "Scrub a quarantined VF and, if the scrub verifies, return it to its pool.",
        discussion: "A whole device (a `devices:` pool's PF or NIC) gets its host driver back instead of a scrub. Asks sriovd over its socket (admin callers only); --direct opens the state directory in this process (only while no sriovd holds its lock)."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var leaseOptions: LeaseOptions
    @OptionGroup var connect: ConnectOptions

    @Argument(help: ArgumentHelp("The VF's (or whole device's) PCI address.", valueName: "pci"), transform: Parse.pciAddress)
    var vf: PCIAddress

    func validate() throws { try connect.check(global, leaseOptions) }

    func run() async throws {
        try await ErrorReporting.run {
            let done = try await connect.using(global, leaseOptions) { door in try await door.unquarantine(vf) }
            Output.line("\(vf): scrubbed and back in " + (done.pool.map { "pool \($0)" } ?? "no pool (it is in none now)"))
        }
    }
}
