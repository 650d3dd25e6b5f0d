import SRIOVCore

/// What the journal records, one record per step, written before the step runs.
///
/// The type strings are stable: they are the journal's record types (Docs/Journal.md).
public enum LeaseEvent: Sendable, Equatable {
    /// VFs chosen and held for a lease; nothing on the host has changed yet.
    case reserved(Lease)
    /// A VF's settings as they were before the lease (read, not changed).
    case saved(lease: LeaseID, vf: PCIAddress, state: VFState, driver: String?)
    /// About to apply the lease's settings to a VF through its PF.
    case configuring(lease: LeaseID, vf: PCIAddress)
    /// About to unbind a VF from its driver and bind it to vfio-pci.
    case binding(lease: LeaseID, vf: PCIAddress)
    /// Every VF is on vfio-pci with its settings; the lease is ready.
    case activated(lease: LeaseID, vfioDevices: [PCIAddress: String])
    case renewed(lease: LeaseID, expiresAt: Double?)
    /// About to take the lease back (release, expiry or rollback of a failed acquire).
    case releasing(lease: LeaseID, cause: ReleaseCause, reason: String)
    /// A VF is back in the pool, scrubbed and verified.
    case returned(lease: LeaseID, vf: PCIAddress)
    /// The lease is gone.
    case released(lease: LeaseID)
    case quarantined(vf: PCIAddress, reason: String, lease: LeaseID?)
    case unquarantined(vf: PCIAddress)
    /// Drift found on a lease's VF (also quarantines the VF).
    case drift(lease: LeaseID, vf: PCIAddress, reason: String)
    /// A change the lease did not make was forced on (or found in) its VFs: the lease is marked
    /// `condition` for good, with the reason. Written before a forced host change runs.
    case marked(lease: LeaseID, condition: LeaseCondition, reason: String)
    /// A leased VF found changed by someone else (after a host event or on the full pass), with what
    /// changed and what sriovd does: written before a restore runs (`LeaseEngineDrift.swift`).
    case vfDrift(DriftRecord)
    /// A PF's VF count changed (through the engine): the journal's own record of it, for the event feed
    /// and for recovery, beside the audit record.
    case numVFsChanged(NumVFsChangeRecord)
    /// A pooled PF's link went down or came back (`refreshPFLinks`), naming the leases on it.
    case pfLink(PFLinkRecord)
    /// A PF is draining: no new leases on it until `pfUndrained` (`LeaseEngine.drainPF`).
    case pfDraining(PFDrainRecord)
    /// A PF is back in service.
    case pfUndrained(PFUndrainRecord)
    /// Who asked for what (every mutating call), for `sriovctl audit`.
    case audit(AuditRecord)
    /// About to give a lease's `/dev/vfio/<group>` to the request's device user/group; `previous` is
    /// what release and recovery put back.
    case vfioGranted(lease: LeaseID, grant: VFIOGrant)

    public var type: String {
        switch self {
        case .reserved: return "lease.reserved"
        case .saved: return "vf.saved"
        case .configuring: return "vf.configuring"
        case .binding: return "vf.binding"
        case .activated: return "lease.activated"
        case .renewed: return "lease.renewed"
        case .releasing: return "lease.releasing"
        case .returned: return "vf.returned"
        case .released: return "lease.released"
        case .quarantined: return "vf.quarantined"
        case .unquarantined: return "vf.unquarantined"
        case .drift: return "lease.drift"
        case .marked: return "lease.marked"
        case .vfDrift: return "vf.drift"
        case .numVFsChanged: return "pf.numvfs"
        case .pfLink: return "pf.link"
        case .pfDraining: return "pf.drain"
        case .pfUndrained: return "pf.undrain"
        case .audit: return "audit"
        case .vfioGranted: return "lease.vfio-grant"
        }
    }
}


/// Why a lease is taken back: the event feed and metrics read this, never the reason's text. Journaled
/// with `lease.releasing` (records written before it existed read as `requested`).
public enum ReleaseCause: String, Sendable, Codable {
    /// A caller released it.
    case requested
    /// The reaper: its TTL passed without a renew.
    case expired
    /// A failed acquire undone.
    case rollback
    /// Restart recovery finishing an interrupted acquire or release.
    case recovery
    /// `pf drain --evict`: the PF's drain deadline passed with the lease still on it.
    case evicted
    /// The reaper: the lease's consumer was gone for the grace period.
    case consumerGone = "consumer-gone"
}

