import ArgumentParser
import SRIOVCore

/// `sriovctl pf show <pf>`: the PF and every VF, sysfs and netlink merged; never drops a VF.
struct PFShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a PF and the settings of every one of its VFs.",
        discussion: "Equivalent to `ip -d link show <pf>` plus sysfs, but complete past the kernel's truncated VF list: a VF the kernel's reply leaves out is still listed, marked sysfs-only."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The PF: a netdev name (ens1f0) or a PCI address (0000:3b:00.0).", valueName: "pf"))
    var pf: String

    @Flag(name: .customLong("json"), help: "Print as JSON.")
    var json = false

    func run() async throws {
        try await ErrorReporting.run {
            let (_, status) = try await global.host().status(of: pf)
            if json {
                try JSONOutput.print(status)
            } else {
                Output.line(PFShow.render(status))
            }
        }
    }

    static func render(_ status: PFStatus) -> String {
        let pf = status.pf
        var head = "PF \(pf.device)"
        if let i = pf.interface { head += " (\(i))" }
        head += "  driver \(pf.driver ?? "(none)")  \(pf.numVFs)\(pf.totalVFs.map { " of \($0)" } ?? "") VFs"
        if let op = pf.operState { head += "  link \(op)" }
        if pf.protected { head += "  management (protected)" }
        var lines = [head]
        if status.vfs.isEmpty { return lines.joined(separator: "\n") }
        lines.append(VFRows.table(status.vfs))
        if status.kernelListWrapped {
            lines.append("note: the kernel's VF list overflowed its 16-bit length; sriovd read the entries past it")
        }
        if !status.missing.isEmpty {
            lines.append("note: the kernel's netlink reply left out \(status.missing.count) VFs (\(VFRows.ranges(status.missing))); their settings are unknown (sysfs-only)")
        }
        return lines.joined(separator: "\n")
    }
}

enum VFRows {
    static func table(_ vfs: [PFStatus.VFInfo]) -> String {
        var table = Table(["VF", "PCI", "DRIVER", "MAC", "VLAN", "QOS", "PROTO", "SPOOFCHK", "TRUST", "STATE", "MIN", "MAX"])
        for vf in vfs {
            func onOff(_ b: Bool?) -> String { b.map { $0 ? "on" : "off" } ?? "-" }
            if vf.source == .sysfsOnly {
                table.add(["\(vf.index)", vf.pciAddress?.description ?? "-", vf.driver ?? "(none)", "?", "?", "?", "?", "?", "?", "?", "?", "? (not in the kernel's reply)"])
                continue
            }
            table.add([
                "\(vf.index)", vf.pciAddress?.description ?? "-", vf.pciAddress == nil ? "-" : (vf.driver ?? "(none)"),
                vf.mac ?? "-", vf.vlan.map(String.init) ?? "-", vf.qos.map(String.init) ?? "-", vf.vlanProto ?? "-",
                onOff(vf.spoofCheck), onOff(vf.trust), vf.linkState ?? "-",
                vf.minTxRate.map(String.init) ?? "-", vf.maxTxRate.map(String.init) ?? "-",
            ])
        }
        return table.render()
    }

    /// "3-7, 9" for a sorted list of indexes.
    static func ranges(_ indexes: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        while i < indexes.count {
            var j = i
            while j + 1 < indexes.count && indexes[j + 1] == indexes[j] + 1 { j += 1 }
            parts.append(i == j ? "\(indexes[i])" : "\(indexes[i])-\(indexes[j])")
            i = j + 1
        }
        return parts.joined(separator: ", ")
    }
}
