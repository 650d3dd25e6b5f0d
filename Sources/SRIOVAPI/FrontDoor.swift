import SRIOVCore

/// Everything sriovd does that changes the host or the book, and what it knows of them: the one front
/// door. `LocalFrontDoor` (SRIOVLeasing) is the lease engine in this process (`sriovctl --direct`);
/// `DaemonClient` (SRIOVClient) is sriovd's API over its socket. `sriovctl` builds one of the two and
/// calls it; no command writes to sysfs or netlink itself, so every change is refused, journaled and
/// audited by the same engine.
public protocol FrontDoor: Sendable {
    func acquire(_ request: LeaseRequest) async throws(SRIOVError) -> Lease
    /// Unbind, scrub (verified), return; a VF that fails is quarantined with the reason.
    func release(_ id: LeaseID) async throws(SRIOVError) -> Released
    func renew(_ id: LeaseID, ttlSeconds: Int?) async throws(SRIOVError) -> Lease
    func leases(owner: String?) async throws(SRIOVError) -> [Lease]
    func lease(_ id: LeaseID) async throws(SRIOVError) -> Lease
    func pools() async throws(SRIOVError) -> Pools
    /// A lease's VFs' traffic counters, read from their PFs now (`GET /v1/leases/{id}/stats`).
    func leaseStats(_ id: LeaseID) async throws(SRIOVError) -> LeaseStats
    /// Who asked for what, oldest first.
    func audit(since: Double?) async throws(SRIOVError) -> [AuditDocument]
    /// A PF's VF count, through 0. Refused while leases hold VFs of the PF unless `force` (admin), which
    /// marks those leases `lost`.
    func setNumVFs(pf: String, _ body: NumVFsBody) async throws(SRIOVError) -> NumVFsResult
    /// One VF's settings from its PF, read back. Refused for a leased or free pool VF unless `force`
    /// (admin), which marks the lease `drifted` (or quarantines the free VF).
    func setVF(pf: String, index: Int, _ body: VFSettingsBody) async throws(SRIOVError) -> PFStatus.VFInfo
    /// Puts a PF into maintenance: no new leases on it, `pf.draining` naming every lease on it, then waits
    /// until they are released or the deadline passes; at the deadline refuses (naming them) or, with
    /// `evict` (admin), releases them. The PF stays draining until `undrainPF`.
    func drainPF(_ pf: String, _ body: PFDrainBody) async throws(SRIOVError) -> PFDrainStatus
    /// Returns a draining PF to service.
    func undrainPF(_ pf: String) async throws(SRIOVError) -> PFDrainStatus
    /// Scrubs a quarantined VF (verified) and returns it to its pool.
    func unquarantine(_ vf: PCIAddress) async throws(SRIOVError) -> Unquarantined
    /// The promises, checked against the host as it is now.
    func check() async throws(SRIOVError) -> CheckReport
    /// The host's PFs and VFs as the engine reads them now.
    func inventory() async throws(SRIOVError) -> HostInventory
    /// The host's prerequisites for passthrough, each check with its remedy.
    func doctor() async throws(SRIOVError) -> [DoctorCheck]
    /// Lease and VF events from now on, as they are journaled (`GET /v1/events`); the stream ends when
    /// the caller stops iterating, or with an error when the engine goes away or the subscriber falls
    /// too far behind.
    func events() async throws(SRIOVError) -> AsyncThrowingStream<EventRecord, any Error>
    /// Lets go of what this front door holds (the engine's state directory lock, a kept-alive connection).
    func close() async
    /// `close` after a command that succeeded: an in-process engine may leave its state directory
    /// quicker to open next time (a snapshot); a command that failed calls `close`.
    func closeAfterSuccess() async
}

extension FrontDoor {
    public func closeAfterSuccess() async { await close() }
}

/// `DELETE /v1/leases/{id}`: the lease as it was when released, and the VFs its release quarantined.
public struct Released: Sendable, Equatable {
    public var lease: Lease
    /// PCI address -> why, for each VF of the lease the release quarantined (empty when every VF went
    /// back to its pool); nil when the answer did not say (a sriovd older than this field).
    public var quarantined: [String: Quarantine]?

    public init(lease: Lease, quarantined: [String: Quarantine]?) {
        self.lease = lease
        self.quarantined = quarantined
    }
}

/// `GET /v1/pools`: the pools and the quarantined VFs.
public struct Pools: Codable, Sendable, Equatable {
    public var pools: [PoolStatus]
    public var quarantine: [String: Quarantine]