// MARK: Codable payloads (one JSON object per record; the type string says which)

extension LeaseEvent {
    struct VFStep: Codable { var lease: LeaseID; var vf: PCIAddress }
    struct Saved: Codable { var lease: LeaseID; var vf: PCIAddress; var state: VFState; var driver: String? }
    struct Activated: Codable {
        var lease: LeaseID
        var vfio: [String: String]

        init(lease: LeaseID, vfio: [String: String]) {
            self.lease = lease
            self.vfio = vfio
        }

        /// `vfio` through `StringMembers`: the standard library's `[String: String]` decoding (or a
        /// keyed container's `allKeys`) costs a short-lived process ~0.6M instructions of first-use
        /// type lookups, and every `--direct` command replays this record.
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            lease = try c.decode(LeaseID.self, forKey: .lease)
            vfio = try c.decode(StringMembers.self, forKey: .vfio).members
        }
    }
    struct Renewed: Codable { var lease: LeaseID; var expiresAt: Double? }
    struct Releasing: Codable { var cause: ReleaseCause?; var lease: LeaseID; var reason: String }
    struct LeaseOnly: Codable { var lease: LeaseID }
    struct Quarantined: Codable { var vf: PCIAddress; var reason: String; var lease: LeaseID? }
    struct VFOnly: Codable { var vf: PCIAddress }
    struct Drift: Codable { var lease: LeaseID; var vf: PCIAddress; var reason: String }
    struct Marked: Codable { var condition: LeaseCondition; var lease: LeaseID; var reason: String }
    struct Granted: Codable { var grant: VFIOGrant; var lease: LeaseID }

    /// The hand-written reading of the hot record types (the same result as `decode`'s `Codable`
    /// path for what it accepts); nil for a type it does not read.
    static func read(type: String, _ r: JSONReader) throws(JSONReader.Miss) -> LeaseEvent? {
        func lease() throws(JSONReader.Miss) -> LeaseID { try r.parsed("lease") { (t: String) throws(SRIOVError) in try LeaseID(parsing: t) } }
        func vf() throws(JSONReader.Miss) -> PCIAddress { try r.parsed("vf") { (t: String) throws(SRIOVError) in try PCIAddress(parsing: t) } }
        switch type {
        case "lease.reserved": return .reserved(try Lease(reading: r))
        case "vf.saved": return .saved(lease: try lease(), vf: try vf(), state: try VFState(reading: r.member("state")), driver: try r.string(ifPresent: "driver"))
        case "vf.configuring": return .configuring(lease: try lease(), vf: try vf())
        case "vf.binding": return .binding(lease: try lease(), vf: try vf())
        case "vf.returned": return .returned(lease: try lease(), vf: try vf())
        case "lease.activated":
            let id = try lease()
            var map: [PCIAddress: String] = [:]
            for (name, value) in try r.member("vfio").members() {
                let node = try value.string()
                guard let address = PCIAddress(name) else { continue }
                // Two names for one address: which wins depends on the dictionary's order there.
                guard map.updateValue(node, forKey: address) == nil else { throw JSONReader.Miss() }
            }
            return .activated(lease: id, vfioDevices: map)
        case "lease.releasing":
            return .releasing(lease: try lease(), cause: try r.raw(ifPresent: "cause", as: ReleaseCause.self) ?? .requested, reason: try r.string("reason"))
        case "lease.released": return .released(lease: try lease())
        case "audit": return .audit(try AuditRecord(reading: r))
        default: return nil
        }
    }

    /// The payload to journal.
    func payload() -> any Encodable & Sendable {
        switch self {
        case .reserved(let l): return l
        case .saved(let l, let vf, let s, let d): return Saved(lease: l, vf: vf, state: s, driver: d)
        case .configuring(let l, let vf), .binding(let l, let vf), .returned(let l, let vf): return VFStep(lease: l, vf: vf)
        case .activated(let l, let devices):
            return Activated(lease: l, vfio: Dictionary(uniqueKeysWithValues: devices.map { ($0.key.description, $0.value) }))
        case .renewed(let l, let e): return Renewed(lease: l, expiresAt: e)
        case .releasing(let l, let c, let r): return Releasing(cause: c, lease: l, reason: r)
        case .released(let l): return LeaseOnly(lease: l)
        case .quarantined(let vf, let r, let l): return Quarantined(vf: vf, reason: r, lease: l)
        case .unquarantined(let vf): return VFOnly(vf: vf)
        case .drift(let l, let vf, let r): return Drift(lease: l, vf: vf, reason: r)
        case .marked(let l, let c, let r): return Marked(condition: c, lease: l, reason: r)
        case .vfDrift(let record): return record
        case .numVFsChanged(let change): return change
        case .pfLink(let r): return r
        case .pfDraining(let r): return r
        case .pfUndrained(let r): return r
        case .audit(let a): return a
        case .vfioGranted(let l, let g): return Granted(grant: g, lease: l)
        }
    }

    /// Decodes a journal record; unknown types are an error (a newer sriovd wrote them).
    static func decode(type: String, data: [UInt8]) throws(SRIOVError) -> LeaseEvent {
        // The records of a lease's acquire and release are read by hand (`JSONReader`); whatever
        // that reading is not sure of, and every other type, goes through `Codable`, from the same
        // parse. Text that does not parse is refused there, where the record's type is known.
        let parsed = Result { try JSONReader.parsing(data) }
        if case .success(let reader) = parsed, let event = try? read(type: type, reader) { return event }
        return try decodeCodable(type: type, parsed)
    }

    /// `decode` through `Codable` alone: the verdict the hand-written reading must agree with.
    static func decodeCodable(type: String, data: [UInt8]) throws(SRIOVError) -> LeaseEvent {
        try decodeCodable(type: type, Result { try JSONReader.parsing(data) })
    }

    /// An unknown type is refused before the text is looked at; a known one's parse failure or
    /// refusal is `.corrupt`, as `JSONCoding.decode` words it.
    private static func decodeCodable(type: String, _ parsed: Result<JSONReader, any Error>) throws(SRIOVError) -> LeaseEvent {
        func d<T: Decodable>(_ t: T.Type) throws(SRIOVError) -> T {
            do { return try parsed.get().decode(t) } catch {
                throw SRIOVError(.corrupt, "journal record \(type) is not valid: \(error)")
            }
        }
        switch type {
        case "lease.reserved": return .reserved(try d(Lease.self))
        case "vf.saved": let p = try d(Saved.self); return .saved(lease: p.lease, vf: p.vf, state: p.state, driver: p.driver)
        case "vf.configuring": let p = try d(VFStep.self); return .configuring(lease: p.lease, vf: p.vf)
        case "vf.binding": let p = try d(VFStep.self); return .binding(lease: p.lease, vf: p.vf)
        case "lease.activated":
            let p = try d(Activated.self)
            var map: [PCIAddress: String] = [:]
            for (k, v) in p.vfio { if let a = PCIAddress(k) { map[a] = v } }
            return .activated(lease: p.lease, vfioDevices: map)
        case "lease.renewed": let p = try d(Renewed.self); return .renewed(lease: p.lease, expiresAt: p.expiresAt)
        case "lease.releasing": let p = try d(Releasing.self); return .releasing(lease: p.lease, cause: p.cause ?? .requested, reason: p.reason)
        case "vf.returned": let p = try d(VFStep.self); return .returned(lease: p.lease, vf: p.vf)
        case "lease.released": return .released(lease: try d(LeaseOnly.self).lease)
        case "vf.quarantined": let p = try d(Quarantined.self); return .quarantined(vf: p.vf, reason: p.reason, lease: p.lease)
        case "vf.unquarantined": return .unquarantined(vf: try d(VFOnly.self).vf)
        case "lease.drift": let p = try d(Drift.self); return .drift(lease: p.lease, vf: p.vf, reason: p.reason)
        case "lease.marked": let p = try d(Marked.self); return .marked(lease: p.lease, condition: p.condition, reason: p.reason)
        case "vf.drift": return .vfDrift(try d(DriftRecord.self))
        case "pf.numvfs": return .numVFsChanged(try d(NumVFsChangeRecord.self))
        case "pf.link": return .pfLink(try d(PFLinkRecord.self))
        case "pf.drain": return .pfDraining(try d(PFDrainRecord.self))
        case "pf.undrain": return .pfUndrained(try d(PFUndrainRecord.self))
        case "audit": return .audit(try d(AuditRecord.self))
        case "lease.vfio-grant": let p = try d(Granted.self); return .vfioGranted(lease: p.lease, grant: p.grant)
        default:
            throw SRIOVError(.corrupt, "unknown journal record type \(Quote.shell(type)) (written by a newer sriovd?); upgrade, or see every such record with `sriovctl journal verify`")
        }
    }
}
