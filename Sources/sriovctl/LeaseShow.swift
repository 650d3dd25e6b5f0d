import ArgumentParser
import Foundation
import SRIOVCore
import SRIOVLeasing

struct LeaseShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a lease, its VFs' traffic counters (--stats), or how to attach it (libvirt hostdev or interface XML, QEMU, Proxmox, cloud-hypervisor, DPDK).",
        discussion: """
            --format proxmox numbers the lines hostpci0, hostpci1, ... with pcie=1. Given the VM (--vmid, \
            which reads /etc/pve/qemu-server/<vmid>.conf, or --vm-config <file>), it takes hostpci numbers \
            the VM does not use yet and leaves pcie=1 out (with a note) unless the VM is a q35 machine; \
            --hostpci-index <n> numbers from n instead. --format dpdk prints the EAL arguments \
            (--allow <pci> per VF) for a DPDK process on the host.

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

    @Option(name: .customLong("format"), help: ArgumentHelp("text (default), json, libvirt, libvirt-interface, qemu, proxmox, cloud-hypervisor or dpdk.", valueName: "format"))
    var format: String = "text"

    @Option(name: .customLong("vmid"), help: ArgumentHelp("With --format proxmox: the Proxmox VM whose configuration (/etc/pve/qemu-server/<vmid>.conf) says which hostpci numbers are free and whether it is q35.", valueName: "vmid"))
    var vmid: Int?

    @Option(name: .customLong("vm-config"), help: ArgumentHelp("With --format proxmox: the VM's configuration file, read instead of the one --vmid names.", valueName: "file"))
    var vmConfig: String?

    @Option(name: .customLong("hostpci-index"), help: ArgumentHelp("With --format proxmox: number the lines from hostpci<n> (0-15).", valueName: "n"))
    var hostpciIndex: Int?

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
        if format != AttachFormat.proxmox.rawValue, vmid != nil || vmConfig != nil || hostpciIndex != nil {
            throw ValidationError("--vmid, --vm-config and --hostpci-index place Proxmox lines: use them with --format proxmox")
        }
        if vmid != nil && vmConfig != nil {
            throw ValidationError("--vmid and --vm-config both name the VM's configuration: give one")
        }
        if let vmid, !(100...999_999_999).contains(vmid) {
            throw ValidationError("invalid --vmid \(vmid): Proxmox VM ids are 100 to 999999999")
        }
        if let n = hostpciIndex, !(0..<ProxmoxPlacement.slots).contains(n) {
            throw ValidationError("invalid --hostpci-index \(n): Proxmox numbers hostpci entries 0 to \(ProxmoxPlacement.slots - 1)")
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
            case AttachFormat.proxmox.rawValue:
                let placement = try ProxmoxPlacement.choose(count: lease.vfs.count, vm: try proxmoxVM(), firstIndex: hostpciIndex)
                if let note = placement.note { Output.error("sriovctl: note: \(note)") }
                Output.line(AttachSpec.render(lease, format: .proxmox, proxmox: placement))
            default: Output.line(AttachSpec.render(lease, format: try AttachFormat(parsing: format)))
            }
        }
    }

    /// The VM's configuration that --vmid or --vm-config names, read now (nil when neither is given).
    func proxmoxVM() throws(SRIOVError) -> ProxmoxVMConfig? {
        let path: String
        if let vmid { path = "/etc/pve/qemu-server/\(vmid).conf" } else if let vmConfig { path = vmConfig } else { return nil }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            let reason = access(path, R_OK) == 0 ? "not a UTF-8 text file" : String(cString: strerror(errno))
            let remedy = vmid.map { "is this a Proxmox node with VM \($0)? (`qm list` shows its VMs)" } ?? "give the path of the VM's .conf file"
            throw SRIOVError(.notFound, "cannot read the Proxmox VM configuration \(path): \(reason); \(remedy)")
        }
        return ProxmoxVMConfig(parsing: text, source: path)
    }
}
