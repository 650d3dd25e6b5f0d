import Hummingbird
import SRIOVCore
import SRIOVLeasing

/// `GET /v1/audit?since=<RFC 3339 or Unix seconds>`: who asked for what (every mutating call, and
/// refusals of tenants' mutating calls), oldest first; admin only. `since` is inclusive.
enum AuditRoutes {
    static func register(on router: Router<ServiceRequestContext>, slot: EngineSlot) {
        router.get("/v1/audit") { request, context in
            try Authorization.require(.admin, context)
            let (engine, _) = try slot.require()
            let since = try request.uri.queryParameters.get("since").map { text throws(SRIOVError) in try AuditTime.parse(text) }
            return try APIRoutes.json(AuditRecords(records: await engine.auditLog(since: since).map(AuditDocument.init)))
        }
    }
}

/// `GET /v1/audit`'s body.
struct AuditRecords: Encodable, Sendable {
    var records: [AuditDocument]
}
