import ArgumentParser
import SRIOVCore
import SRIOVLeasing

struct PoolList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List pools with free, leased and quarantined VF counts.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var leaseOptions: LeaseOptions
    @OptionGroup var connect: ConnectOptions

    @Flag(name: .customLong("json"), help: "Print as JSON.")
    var json = false

    func validate() throws { try connect.check(global, leaseOptions) }

    func run() async throws {
        try await ErrorReporting.run {
            let pools: [LeaseEngine.PoolStatus]
            let quarantine: [String: Quarantine]
            if connect.direct {
                let (engine, _) = try await LeaseContext.engine(global, leaseOptions)
                pools = try await engine.pools()
                quarantine = await engine.currentBook.quarantine
                await engine.close()
            } else {
                let reply = try connect.client.pools()
                pools = reply.pools
                quarantine = reply.quarantine
            }
            if json {
                try JSONOutput.print(PoolsJSON(pools: pools, quarantine: quarantine))
                return
            }
            guard !pools.isEmpty else {
                Output.line("No pools configured (see Config/sriovd.yaml and --config).")
                return
            }
            var table = Table(["POOL", "TOTAL", "FREE", "LEASED", "QUARANTINED", "PFS"])
            for p in pools { table.add([p.name, "\(p.total)", "\(p.free)", "\(p.leased)", "\(p.quarantined)", p.pfs.joined(separator: ",")]) }
            Output.line(table.render())
            for (vf, q) in quarantine.sorted(by: { $0.key < $1.key }) { Output.line("quarantined \(vf): \(q.reason)") }
        }
    }
}

struct PoolsJSON: Encodable {
    var pools: [LeaseEngine.PoolStatus]
    var quarantine: [String: Quarantine]
}

struct VFUnquarantine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unquarantine",
        abstract: "Scrub a quarantined VF and, if the scrub verifies, return it to its pool.",
        discussion: "Always in-process on the state directory (not through sriovd): stop sriovd first, it holds the state directory's lock."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var leaseOptions: LeaseOptions

    @Argument(help: ArgumentHelp("The VF's PCI address.", valueName: "pci"), transform: Parse.pciAddress)
    var vf: PCIAddress

    func run() async throws {
        try await ErrorReporting.run {
            let (engine, _) = try await LeaseContext.engine(global, leaseOptions)
            try await engine.unquarantine(vf, requestedBy: LeaseContext.caller)
            await engine.close()
            Output.line("\(vf): scrubbed and back in its pool")
        }
    }
}
