import SRIOVCore

/// The lease state, rebuilt by applying journal events in order; also what a snapshot stores.
/// Pure: no I/O, so replay and the live engine share one set of rules.
public struct LeaseBook: Sendable, Codable, Equatable {
    /// Live leases (acquiring, active, releasing) by id.
    public var leases: [String: Lease] = [:]
    /// Quarantined VFs by PCI address.
    public var quarantine: [String: Quarantine] = [:]
    /// Request id -> lease id, for idempotent retries (live leases only).
    public var requestIndex: [String: LeaseID] = [:]
    /// The most recent audit records: at least the last `auditLimit`, trimmed back to that many
    /// whenever a quarter more have piled up (one shift per 2,500 records, not one per record).
    /// Refused API calls are trimmed first and kept to the last `refusalLimit`, so refusals (which
    /// a tenant can cause at will) never push out the record of what was done.
    public var audit: [AuditRecord] = []
    /// Records trimmed from `audit` since the last snapshot: the engine appends them to the audit
    /// archive (`audit-archive.jsonl`) before a snapshot lets compaction drop them from the journal.
    public var unarchivedAudit: [AuditRecord] = []
    /// The journal sequence number this book reflects.
    public var seq: UInt64 = 0
    /// PFs being drained (no new leases on them), by the PF's device (`PFDevice.description`): kept
    /// until `pf undrain`, so a restart mid-drain goes on draining.
    public var draining: [String: PFDrainRecord] = [:]

    public static let auditLimit = 10_000
    /// Refusals (`api.refused`) kept at most, of the `auditLimit`.
    public static let refusalLimit = 1_000

    public init() {}

    enum CodingKeys: String, CodingKey { case leases, quarantine, requestIndex, audit, unarchivedAudit, seq, draining }

