import SRIOVCore

/// A pooled PF's link changed (`pf.link` in the journal): what the engine read, and the leases with a
/// VF on the PF then, so a subscriber can fail them over without asking again.
public struct PFLinkRecord: Sendable, Equatable, Codable {
    /// The PF's device: its PCI address (`PFDevice.description`).
    public var pf: String
    public var interface: String?
    /// Carrier as read (nil: unknown, which `require_link: up` treats as down).
    public var carrier: Bool?
    public var operState: String?
    /// Ids of the live leases with a VF on the PF.
    public var leases: [String]

    public init(pf: String, interface: String?, carrier: Bool?, operState: String?, leases: [String]) {
        self.pf = pf
        self.interface = interface
        self.carrier = carrier
        self.operState = operState
        self.leases = leases
    }

    /// Up only with carrier: the `pf.up` event; anything else is `pf.down`.
    public var isUp: Bool { carrier == true }
}

/// A PF put into maintenance (`pf.drain` in the journal): no new leases on it until `pf.undrain`.
public struct PFDrainRecord: Sendable, Equatable, Codable {
    /// The PF's device (`PFDevice.description`): the key of `LeaseBook.draining`.
    public var pf: String
    public var interface: String?
    /// Unix seconds the drain began.
    public var since: Double
    /// Unix seconds by which the leases on it should be gone (nil: the caller gave no deadline).
    public var deadline: Double?
    /// Whether the caller asked to release what is left at the deadline.
    public var evict: Bool
    public var requestedBy: String
    /// Ids of the live leases with a VF on the PF when the drain began (what `pf.draining` names).
    public var leases: [String]

    public init(pf: String, interface: String?, since: Double, deadline: Double?, evict: Bool, requestedBy: String, leases: [String]) {
        self.pf = pf
        self.interface = interface
        self.since = since
        self.deadline = deadline
        self.evict = evict
        self.requestedBy = requestedBy
        self.leases = leases
    }

    /// "0000:3b:00.0 (ens1f0)" for messages and audit targets.
    public var label: String { interface.map { "\(pf) (\($0))" } ?? pf }
}

/// A PF back in service (`pf.undrain` in the journal).
public struct PFUndrainRecord: Sendable, Equatable, Codable {
    public var pf: String
    public var interface: String?
    public var requestedBy: String

    public init(pf: String, interface: String?, requestedBy: String) {
        self.pf = pf
        self.interface = interface
        self.requestedBy = requestedBy
    }
}

extension PFLinkRecord: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) {
        w.object { w in
            w.member("carrier", carrier)
            w.member("interface", interface)
            w.key("leases")
            w.array(leases) { w, id in w.string(id) }
            w.member("operState", operState)
            w.member("pf", pf)
        }
    }
}

extension PFDrainRecord: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) {
        w.object { w in
            w.member("deadline", deadline)
            w.member("evict", evict)
            w.member("interface", interface)
            w.key("leases")
            w.array(leases) { w, id in w.string(id) }
            w.member("pf", pf)
            w.member("requestedBy", requestedBy)
            w.member("since", since)
        }
    }
}
