import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SRIOVCore
import SRIOVLeasing

/// sriovd's HTTP API v1 (Docs/openapi.yaml describes every route registered here).
public enum APIRoutes {
    /// The router, every error leaving it as problem details.
    public static func router(slot: EngineSlot) -> Router<ServiceRequestContext> {
        let router = Router(context: ServiceRequestContext.self)
        router.add(middleware: ProblemMiddleware())
        router.get("/healthz") { _, _ in try json(StatusBody(status: "ok")) }
        router.get("/readyz") { _, _ in
            guard slot.phase == .ready else {
                throw ServiceUnavailable(detail: "sriovd is \(slot.phase.rawValue), not ready (journal replay and reconcile run before it serves)")
            }
            return try json(StatusBody(status: "ready"))
        }
        router.get("/v1/inventory") { _, _ in
            let (_, host) = try slot.require()
            return try json(try host.source.inventory())
        }
        router.get("/v1/pools") { _, _ in
            let (engine, _) = try slot.require()
            return try json(PoolList(pools: try await engine.pools()))
        }
        router.get("/v1/leases") { request, _ in
            let (engine, _) = try slot.require()
            let owner = request.uri.queryParameters.get("owner")
            return try json(LeaseList(leases: await engine.leases(owner: owner).map(LeaseDocument.init)))
        }
        router.post("/v1/leases") { request, context in
            let (engine, _) = try slot.require()
            guard let body = try await decodeBody(AcquireBody.self, request, context) else {
                throw SRIOVError(.invalidArgument, "empty body: send a JSON object with at least pool and owner")
            }
            let leaseRequest = try body.request(idempotencyKey: request.headers[.idempotencyKey])
            var replay = false
            if let rid = leaseRequest.requestID { replay = await engine.currentBook.requestIndex[rid] != nil }
            let lease = try await engine.acquire(leaseRequest, requestedBy: await context.caller())
            var response = try json(LeaseDocument(lease), status: replay ? .ok : .created)
            response.headers[.location] = "/v1/leases/\(lease.id)"
            return response
        }
        router.get("/v1/leases/{id}") { _, context in
            let (engine, _) = try slot.require()
            return try json(LeaseDocument(try await engine.lease(leaseID(context))))
        }
        router.delete("/v1/leases/{id}") { _, context in
            let (engine, _) = try slot.require()
            let lease = try await engine.release(try leaseID(context), requestedBy: await context.caller())
            return try json(LeaseDocument(lease))
        }
        router.post("/v1/leases/{id}/renew") { request, context in
            let (engine, _) = try slot.require()
            let body = try await decodeBody(RenewBody.self, request, context)
            let lease = try await engine.renew(try leaseID(context), ttlSeconds: body?.ttlSeconds, requestedBy: await context.caller())
            return try json(LeaseDocument(lease))
        }
        router.get("/v1/leases/{id}/attach") { request, context in
            let (engine, _) = try slot.require()
            guard let text = request.uri.queryParameters.get("format") else {
                throw SRIOVError(.invalidArgument, "missing ?format=: use one of \(AttachFormat.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let format = try AttachFormat(parsing: text)
            let lease = try await engine.lease(leaseID(context))
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: AttachSpec.render(lease, format: format) + "\n")))
        }
        return router
    }

    static func leaseID(_ context: ServiceRequestContext) throws(SRIOVError) -> LeaseID {
        guard let text = context.parameters.get("id") else {
            throw SRIOVError(.invalidArgument, "missing lease id in the path")
        }
        return try LeaseID(parsing: text)
    }

    /// The body as `T`, nil when empty; a decoding error keeps its field path for the problem's detail.
    static func decodeBody<T: Decodable>(_ type: T.Type, _ request: Request, _ context: ServiceRequestContext) async throws -> T? {
        var request = request
        let bytes = try await request.collectBody(upTo: context.maxUploadSize)
        guard bytes.readableBytes > 0 else { return nil }
        return try JSONDecoder().decode(T.self, from: Data(bytes.readableBytesView))
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension HTTPField.Name {
    /// The request id of `POST /v1/leases` (draft-ietf-httpapi-idempotency-key-header).
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
}
