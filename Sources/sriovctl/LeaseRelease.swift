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

    func validate() throws { try connect.check(global, leaseOptions) }

    func run() async throws {
        try await ErrorReporting.run {
            let (lease, quarantined) = try await connect.using(global, leaseOptions) { door in
                (try await door.release(id), try await door.pools().quarantine.filter { $0.value.lease == id })
            }
            // A `devices:` pool's lease holds whole devices (PFs, NICs without SR-IOV), not VFs.
            let noun = lease.vfs.allSatisfy(\.isWholeDevice) && !lease.vfs.isEmpty ? "device" : "VF"
            Output.line("released \(lease.id) (\(lease.vfs.count) \(noun)\(lease.vfs.count == 1 ? "" : "s") returned to pool \(lease.pool))")
            for (vf, q) in quarantined.sorted(by: { $0.key < $1.key }) { Output.line("quarantined \(vf): \(q.reason)") }
        }
    }
}
