import SRIOVAPI

/// The leases whose steps are running in this process (acquire, release, a drift restore, apply),
/// and when each was last claimed or let go. Code that reads the host and then judges a lease by
/// what it read (the host watch) has an `await` in between, during which the lease may be released,
/// scrubbed and its VF leased again: it notes `epoch` before the read, and `touched(_:after:)` says
/// whether the lease was claimed or let go since, so the read may predate what the lease's own step
/// did to the host.
struct BusyLeases {
    private var running: Set<LeaseID> = []
    /// Counts every claim and let-go.
    private(set) var epoch: UInt64 = 0
    /// The epoch of each lease's last claim or let-go (pruned of leases the book no longer has).
    private var lastChange: [LeaseID: UInt64] = [:]

    var isEmpty: Bool { running.isEmpty }

    func contains(_ id: LeaseID) -> Bool { running.contains(id) }

    mutating func insert(_ id: LeaseID) {
        epoch += 1
        lastChange[id] = epoch
        running.insert(id)
    }

    mutating func remove(_ id: LeaseID) {
        epoch += 1
        lastChange[id] = epoch
        running.remove(id)
    }

    /// Whether `id` is running now, or was claimed or let go after `epoch`.
    func touched(_ id: LeaseID, after epoch: UInt64) -> Bool {
        running.contains(id) || (lastChange[id] ?? 0) > epoch
    }

    /// Epochs kept after the last prune: the next prune comes once there are twice as many (and 4,096 or more).
    private var keptAtPrune = 0

    var wantsPrune: Bool { lastChange.count > max(4_096, 2 * keptAtPrune) }

    /// Forgets the epochs of leases that are gone (`keep` false): a gone lease's epoch no longer
    /// matters, since whoever judges a lease looks it up in the book first.
    mutating func prune(keeping keep: (LeaseID) -> Bool) {
        lastChange = lastChange.filter { running.contains($0.key) || keep($0.key) }
        keptAtPrune = lastChange.count
    }
}
