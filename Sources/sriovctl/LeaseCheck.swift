import ArgumentParser
import SRIOVCore
import SRIOVLeasing

/// `sriovctl lease check`: sriovd's promises, checked against the host as it is now.
struct LeaseCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check every pool VF against the host: free and scrubbed, held by exactly one lease, or quarantined with a reason.",
        discussion: "Exit 0 when every promise holds, 1 otherwise (each broken promise on its own line). Always in-process on the state directory (not through sriovd): stop sriovd first, it holds the state directory's lock."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var leaseOptions: LeaseOptions

    func run() async throws {
        var problems: [String] = []
        try await ErrorReporting.run {
            let (engine, host) = try await LeaseContext.engine(global, leaseOptions)
            let book = await engine.currentBook
            let plan = await engine.plan
            await engine.close()
            let inventory = try host.source.inventory()
            var readouts: [InterfaceName: VFReadout] = [:]
            for pf in inventory.pfs {
                guard let iface = pf.interfaces.first, !pf.vfs.isEmpty else { continue }
                readouts[iface] = try await host.link.readVFs(pf: iface)
            }
            problems = Invariants.check(book: book, plan: plan, inventory: inventory, readouts: readouts)
            let held = book.heldVFs.count
            Output.line("\(book.leases.count) leases holding \(held) VFs, \(book.quarantine.count) quarantined; \(problems.isEmpty ? "every promise holds" : "\(problems.count) broken")")
            for p in problems { Output.line("broken: \(p)") }
        }
        if !problems.isEmpty { throw ExitCode(1) }
    }
}
