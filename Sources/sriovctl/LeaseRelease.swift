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
            let lease: Lease
            let quarantined: [String: Quarantine]
            if connect.direct {
                let (engine, _) = try await LeaseContext.engine(global, leaseOptions)
                lease = try await engine.release(id, requestedBy: LeaseContext.caller)
                quarantined = await engine.currentBook.quarantine.filter { $0.value.lease == id }
                await engine.close()
            } else {
                let client = connect.client
                lease = try client.release(id)
                quarantined = try client.pools().quarantine.filter { $0.value.lease == id }
            }
            Output.line("released \(lease.id) (\(lease.vfs.count) VF\(lease.vfs.count == 1 ? "" : "s") returned to pool \(lease.pool))")
            for (vf, q) in quarantined.sorted(by: { $0.key < $1.key }) { Output.line("quarantined \(vf): \(q.reason)") }
        }
    }
}

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
            let lease: Lease
            if connect.direct {
                let (engine, _) = try await LeaseContext.engine(global, leaseOptions)
                lease = try await engine.renew(id, ttlSeconds: ttl, requestedBy: LeaseContext.caller)
                await engine.close()
            } else {
                lease = try connect.client.renew(id, ttlSeconds: ttl)
            }
            Output.line("renewed \(lease.id): expires \(LeaseText.time(lease.expiresAt))")
        }
    }
}

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
            let leases: [Lease]
            if connect.direct {
                let (engine, _) = try await LeaseContext.engine(global, leaseOptions)
                leases = await engine.leases(owner: owner)
                await engine.close()
            } else {
                leases = try connect.client.leases(owner: owner)
            }
            if json { try JSONOutput.print(leases.map { LeaseJSON(lease: $0) }) } else { Output.line(LeaseText.list(leases)) }
        }
    }
}

struct LeaseShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a lease, or how to attach it (libvirt hostdev or interface XML, QEMU, Proxmox, cloud-hypervisor)."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var leaseOptions: LeaseOptions
    @OptionGroup var connect: ConnectOptions

    @OptionGroup var lease: LeaseIDArgument
    var id: LeaseID { lease.id }

    @Option(name: .customLong("format"), help: ArgumentHelp("text (default), json, libvirt, libvirt-interface, qemu, proxmox or cloud-hypervisor.", valueName: "format"))
    var format: String = "text"

    func validate() throws {
        try connect.check(global, leaseOptions)
        if format != "text" && format != "json" && AttachFormat(rawValue: format) == nil {
            throw ValidationError("invalid --format \(Quote.shell(format)): use text, json, \(AttachFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        try await ErrorReporting.run {
            let lease: Lease
            if connect.direct {
                let (engine, _) = try await LeaseContext.engine(global, leaseOptions)
                lease = try await engine.lease(id)
                await engine.close()
            } else {
                lease = try connect.client.lease(id)
            }
            switch format {
            case "text": Output.line(LeaseText.summary(lease))
            case "json": try JSONOutput.print(LeaseJSON(lease: lease))
            default: Output.line(AttachSpec.render(lease, format: try AttachFormat(parsing: format)))
            }
        }
    }
}

/// The `<lease>` argument of release, renew and show.
struct LeaseIDArgument: ParsableArguments {
    @Argument(help: ArgumentHelp("The lease id (l-...).", valueName: "lease"),
              transform: { s in try Parse.wrap { () throws(SRIOVError) in try LeaseID(parsing: s) } })
    var id: LeaseID
}
