import SRIOVLeasing

struct LeaseList: Encodable, Sendable { let leases: [LeaseDocument] }
/// `GET /v1/pools`: the pools and every quarantined VF with its reason (sriovctl's `pool list --json` shape).
struct PoolList: Encodable, Sendable {
    let pools: [PoolStatus]
    let quarantine: [String: Quarantine]
}
struct StatusBody: Encodable, Sendable { let status: String }
