import SRIOVLeasing

/// A lease as the API returns it: the lease and its attach specs (sriovctl's `--json` shape).
public struct LeaseDocument: Encodable, Sendable {
    public let lease: Lease

    public init(_ lease: Lease) { self.lease = lease }

    enum Keys: String, CodingKey { case attach }

    public func encode(to encoder: any Encoder) throws {
        try lease.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(AttachSpec.all(lease), forKey: .attach)
    }
}

struct LeaseList: Encodable, Sendable { let leases: [LeaseDocument] }
/// `GET /v1/pools`: the pools and every quarantined VF with its reason (sriovctl's `pool list --json` shape).
struct PoolList: Encodable, Sendable {
    let pools: [LeaseEngine.PoolStatus]
    let quarantine: [String: Quarantine]
}
struct StatusBody: Encodable, Sendable { let status: String }
