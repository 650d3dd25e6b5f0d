import ArgumentParser
import SRIOVCore
import SRIOVLeasing

struct LeaseList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List live leases.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var leaseOptions: LeaseOptions
    @OptionGroup var connect: ConnectOptions

    @Option(name: .customLong("owner"), help: ArgumentHelp("Only this owner's leases.", valueName: "name"))
    var owner: String?

    @Flag(name: .customLong("json"), help: "Print as JSON.")
    var json = false

    func validate() throws { try connect.check(global, leaseOptions) }

    func run() async throws {
        try await ErrorReporting.run {
            let leases = try await connect.using(global, leaseOptions) { door in try await door.leases(owner: owner) }
            if json { try JSONOutput.print(leases.map { LeaseDocument($0) }) } else { Output.line(LeaseText.list(leases)) }
        }
    }
}
