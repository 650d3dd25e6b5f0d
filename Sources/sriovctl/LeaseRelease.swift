import ArgumentParser
import SRIOVCore
import SRIOVLeasing

struct LeaseRelease: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release",
        abstract: "Release a lease: unbind from vfio-pci, scrub every setting (verified), return the VFs to the pool.",
        discussion: "A VF that fails a step is quarantined with the reason; `sriovctl vf unquarantine` returns it after a successful scrub."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var leaseOptions: LeaseOptions
    @OptionGroup var connect: ConnectOptions

    @OptionGroup var lease: LeaseIDArgument
    var id: LeaseID { lease.id }

    /// The parsed command line as plain values: what `run` does, and what the fast path builds
    /// without ArgumentParser.
    var invocation: LeaseReleaseInvocation {
        LeaseReleaseInvocation(id: id, host: global.choice, configPath: leaseOptions.config, door: connect.door)
    }

    func validate() throws { try invocation.validate() }

    func run() async throws { try await invocation.run() }
}

/// One `lease release` command line, parsed: by ArgumentParser (`LeaseRelease`) or by the fast path
/// (`FastPath`), which must agree on every command line both accept (FastPathTests).
struct LeaseReleaseInvocation: Equatable, Sendable {
    var id: LeaseID
    var host = HostChoice()
    var configPath: String?
    var door = DoorChoice()

    func validate() throws { try door.check(host, configPath: configPath) }

    func run() async throws {
        try await ErrorReporting.run {
            let id = self.id
            let (lease, quarantined) = try await door.using(host, configPath: configPath, discovery: .pooled) { door in
                let released = try await door.release(id)
                // A sriovd older than the answer's `quarantined` says nothing of it: ask its pools.
                if let quarantined = released.quarantined { return (released.lease, quarantined) }
                return (released.lease, try await door.pools().quarantine.filter { $0.value.lease == id })
            }
            // A `devices:` pool's lease holds whole devices (PFs, NICs without SR-IOV), not VFs.
            let noun = lease.vfs.allSatisfy(\.isWholeDevice) && !lease.vfs.isEmpty ? "device" : "VF"
            Output.line("released \(lease.id) (\(lease.vfs.count) \(noun)\(lease.vfs.count == 1 ? "" : "s") returned to pool \(lease.pool))")
            for (vf, q) in quarantined.sorted(by: { $0.key < $1.key }) { Output.line("quarantined \(vf): \(q.reason)") }
        }
    }
}
