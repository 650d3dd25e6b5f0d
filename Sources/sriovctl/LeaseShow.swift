import ArgumentParser
import SRIOVCore
import SRIOVLeasing

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
            let lease = try await connect.using(global, leaseOptions) { door in try await door.lease(id) }
            switch format {
            case "text": Output.line(LeaseText.summary(lease))
            case "json": try JSONOutput.print(LeaseDocument(lease))
            default: Output.line(AttachSpec.render(lease, format: try AttachFormat(parsing: format)))
            }
        }
    }
}
