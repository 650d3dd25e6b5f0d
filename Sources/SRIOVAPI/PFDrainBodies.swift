import SRIOVCore

/// The body of `POST /v1/pfs/{pf}/drain`: `sriovctl pf drain`'s options. Unknown keys are refused.
public struct PFDrainBody: Codable, Sendable, Equatable {
    /// How long to wait for the leases on the PF to be released (default 600 s, 0 to 86400).
    public var deadlineSeconds: Int?
    /// At the deadline, release the leases still on the PF (audited, cause `evicted`) instead of refusing.
    public var evict: Bool?

    public static let defaultDeadlineSeconds = 600
    public static let deadlineRange = 0...86_400

    enum CodingKeys: String, CodingKey, CaseIterable { case deadlineSeconds, evict }

    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, allowed: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        deadlineSeconds = try c.decodeIntegerIfPresent(Int.self, forKey: .deadlineSeconds, in: PFDrainBody.deadlineRange,
                                                       hint: "seconds to wait for the leases on the PF, 0 to 86400")
        evict = try c.decodeIfPresent(Bool.self, forKey: .evict)
    }

    public init(deadlineSeconds: Int?, evict: Bool?) {
        self.deadlineSeconds = deadlineSeconds
        self.evict = evict
    }

    /// `deadlineSeconds` checked, or the default 10 minutes.
    public func deadline() throws(SRIOVError) -> Duration {
        guard let deadlineSeconds else { return .seconds(PFDrainBody.defaultDeadlineSeconds) }
        guard PFDrainBody.deadlineRange.contains(deadlineSeconds) else {
            throw SRIOVError(.invalidArgument, "invalid deadlineSeconds \(deadlineSeconds): use whole seconds from 0 to 86400")
        }
        return .seconds(deadlineSeconds)
    }
}

/// A PF's maintenance state: what `pf drain` and `pf undrain` answer.
public struct PFDrainStatus: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        /// Draining and no lease is left on it: PF-level changes (`pf set-numvfs`) need no --force.
        case drained
        /// Back in service: new leases may use its VFs.
        case inService = "in-service"
    }

    /// The PF's device (PCI address, or netdevsim device).
    public var pf: String
    public var interface: String?
    public var state: State
    /// Unix seconds the drain began (absent once in service).
    public var since: Double?
    /// Leases released at the deadline (`evict`).
    public var evicted: [String]

    public init(pf: String, interface: String?, state: State, since: Double?, evicted: [String] = []) {
        self.pf = pf
        self.interface = interface
        self.state = state
        self.since = since
        self.evicted = evicted
    }

    /// "0000:3b:00.0 (ens1f0)".
    public var label: String { interface.map { "\(pf) (\($0))" } ?? pf }
}
