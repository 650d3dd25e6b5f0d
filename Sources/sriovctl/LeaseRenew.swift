import ArgumentParser
import SRIOVCore
import SRIOVLeasing

struct LeaseRenew: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "renew",
        abstract: "Push a lease's expiry forward by its TTL (or --ttl)."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var leaseOptions: LeaseOptions
    @OptionGroup var connect: ConnectOptions

    @OptionGroup var lease: LeaseIDArgument
    var id: LeaseID { lease.id }

    @Option(name: .customLong("ttl"), help: ArgumentHelp("New TTL from now (default: the lease's own).", valueName: "duration"), transform: TTLText.seconds)
    var ttl: Int?

    func validate() throws { try connect.check(global, leaseOptions) }

    func run() async throws {
        try await ErrorReporting.run {
            let lease = try await connect.using(global, leaseOptions) { door in try await door.renew(id, ttlSeconds: ttl) }
            Output.line("renewed \(lease.id): expires \(LeaseText.time(lease.expiresAt))")
        }
    }
}
