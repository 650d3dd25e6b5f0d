import ArgumentParser
import SRIOVCore
import SRIOVLeasing

/// `sriovctl pf drain <pf> [--deadline 10m] [--evict]`: PF maintenance through the lease engine (sriovd,
/// or --direct): no new leases on the PF, wait for the ones on it to be released.
struct PFDrain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain",
        abstract: "Take a PF out of service: no new leases on it, then wait until the leases on it are released.",
        discussion: "Marks the PF draining (journaled: it stays draining across restarts until `pf undrain`), emits pf.draining naming every lease on it so owners can move their VMs, and waits until they are released. At the deadline it refuses (exit 75), naming the leases still there; with --evict it releases them instead (audited). Once drained, PF-level changes such as `pf set-numvfs` need no --force. Asks sriovd over its socket (admin callers only); --direct runs the lease engine in this process."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var configOptions: LeaseOptions
    @OptionGroup var connect: ConnectOptions

    @Argument(help: ArgumentHelp("The PF: a netdev name or a PCI address.", valueName: "pf"))
    var pf: String

    @Option(name: .customLong("deadline"), help: ArgumentHelp("How long to wait for the leases on the PF: seconds, or with a unit (90s, 10m, 1h; at most 24h; default 10m).", valueName: "duration"),
            transform: PFDrain.parseDeadline)
    var deadline: Int?

    @Flag(name: .customLong("evict"), help: "At the deadline, release the leases still on the PF instead of refusing.")
    var evict = false

    func validate() throws { try connect.check(global, configOptions) }

    func run() async throws {
        try await ErrorReporting.run {
            let body = PFDrainBody(deadlineSeconds: deadline, evict: evict ? true : nil)
            let pf = self.pf
            let status = try await connect.using(global, configOptions) { door in try await door.drainPF(pf, body) }
            if !status.evicted.isEmpty { Output.line("evicted: \(status.evicted.joined(separator: ", "))") }
            Output.line("\(status.label): drained (no leases on it; `sriovctl pf undrain \(pf)` returns it to service)")
        }
    }

    /// "600", "90s", "10m", "1h" as seconds, 0 to 86400.
    static func parseDeadline(_ text: String) throws -> Int {
        let s = text.trimmingSpaces
        let units: [(Character, Int)] = [("s", 1), ("m", 60), ("h", 3600)]
        var number = Substring(s)
        var scale = 1
        if let last = s.last, let unit = units.first(where: { $0.0 == last }) {
            number = s.dropLast()
            scale = unit.1
        }
        guard let n = Int(number), n >= 0, n <= 86_400 / scale else {
            throw ValidationError("invalid deadline \(Quote.shell(text)): use seconds or a number with s, m or h (90s, 10m, 1h), at most 24h")
        }
        return n * scale
    }
}
