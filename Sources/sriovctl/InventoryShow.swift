import ArgumentParser
import SRIOVClient
import SRIOVCore

/// `sriovctl inventory`: the SR-IOV PFs of the host and their VFs, and its NICs without SR-IOV.
struct InventoryShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inventory",
        abstract: "List the SR-IOV PFs of the host (and their VFs with --vfs), and its NICs without SR-IOV.",
        discussion: """
            NICs without SR-IOV (network functions with no sriov_totalvfs) are listed in a section of \
            their own (`functions` in --json): they have no VFs, and a pool leases one whole by naming \
            it in devices:, as it does a PF with no VFs. The management NIC is marked and never leased.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var reader: HostReadOptions

    @Flag(name: .customLong("json"), help: "Print the whole inventory as JSON.")
    var json = false

    @Flag(name: .customLong("vfs"), help: "Also list every VF with its driver and IOMMU group.")
    var vfs = false

    func validate() throws { try reader.check(global) }

    func run() throws {
        try ErrorReporting.run {
            let inventory = try reader.client.map { client throws(SRIOVError) in try client.inventory() } ?? global.host().source.inventory()
            if json {
                try JSONOutput.print(inventory)
            } else {
                Output.line(InventoryShow.render(inventory, vfs: vfs))
            }
        }
    }

    static func render(_ inventory: HostInventory, vfs: Bool) -> String {
        guard !inventory.pfs.isEmpty else {
            var out = "No SR-IOV capable PCI device found (no device has sriov_totalvfs). Run `sriovctl doctor` for what to check."
            if !inventory.functions.isEmpty { out += "\n\n" + renderFunctions(inventory.functions) }
            return out
        }
        var table = Table(["PF", "PCI", "DRIVER", "ID", "NUMA", "VFS", "BOUND", "AUTOPROBE", "LINK", "NOTE"])
        for pf in inventory.pfs {
            var notes: [String] = []
            if pf.isManagement { notes.append("management (protected)") }
            if !pf.problems.isEmpty { notes.append("\(pf.problems.count) problem(s)") }
            table.add([
                pf.interfaces.first?.name ?? "-", pf.pciAddress.description, pf.driver ?? "(none)",
                "\(pf.vendorID ?? "?"):\(pf.deviceID ?? "?")", pf.numaNode.map(\.description) ?? "-",
                "\(pf.numVFs)/\(pf.totalVFs)", "\(pf.boundVFCount)",
                pf.driversAutoprobe.map { $0 ? "on" : "off" } ?? "-", pf.linkState ?? "-",
                notes.joined(separator: ", "),
            ])
        }
        var out = table.render()
        if vfs {
            for pf in inventory.pfs where !pf.vfs.isEmpty || !pf.problems.isEmpty {
                out += "\n\n\(pf.label): \(pf.vfs.count) VFs\n"
                var vfTable = Table(["VF", "PCI", "DRIVER", "OVERRIDE", "IOMMU", "NETDEV"])
                for vf in pf.vfs {
                    vfTable.add([
                        "\(vf.index)", vf.pciAddress.description, vf.driver ?? "(none)", vf.driverOverride ?? "-",
                        vf.iommuGroup.map(String.init) ?? "-", vf.interfaces.map(\.name).joined(separator: ",").nonEmpty ?? "-",
                    ])
                }
                out += vfTable.render()
                for problem in pf.problems { out += "\n  problem: \(problem)" }
            }
        }
        if !inventory.functions.isEmpty { out += "\n\n" + renderFunctions(inventory.functions) }
        for problem in inventory.host.problems { out += "\nhost problem: \(problem)" }
        return out
    }

    /// The network functions without SR-IOV: what `devices:` may lease whole besides PFs with no VFs.
    static func renderFunctions(_ functions: [PCIFunction]) -> String {
        var table = Table(["NETDEV", "PCI", "DRIVER", "ID", "CLASS", "NUMA", "IOMMU", "NOTE"])
        for function in functions {
            table.add([
                function.interfaces.map(\.name).joined(separator: ",").nonEmpty ?? "-", function.pciAddress.description,
                function.driver ?? "(none)", "\(function.vendorID ?? "?"):\(function.deviceID ?? "?")", function.classCode ?? "-",
                function.numaNode.map(\.description) ?? "-", function.iommuGroup.map(String.init) ?? "-",
                function.isManagement ? "management (protected)" : "",
            ])
        }
        return "NICs without SR-IOV (a pool leases one whole with devices: [<PCI>]):\n" + table.render()
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
