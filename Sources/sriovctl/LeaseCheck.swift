import ArgumentParser
import SRIOVCore
import SRIOVLeasing

/// `sriovctl lease check`: sriovd's promises, checked against the host as it is now.
struct LeaseCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check every pool VF against the host: free and scrubbed, or held by exactly one lease with the settings it promised, or quarantined with a reason.",
        discussion: "A leased VF must exist, be on vfio-pci and show the lease's MAC, VLAN/QoS/protocol, spoofchk, trust, link state and rates; a lease marked lost is a broken promise. Exit 0 when every promise holds, 1 otherwise (each broken promise on its own line). Asks sriovd over its socket (admin callers only); --direct checks in this process (only while no sriovd holds the state directory's lock)."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var leaseOptions: LeaseOptions
    @OptionGroup var connect: ConnectOptions

    @Flag(name: .customLong("json"), help: "Print the report as JSON (as GET /v1/check answers).")
    var json = false

    func validate() throws { try connect.check(global, leaseOptions) }

    func run() async throws {
        var broken = false
        try await ErrorReporting.run {
            let report = try await connect.using(global, leaseOptions) { door in try await door.check() }
            broken = !report.broken.isEmpty
            if json {
                try JSONOutput.print(report)
            } else {
                Output.line(report.summary)
                for p in report.broken { Output.line("broken: \(p)") }
            }
        }
        if broken { throw ExitCode(1) }
    }
}