    /// Snapshots written before `unarchivedAudit` existed lack it.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        leases = try c.decode([String: Lease].self, forKey: .leases)
        quarantine = try c.decode([String: Quarantine].self, forKey: .quarantine)
        requestIndex = try c.decode([String: LeaseID].self, forKey: .requestIndex)
        audit = try c.decode([AuditRecord].self, forKey: .audit)
        unarchivedAudit = try c.decodeIfPresent([AuditRecord].self, forKey: .unarchivedAudit) ?? []
        seq = try c.decode(UInt64.self, forKey: .seq)
        draining = try c.decodeIfPresent([String: PFDrainRecord].self, forKey: .draining) ?? [:]
    }

    /// The book of a snapshot whose audit trail was read apart (`JSONCoding.decodeBook`: `audit` is
    /// the empty array left in its place), read by hand as `init(from:)` reads it. A drain in
    /// progress (rare) is left to `Codable`.
    init(reading r: JSONReader) throws(JSONReader.Miss) {
        self.init()
        for (id, value) in try r.member("leases").members() { leases[id] = try Lease(reading: value) }
        for (vf, value) in try r.member("quarantine").members() { quarantine[vf] = try Quarantine(reading: value) }
        for (rid, value) in try r.member("requestIndex").members() {
            requestIndex[rid] = try value.parsed { (t: String) throws(SRIOVError) in try LeaseID(parsing: t) }
        }
        guard try r.member("audit").elements().isEmpty else { throw JSONReader.Miss() }
        if let list = try r.member(ifPresent: "unarchivedAudit") {
            for element in try list.elements() { unarchivedAudit.append(try AuditRecord(reading: element)) }
        }
        seq = try r.member("seq").uint64()
        if let drains = try r.member(ifPresent: "draining"), !(try drains.members().isEmpty) { throw JSONReader.Miss() }
    }

    public func lease(_ id: LeaseID) -> Lease? { leases[id.value] }

    /// The live lease holding a VF (a VF already returned does not count).
    public func holder(of vf: PCIAddress) -> LeaseID? {
        for lease in leases.values where lease.vfs.contains(where: { $0.pciAddress == vf && $0.stage != .returned }) {
            return lease.id
        }
        return nil
    }

    /// Every VF held by a live lease, with its lease.
    public var heldVFs: [PCIAddress: LeaseID] {
        var map: [PCIAddress: LeaseID] = [:]
        forEachHeldVF { vf, lease in map[vf] = lease }
        return map
    }

    /// Calls `body` for every VF held by a live lease (a VF already returned does not count), without
    /// building a map.
    public func forEachHeldVF(_ body: (PCIAddress, LeaseID) -> Void) {
        for lease in leases.values {
            for vf in lease.vfs where vf.stage != .returned { body(vf.pciAddress, lease.id) }
        }
    }

    public func isQuarantined(_ vf: PCIAddress) -> Bool { quarantine[vf.description] != nil }

    /// Every quarantined VF (the book keys them by their text, as the journal writes them).
    public var quarantinedVFs: Set<PCIAddress> { Set(quarantine.keys.compactMap(PCIAddress.init)) }

    public mutating func apply(_ event: LeaseEvent) {
        switch event {
        case .reserved(let lease):
            leases[lease.id.value] = lease
            if let rid = lease.request.requestID { requestIndex[rid] = lease.id }
        case .saved(let id, let vf, let state, let driver):
            update(id, vf) { $0.saved = state; $0.previousDriver = driver; $0.stage = .saved }
        case .configuring(let id, let vf):
            update(id, vf) { $0.stage = .configuring }
        case .binding(let id, let vf):
            update(id, vf) { $0.stage = .binding }
        case .activated(let id, let devices):
            guard var lease = leases[id.value] else { return }
            lease.state = .active
            for i in lease.vfs.indices {
                lease.vfs[i].stage = .active
                lease.vfs[i].vfioDevice = devices[lease.vfs[i].pciAddress] ?? lease.vfs[i].vfioDevice
            }
            leases[id.value] = lease
        case .renewed(let id, let expiresAt):
            leases[id.value]?.expiresAt = expiresAt
        case .releasing(let id, _, _):
            leases[id.value]?.state = .releasing
        case .returned(let id, let vf):
            update(id, vf) { $0.stage = .returned }
        case .released(let id):
            if let lease = leases.removeValue(forKey: id.value), let rid = lease.request.requestID, requestIndex[rid] == id {
                requestIndex[rid] = nil
            }
        case .quarantined(let vf, let reason, let lease):
            quarantine[vf.description] = Quarantine(reason: reason, since: 0, lease: lease)
        case .unquarantined(let vf):
            quarantine[vf.description] = nil
        case .drift(let id, let vf, let reason):
            leases[id.value]?.problems.append("\(vf): \(reason)")
            quarantine[vf.description] = Quarantine(reason: "drift: \(reason)", since: 0, lease: id)
        case .marked(let id, let condition, let reason):
            guard var lease = leases[id.value] else { return }
            lease.condition = max(lease.condition ?? condition, condition)
            lease.problems.append(reason)
            leases[id.value] = lease
        case .vfDrift(let record):
            guard var lease = leases[record.lease.value] else { return }
            lease.problems.append("\(record.vf): drift: \(record.summary)")
            if record.action != .restore { lease.condition = max(lease.condition ?? .drifted, .drifted) }
            leases[record.lease.value] = lease
            if record.action == .quarantine {
                quarantine[record.vf.description] = Quarantine(reason: "drift: \(record.summary)", since: 0, lease: record.lease)
            }
        case .numVFsChanged, .pfLink:
            break
        case .vfioGranted(let id, let grant):
            guard var lease = leases[id.value] else { return }
            var grants = (lease.vfioGrants ?? []).filter { $0.group != grant.group }
            grants.append(grant)
            lease.vfioGrants = grants
            leases[id.value] = lease
        case .pfDraining(let drain):
            draining[drain.pf] = drain
        case .pfUndrained(let undrain):
            draining[undrain.pf] = nil
        case .audit(let record):
            audit.append(record)
            if audit.count >= LeaseBook.auditLimit + LeaseBook.auditLimit / 4 { trimAudit() }
        }
    }

    /// Applies an event that carries a time (quarantine) with that time.
    public mutating func apply(_ event: LeaseEvent, at time: Double) {
        apply(event)
        if case .quarantined(let vf, _, _) = event { quarantine[vf.description]?.since = time }
        if case .drift(_, let vf, _) = event { quarantine[vf.description]?.since = time }
        if case .vfDrift(let record) = event, record.action == .quarantine { quarantine[record.vf.description]?.since = time }
    }

    /// Changes one VF of a lease in place (no copy of the lease or its VF list).
    private mutating func update(_ id: LeaseID, _ vf: PCIAddress, _ body: (inout LeasedVF) -> Void) {
        guard let i = leases[id.value]?.vfs.firstIndex(where: { $0.pciAddress == vf }) else { return }
        body(&leases[id.value]![i: i])
    }
}

extension Lease {
    /// The VF at position `i` (for in-place updates through the book's dictionary).
    fileprivate subscript(i i: Int) -> LeasedVF {
        get { vfs[i] }
        _modify { yield &vfs[i] }
    }
}

extension LeaseBook {
    /// Back to `auditLimit` records: the oldest refusals beyond the last `refusalLimit` go first, then
    /// the oldest records of any kind; what goes waits in `unarchivedAudit` for the archive.
    mutating func trimAudit() {
        let refusals = audit.reduce(0) { $0 + ($1.isRefusal ? 1 : 0) }
        var refusalsToDrop = max(0, refusals - LeaseBook.refusalLimit)
        var othersToDrop = max(0, audit.count - refusalsToDrop - LeaseBook.auditLimit)
        var kept: [AuditRecord] = []
        kept.reserveCapacity(LeaseBook.auditLimit)
        for record in audit {
            if record.isRefusal, refusalsToDrop > 0 {
                refusalsToDrop -= 1
                unarchivedAudit.append(record)
            } else if othersToDrop > 0 {
                othersToDrop -= 1
                unarchivedAudit.append(record)
            } else {
                kept.append(record)
            }
        }
        audit = kept
    }
}

extension AuditRecord {
    /// The action the API's access check records for a refused mutating call.
    public static let refusedAction = "api.refused"

    var isRefusal: Bool { action == AuditRecord.refusedAction }
}
