import ArgumentParser
import Foundation
import SRIOVCore
import SRIOVLeasing

/// `sriovctl libvirt-hook`: libvirt's QEMU hook. Install it as /etc/libvirt/hooks/qemu (or a script in
/// /etc/libvirt/hooks/qemu.d/ that execs it); libvirt runs it with the domain XML on stdin.
struct LibvirtHookCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "libvirt-hook",
        abstract: "libvirt's QEMU hook: lease a domain's VFs on prepare, release them on release.",
        discussion: """
            libvirt runs it as `<domain> <operation> <sub-operation> <extra>` with the domain XML on \
            stdin. A domain opts in with <metadata><sriovd:lease xmlns:sriovd='\(LibvirtHook.namespace)' \
            pool='<pool>'/></metadata> (optional attributes: owner, mac, vlan, qos, trust, spoofchk, \
            min-tx-rate, max-tx-rate) and lists its VFs as <hostdev mode='subsystem' type='pci' \
            managed='no'> (or <interface type='hostdev' managed='no'>). `prepare begin` leases exactly \
            those VFs (request id libvirt-<uuid>, consumer libvirt:<uuid>) and fails the start, with the \
            reason on stderr, when it cannot; `release end` releases that lease (none is success); every \
            other operation, `migrate` included, and every domain without the metadata is left alone \
            without contacting sriovd. See Docs/guide/04-hypervisors.md.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var leaseOptions: LeaseOptions
    @OptionGroup var connect: ConnectOptions

    @Argument(parsing: .remaining, help: ArgumentHelp("What libvirt passes: <domain> <operation> <sub-operation> <extra>.", valueName: "libvirt-arguments"))
    var arguments: [String] = []

    func validate() throws {
        try connect.check(global, leaseOptions)
        guard arguments.count >= 3 else {
            throw ValidationError("libvirt-hook takes libvirt's arguments: <domain> <operation> <sub-operation> [<extra>], with the domain XML on stdin; install it as /etc/libvirt/hooks/qemu")
        }
    }

    func run() async throws {
        try await ErrorReporting.run {
            // Read all of stdin (libvirt writes the whole XML; a hook that leaves it unread may fail libvirt's write).
            let xml = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            let action = try LibvirtHook.action(arguments: arguments, domainXML: xml)
            if case .ignore = action { return }
            let result = try await connect.using(global, leaseOptions) { door in try await LibvirtHook.run(action, door: door) }
            Output.error("sriovctl libvirt-hook: \(arguments[0]) \(arguments[1]) \(arguments[2]): \(result)")
        }
    }
}