    public init(pools: [PoolStatus], quarantine: [String: Quarantine]) {
        self.pools = pools
        self.quarantine = quarantine
    }

    enum CodingKeys: String, CodingKey { case pools, quarantine }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        pools = try c.decode([PoolStatus].self, forKey: .pools)
        quarantine = try c.decodeIfPresent([String: Quarantine].self, forKey: .quarantine) ?? [:]
    }
}

/// One pool: how many VFs it has and where they are.
public struct PoolStatus: Sendable, Codable, Equatable {
    public var name: String
    public var total: Int
    public var free: Int
    public var leased: Int
    public var quarantined: Int
    public var pfs: [String]
    /// `require_link` of the pool (`up` or `any`).
    public var requireLink: String?
    /// Each PF of the pool with its link and maintenance state, as read for this answer.
    public var pfLinks: [PoolPFLink]?
    /// How many of the pool's PFs with a netdev have no carrier now.
    public var pfsWithoutCarrier: Int?
    /// How many of the pool's PFs are draining (`pf drain`).
    public var pfsDraining: Int?

    public init(name: String, total: Int, free: Int, leased: Int, quarantined: Int, pfs: [String],
                requireLink: String? = nil, pfLinks: [PoolPFLink]? = nil) {
        self.name = name
        self.total = total
        self.free = free
        self.leased = leased
        self.quarantined = quarantined
        self.pfs = pfs
        self.requireLink = requireLink
        self.pfLinks = pfLinks
        self.pfsWithoutCarrier = pfLinks.map { $0.filter { $0.carrier == false || ($0.carrier == nil && $0.interface != nil) }.count }
        self.pfsDraining = pfLinks.map { $0.filter(\.draining).count }
    }
}

/// One PF of a pool in `GET /v1/pools`: where its VFs' traffic goes, and whether it is in maintenance.
public struct PoolPFLink: Sendable, Codable, Equatable {
    /// The PF's PCI address (or netdevsim device).
    public var pf: String
    public var interface: String?
    /// Carrier now; absent for a PF without a netdev (NVMe) or when unreadable.
    public var carrier: Bool?
    public var operState: String?
    /// `pf drain` put it in maintenance: no new leases on it until `pf undrain`.
    public var draining: Bool

    public init(pf: String, interface: String?, carrier: Bool?, operState: String?, draining: Bool) {
        self.pf = pf
        self.interface = interface
        self.carrier = carrier
        self.operState = operState
        self.draining = draining
    }

    /// "up", "no carrier", "unknown", "-" (no netdev), with ", draining".
    public var summary: String {
        let link = interface == nil ? "-" : PFLinkState(carrier: carrier, operState: operState).summary
        return draining ? link + ", draining" : link
    }
}

/// The outcome of a VF-count change.
public struct NumVFsResult: Sendable, Codable, Equatable {
    public var pf: String
    public var interface: String?
    public var before: Int
    public var after: Int
    /// The pools' warnings after they were bound to the new VFs, the leases a forced change marked
    /// lost, and anything else worth knowing.
    public var warnings: [String]

    public init(pf: String, interface: String?, before: Int, after: Int, warnings: [String]) {
        self.pf = pf
        self.interface = interface
        self.before = before
        self.after = after
        self.warnings = warnings
    }
}

/// `POST /v1/vfs/{pci}/unquarantine`'s answer: the VF is scrubbed and back in its pool.
public struct Unquarantined: Codable, Sendable, Equatable {
    public var vf: String
    public var pool: String?

    public init(vf: String, pool: String?) {
        self.vf = vf
        self.pool = pool
    }
}

/// `GET /v1/check` and `sriovctl lease check`: the promises against the host, each broken one named.
public struct CheckReport: Codable, Sendable, Equatable {
    public var leases: Int
    public var heldVFs: Int
    public var quarantined: Int
    /// One line per broken promise (empty: every promise holds).
    public var broken: [String]

    public init(leases: Int, heldVFs: Int, quarantined: Int, broken: [String]) {
        self.leases = leases
        self.heldVFs = heldVFs
        self.quarantined = quarantined
        self.broken = broken
    }

    /// What `sriovctl lease check` prints first.
    public var summary: String {
        "\(leases) leases holding \(heldVFs) VFs, \(quarantined) quarantined; \(broken.isEmpty ? "every promise holds" : "\(broken.count) broken")"
    }
}
