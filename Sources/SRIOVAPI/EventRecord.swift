import SRIOVCore

/// One event of `GET /v1/events` (its `data:` JSON): lease and VF lifecycle, read off journaled
/// records. `type` is the kind (`lease.acquired`, `lease.released`, `lease.expired`, `lease.drift`,
/// `lease.lost`, `vf.quarantined`, `vf.unquarantined`, `pf.numvfs`, `pf.down`, `pf.up`, `pf.draining`,
/// `pf.undrained`); the other fields are set per kind.
public struct EventRecord: Codable, Sendable, Equatable {
    public var type: String
    /// Unix seconds.
    public var time: Double
    /// The journal sequence number of the record the event comes from.
    public var seq: UInt64
    public var leaseId: String?
    public var lease: Lease?
    public var reason: String?
    public var vf: String?
    public var pf: String?
    public var interface: String?
    public var before: Int?
    public var after: Int?
    public var requestedBy: String?
    /// `lease.drift` from the host watcher: the VF's index on `interface`, each field that changed
    /// (from what the lease wants to what the host has) and what sriovd did (restore, quarantine, report).
    public var index: Int?
    public var changes: [DriftChange]?
    public var action: String?
    /// `pf.down`/`pf.up`: the PF's carrier as read (absent: unknown).
    public var carrier: Bool?
    /// `pf.down`, `pf.up`, `pf.draining`: the ids of the leases with a VF on the PF.
    public var leases: [String]?
    /// `pf.draining`: Unix seconds by which the leases should be released.
    public var deadline: Double?

    public init(type: String, time: Double, seq: UInt64, leaseId: String? = nil, lease: Lease? = nil, reason: String? = nil,
                vf: String? = nil, pf: String? = nil, interface: String? = nil, before: Int? = nil, after: Int? = nil,
                requestedBy: String? = nil) {
        self.type = type
        self.time = time
        self.seq = seq
        self.leaseId = leaseId
        self.lease = lease
        self.reason = reason
        self.vf = vf
        self.pf = pf
        self.interface = interface
        self.before = before
        self.after = after
        self.requestedBy = requestedBy
    }

    /// One line for people: what happened, to what, and why.
    public var summary: String {
        var words = [type]
        if let leaseId { words.append("lease \(leaseId)") }
        if let owner = lease?.owner { words.append("owner \(owner)") }
        if let vf { words.append("vf \(vf)") }
        if let pf { words.append("pf \(interface.map { "\(pf) (\($0))" } ?? pf)") }
        if let before, let after { words.append("\(before) -> \(after) VFs") }
        if let leases { words.append(leases.isEmpty ? "no leases" : "leases \(leases.joined(separator: ","))") }
        if let requestedBy { words.append("by \(requestedBy)") }
        if let reason { words.append("reason: \(reason)") }
        return words.joined(separator: "  ")
    }
}
