import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SRIOVCore
import SRIOVLeasing

/// sriovd's HTTP API v1 (Docs/openapi.yaml describes every route registered here).
public enum APIRoutes {
    /// The router, every error leaving it as problem details. `access` says who callers are and what
    /// they may do (Authorization.swift); the default is the built-in policy of a daemon run by root.
    public static func router(slot: EngineSlot, metrics: ServiceMetrics = ServiceMetrics(),
                              access: AccessControl = AccessControl(daemonUID: 0)) -> Router<ServiceRequestContext> {
        let router = Router(context: ServiceRequestContext.self)
        router.add(middleware: ProblemMiddleware())
        router.add(middleware: AccessMiddleware(control: access, slot: slot))
        router.get("/healthz") { _, _ in try json(StatusBody(status: "ok")) }
        router.get("/readyz") { _, _ in
            if let reason = slot.notReadyReason { throw ServiceUnavailable(detail: reason) }
            return try json(StatusBody(status: "ready"))
        }
        router.get("/v1/inventory") { _, context in
            try Authorization.require(.tenant, context)
            let (_, host) = try slot.require()
            return try json(try host.source.inventory())
        }
        router.get("/v1/pools") { _, context in
            let caller = try Authorization.require(.tenant, context)
            let (engine, _) = try slot.require()
            // A tenant sees its own pools; an admin every pool.
            let pools = try await engine.pools().filter { caller.isAdmin || caller.tenant?.pools.contains($0.name) == true }
            return try json(PoolList(pools: pools, quarantine: await engine.currentBook.quarantine))
        }
        router.get("/v1/leases") { request, context in
            let caller = try Authorization.require(.tenant, context)
            let (engine, _) = try slot.require()
            let owner = request.uri.queryParameters.get("owner")
            // A tenant sees the leases it acquired; an admin every lease.
            let leases = await engine.leases(owner: owner).filter { caller.isAdmin || caller.owns($0) }
            return leaseJSON(LeaseDocumentJSON.list(leases))
        }
        router.post("/v1/leases") { request, context in
            let (engine, _) = try slot.require()
            guard let body = try await decodeBody(AcquireBody.self, request, context) else {
                throw SRIOVError(.invalidArgument, "empty body: send a JSON object with at least pool and owner")
            }
            let leaseRequest = try body.request(idempotencyKey: request.headers[.idempotencyKey])
            var replay = false
            if let rid = leaseRequest.requestID { replay = await engine.currentBook.requestIndex[rid] != nil }
            let lease = try await metrics.measure(.acquire) { try await Authorization.acquire(leaseRequest, engine: engine, context) }
            var response = leaseJSON(LeaseDocumentJSON.document(lease), status: replay ? .ok : .created)
            response.headers[.location] = "/v1/leases/\(lease.id)"
            return response
        }
        router.get("/v1/leases/{id}") { _, context in
            let (engine, _) = try slot.require()
            let (lease, _) = try await ownLease(engine, context, action: "show")
            return leaseJSON(LeaseDocumentJSON.document(lease))
        }
        router.delete("/v1/leases/{id}") { _, context in
            let (engine, _) = try slot.require()
            let (owned, caller) = try await ownLease(engine, context, action: "release")
            let lease = try await metrics.measure(.release) { try await engine.release(owned.id, requestedBy: caller.description) }
            return leaseJSON(LeaseDocumentJSON.released(lease, quarantined: await engine.quarantine(heldBy: owned.id)))
        }
        router.post("/v1/leases/{id}/renew") { request, context in
            let (engine, _) = try slot.require()
            let body = try await decodeBody(RenewBody.self, request, context)
            let (owned, caller) = try await ownLease(engine, context, action: "renew")
            let lease = try await metrics.measure(.renew) {
                try await engine.renew(owned.id, ttlSeconds: body?.ttlSeconds, requestedBy: caller.description)
            }
            return leaseJSON(LeaseDocumentJSON.document(lease))
        }
        router.get("/v1/leases/{id}/stats") { _, context in
            let (engine, _) = try slot.require()
            let (lease, _) = try await ownLease(engine, context, action: "show")
            return try json(await engine.stats(of: lease))
        }
        router.get("/v1/leases/{id}/attach") { request, context in
            let (engine, _) = try slot.require()
            guard let text = request.uri.queryParameters.get("format") else {
                throw SRIOVError(.invalidArgument, "missing ?format=: use one of \(AttachFormat.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let format = try AttachFormat(parsing: text)
            let firstIndex = try hostpciIndex(request, format: format)
            let (lease, _) = try await ownLease(engine, context, action: "show")
            let placement = try (format == .proxmox ? firstIndex : nil).map { n throws(SRIOVError) in
                // The index is valid (0-15); only this lease's size can make it not fit: a conflict with
                // the lease (409), not a bad request.
                do throws(SRIOVError) { return try ProxmoxPlacement.choose(count: lease.vfs.count, vm: nil, firstIndex: n) } catch {
                    throw SRIOVError(.busy, "lease \(lease.id) has \(lease.vfs.count) VFs: from hostpci\(n) they would go past hostpci\(ProxmoxPlacement.slots - 1); use a lower hostpci_index")
                }
            }
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: AttachSpec.render(lease, format: format, proxmox: placement) + "\n")))
        }
        PFRoutes.register(on: router, slot: slot)
        EventRoutes.register(on: router, slot: slot)
        MetricsRoutes.register(on: router, slot: slot, metrics: metrics)
        AuditRoutes.register(on: router, slot: slot)
        // Last: it wraps only the not-found responder, so a known path with another method is 405.
        router.add(middleware: MethodNotAllowedMiddleware(router.routes))
        return router
    }

    /// `?hostpci_index=<n>` of the attach route, 0 to 15: it numbers Proxmox lines, and the other formats
    /// have nothing to number, so they ignore it (a valid request is not refused for it).
    static func hostpciIndex(_ request: Request, format: AttachFormat) throws(SRIOVError) -> Int? {
        guard let text = request.uri.queryParameters.get("hostpci_index") else { return nil }
        guard let n = Int(text), (0..<ProxmoxPlacement.slots).contains(n) else {
            throw SRIOVError(.invalidArgument, "invalid hostpci_index \(Quote.shell(text)): Proxmox numbers hostpci entries 0 to \(ProxmoxPlacement.slots - 1)")
        }
        return n
    }

    /// The lease of the path, when the caller's tenant acquired it (or the caller is an admin). The
    /// tenant is checked before the lease is looked up, so a caller in no tenant learns nothing.
    static func ownLease(_ engine: LeaseEngine, _ context: ServiceRequestContext, action: String) async throws(SRIOVError) -> (Lease, Caller) {
        try Authorization.require(.tenant, context)
        let lease = try await engine.lease(leaseID(context))
        return (lease, try Authorization.require(.lease(lease, action: action), context))
    }

    static func leaseID(_ context: ServiceRequestContext) throws(SRIOVError) -> LeaseID {
        guard let text = pathParameter("id", context) else {
            throw SRIOVError(.invalidArgument, "missing lease id in the path")
        }
        return try LeaseID(parsing: text)
    }

    /// A path parameter percent-decoded, as RFC 3986 makes `0000%3A3b%3A02.0` the same path segment as
    /// `0000:3b:02.0` (Hummingbird hands it over as sent); as sent when its escapes are not valid UTF-8.
    static func pathParameter(_ name: String, _ context: ServiceRequestContext) -> String? {
        guard let text = context.parameters.get(name) else { return nil }
        return text.contains("%") ? text.removingPercentEncoding ?? text : text
    }

    /// The body as `T`, nil when empty; a decoding error keeps its field path for the problem's detail.
    static func decodeBody<T: Decodable>(_ type: T.Type, _ request: Request, _ context: ServiceRequestContext) async throws -> T? {
        var request = request
        let bytes: ByteBuffer
        do {
            bytes = try await request.collectBody(upTo: context.maxUploadSize)
        } catch is NIOTooManyBytesError {
            throw ContentTooLarge(limit: context.maxUploadSize)
        }
        guard bytes.readableBytes > 0 else { return nil }
        // CompactJSONDecoder: Foundation's JSONDecoder was ~3% of sriovd's CPU under daemon-load (its
        // value tree, and a dynamic cast per value); this one checks RFC 8259 as strictly (stricter: no
        // trailing comma) and fails with the same DecodingErrors, which Problem.swift words.
        return try CompactJSONDecoder().decode(T.self, from: Array(bytes.readableBytesView))
    }

    /// A lease document written by `LeaseDocumentJSON` (what `json(LeaseDocument(...))` says, slashes unescaped).
    static func leaseJSON(_ bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
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
