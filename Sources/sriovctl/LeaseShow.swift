import ArgumentParser
import SRIOVCore
import SRIOVLeasing

struct LeaseShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a lease, its VFs' traffic counters (--stats), or how to attach it (libvirt hostdev or interface XML, QEMU, Proxmox, cloud-hypervisor).",
        discussion: """
            --stats reads each VF's counters from its PF now (IFLA_VF_STATS: one RTM_GETLINK per PF, as \
            `ip -s -d link show <pf>` does): rx/tx packets and bytes, received broadcast and multicast, rx/tx \
            dropped. A counter the kernel does not report shows as "not reported" (null with --format json), \
            never 0. Drivers without per-VF counters (netdevsim, igb) report every counter as 0.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var leaseOptions: LeaseOptions
    @OptionGroup var connect: ConnectOptions

    @OptionGroup var lease: LeaseIDArgument
    var id: LeaseID { lease.id }

    @Option(name: .customLong("format"), help: ArgumentHelp("text (default), json, libvirt, libvirt-interface, qemu, proxmox or cloud-hypervisor.", valueName: "format"))
    var format: String = "text"

    @Flag(name: .customLong("stats"), help: "Show each VF's traffic counters, read from its PF now (text or json).")
    var stats = false

    func validate() throws {
        try connect.check(global, leaseOptions)
        if format != "text" && format != "json" && AttachFormat(rawValue: format) == nil {
            throw ValidationError("invalid --format \(Quote.shell(format)): use text, json, \(AttachFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if stats && format != "text" && format != "json" {
            throw ValidationError("--stats prints counters as text or json, not --format \(format)")
        }
    }

    func run() async throws {
        try await ErrorReporting.run {
            if stats {
                let counters = try await connect.using(global, leaseOptions) { door in try await door.leaseStats(id) }
                if format == "json" { try JSONOutput.print(counters) } else { Output.line(LeaseText.stats(counters)) }
                return
            }
            let lease = try await connect.using(global, leaseOptions) { door in try await door.lease(id) }
            switch format {
            case "text": Output.line(LeaseText.summary(lease))
            case "json": try JSONOutput.print(LeaseDocument(lease))
            default: Output.line(AttachSpec.render(lease, format: try AttachFormat(parsing: format)))
            }
        }
    }
}
