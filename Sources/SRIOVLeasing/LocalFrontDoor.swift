import SRIOVCore

/// The front door in this process: the lease engine itself, opened on the state directory
/// (`sriovctl --direct`). Every call names `caller` in the audit trail, as sriovd names its callers.
public struct LocalFrontDoor: FrontDoor {
    public let engine: LeaseEngine
    public let caller: String

    public init(engine: LeaseEngine, caller: String) {
        self.engine = engine
        self.caller = caller
    }

    public func acquire(_ request: LeaseRequest) async throws(SRIOVError) -> Lease {
        try await engine.acquire(request, requestedBy: caller)
    }

    public func release(_ id: LeaseID) async throws(SRIOVError) -> Released {
        let lease = try await engine.release(id, requestedBy: caller)
        return Released(lease: lease, quarantined: await engine.quarantine(heldBy: id))
    }

    public func renew(_ id: LeaseID, ttlSeconds: Int?) async throws(SRIOVError) -> Lease {
        try await engine.renew(id, ttlSeconds: ttlSeconds, requestedBy: caller)
    }

    public func leases(owner: String?) async throws(SRIOVError) -> [Lease] {
        await engine.leases(owner: owner)
    }

    public func lease(_ id: LeaseID) async throws(SRIOVError) -> Lease {
        try await engine.lease(id)
    }

    public func leaseStats(_ id: LeaseID) async throws(SRIOVError) -> LeaseStats {
        try await engine.leaseStats(id)
    }

    public func pools() async throws(SRIOVError) -> Pools {
        Pools(pools: try await engine.pools(), quarantine: await engine.currentBook.quarantine)
    }

    public func audit(since: Double?) async throws(SRIOVError) -> [AuditDocument] {
        await engine.auditLog(since: since).map(AuditDocument.init)
    }

    public func setNumVFs(pf: String, _ body: NumVFsBody) async throws(SRIOVError) -> NumVFsResult {
        try await engine.setNumVFs(pf: pf, to: body.numvfs, autoprobe: body.autoprobe, force: body.force ?? false,
                                   timeout: try body.timeout(), requestedBy: caller)
    }

    public func setVF(pf: String, index: Int, _ body: VFSettingsBody) async throws(SRIOVError) -> PFStatus.VFInfo {
        try await engine.setVF(pf: pf, index: index, settings: try body.settings(), force: body.force ?? false, requestedBy: caller)
    }

    public func drainPF(_ pf: String, _ body: PFDrainBody) async throws(SRIOVError) -> PFDrainStatus {
        try await engine.drainPF(pf, deadline: try body.deadline(), evict: body.evict ?? false, requestedBy: caller)
    }

    public func undrainPF(_ pf: String) async throws(SRIOVError) -> PFDrainStatus {
        try await engine.undrainPF(pf, requestedBy: caller)
    }

    public func unquarantine(_ vf: PCIAddress) async throws(SRIOVError) -> Unquarantined {
        try await engine.unquarantine(vf, requestedBy: caller)
        return Unquarantined(vf: vf.description, pool: await engine.plan.pool(of: vf))
    }

    public func check() async throws(SRIOVError) -> CheckReport {
        try await engine.check()
    }

    public func inventory() async throws(SRIOVError) -> HostInventory {
        try await engine.hostInventory()
    }

    public func doctor() async throws(SRIOVError) -> [DoctorCheck] {
        Doctor.run(try await engine.hostInventory())
    }

    public func events() async throws(SRIOVError) -> AsyncThrowingStream<EventRecord, any Error> {
        let subscription = engine.eventFeed.subscribe(capacity: 1024)
        return AsyncThrowingStream { continuation in
            let forward = Task {
                for await event in subscription.events { continuation.yield(EventRecord(event)) }
                continuation.finish(throwing: subscription.overflowed
                    ? SRIOVError(.busy, "the event stream fell 1024 events behind and was cut off; subscribe again and resynchronise from the leases and pools")
                    : nil)
            }
            continuation.onTermination = { _ in
                forward.cancel()
                subscription.cancel()
            }
        }
    }

    public func close() async {
        await engine.close()
    }

    /// Closes after a command that succeeded: the next command starts from a snapshot when this one
    /// found a long replay (`LeaseEngine.close(snapshottingLongReplay:)`). A command that failed
    /// leaves the state directory's files as they were.
    public func closeAfterSuccess() async {
        await engine.close(snapshottingLongReplay: true)
    }
}
