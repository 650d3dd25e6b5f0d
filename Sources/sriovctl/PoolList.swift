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
            let reply = try await connect.using(global, leaseOptions) { door in try await door.pools() }
            let (pools, quarantine) = (reply.pools, reply.quarantine)
            if json {
                try JSONOutput.print(reply)
                return
            }
            guard !pools.isEmpty else {
                Output.line("No pools configured (see Config/sriovd.yaml and --config).")
                return
            }
            var table = Table(["POOL", "TOTAL", "FREE", "LEASED", "QUARANTINED", "PFS"])
            for p in pools { table.add([p.name, "\(p.total)", "\(p.free)", "\(p.leased)", "\(p.quarantined)", p.pfs.joined(separator: ",")]) }
            Output.line(table.render())
            // Only when something is wrong, so the usual table stays as it was.
            for p in pools {
                let out = (p.pfLinks ?? []).filter { $0.draining || ($0.interface != nil && $0.carrier != true) }
                guard !out.isEmpty else { continue }
                let notice = p.requireLink == "any" ? "VFs still offered (require_link: any)" : "their VFs are out of new leases"
                Output.line("pool \(p.name): " + out.map { "\($0.interface ?? $0.pf) \($0.summary)" }.joined(separator: ", ") + ": \(notice)")
            }
            for (vf, q) in quarantine.sorted(by: { $0.key < $1.key }) { Output.line("quarantined \(vf): \(q.reason)") }
        }
    }
}
