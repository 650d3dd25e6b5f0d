import ArgumentParser

struct LeaseGroup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lease",
        abstract: "Lease VFs to VMs: acquire (bound to vfio-pci, configured), release (scrubbed), renew, list, show.",
        discussion: "acquire, release, renew, list and show ask sriovd over its socket (--socket, default $SRIOVD_SOCKET or /run/sriovd/sriovd.sock); with --direct they open the state directory in this process, as check always does (only while no sriovd holds the state directory's lock).",
        subcommands: [LeaseAcquire.self, LeaseRelease.self, LeaseRenew.self, LeaseList.self, LeaseShow.self, LeaseCheck.self]
    )
}

struct PoolGroup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pool",
        abstract: "Show the configured pools and how many VFs each has free, leased and quarantined.",
        discussion: "Asks sriovd over its socket; --direct opens the state directory in this process.",
        subcommands: [PoolList.self]
    )
}

struct JournalGroup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal",
        abstract: "Check, compact or repair the state journal.",
        discussion: "Always in-process on the state directory (not through sriovd): stop sriovd first, it holds the state directory's lock.",
        subcommands: [JournalVerify.self, JournalCompact.self, JournalRepair.self]
    )
}
