import ArgumentParser

struct LeaseGroup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lease",
        abstract: "Lease VFs to VMs: acquire (bound to vfio-pci, configured), release (scrubbed), renew, list, show.",
        subcommands: [LeaseAcquire.self, LeaseRelease.self, LeaseRenew.self, LeaseList.self, LeaseShow.self, LeaseCheck.self]
    )
}

struct PoolGroup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pool",
        abstract: "Show the configured pools and how many VFs each has free, leased and quarantined.",
        subcommands: [PoolList.self]
    )
}

struct JournalGroup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal",
        abstract: "Check, compact or repair the state journal.",
        subcommands: [JournalVerify.self, JournalCompact.self, JournalRepair.self]
    )
}
