import ArgumentParser

struct PFGroup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pf",
        abstract: "Show a PF with every VF's settings, change its VF count, or drain it for maintenance.",
        subcommands: [PFShow.self, PFSetNumVFs.self, PFDrain.self, PFUndrain.self]
    )
}

struct VFGroup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vf",
        abstract: "Show or change one VF's settings (set from the PF over netlink, then read back).",
        subcommands: [VFShow.self, VFSet.self, VFUnquarantine.self]
    )
}
