import SRIOVCore

extension LeaseEngine {
    /// `GET /v1/leases/{id}/stats`: the lease's VFs' counters, read now (one RTM_GETLINK per PF of the
    /// lease). Unknown id: not-found, as the other lease calls.
    public func leaseStats(_ id: LeaseID) async throws(SRIOVError) -> LeaseStats {
        let lease = try lease(id)
        return await stats(of: lease)
    }

    /// The counters of a lease the caller already holds (the API checks who may see it first).
    public nonisolated func stats(of lease: Lease) async -> LeaseStats {
        let readouts = await LeaseStatsReader.read(LeaseStatsReader.interfaces(of: [lease]), link: host.link)
        return LeaseStatsReader.stats(of: lease, readouts: readouts, at: clock.now())
    }

    /// Every lease and every counter of their PFs, one RTM_GETLINK per PF (for `/metrics`).
    public func leasedVFStats() async -> (leases: [Lease], readouts: LeaseStatsReader.Readouts) {
        let current = self.leases()
        return (current, await LeaseStatsReader.read(LeaseStatsReader.interfaces(of: current), link: host.link))
    }
}
