import Foundation
import SRIOVAPI
import SRIOVCore

/// sriovd's API v1 as typed calls: the front door over the socket, for `sriovctl`. Problem details
/// come back as the `SRIOVError` the daemon's engine threw (same code, same message), so the CLI prints
/// and exits as it does in-process.
public struct DaemonClient: FrontDoor {
    public let http: UnixHTTPClient
    /// Appended to the "no sriovd is answering" message: what the caller can do instead.
    public let unreachableHint: String
    /// With `keepAlive`: the one connection every call of this client (and of its copies) goes over,
    /// one call at a time. nil: a connection per call (`Connection: close`), as sriovctl's one-shot
    /// commands do.
    public let connection: UnixHTTPConnection?

    /// `keepAlive`: keep one connection open across calls (see `UnixHTTPConnection`), for a caller
    /// that makes many; `close()` it when done.
    public init(socketPath: String, unreachableHint: String = "start sriovd, or point the client at its socket",
                timeoutSeconds: Int = 300, keepAlive: Bool = false) {
        self.http = UnixHTTPClient(socketPath: socketPath, timeoutSeconds: timeoutSeconds)
        self.unreachableHint = unreachableHint
        self.connection = keepAlive ? UnixHTTPConnection(socketPath: socketPath, timeoutSeconds: timeoutSeconds) : nil
    }

    /// Closes the kept-alive connection, if any (a later call opens a new one).
    public func close() {
        connection?.close()
    }

    public func acquire(_ request: LeaseRequest) throws(SRIOVError) -> Lease {
        let body = AcquireBody(request)
        // The request id also as the header: it makes the POST idempotent, so a kept-alive connection
        // the server closed may send it again (the daemon checks that the two agree).
        // Only a well-formed id (the daemon refuses others by the body, with the reason).
        let key = request.requestID.flatMap { rid in
            (1...128).contains(rid.utf8.count) && rid.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) ? [("Idempotency-Key", rid)] : nil
        } ?? []
        return try call("POST", "/v1/leases", headers: key, body: try encode(body), as: Lease.self)
    }

    public func release(_ id: LeaseID) throws(SRIOVError) -> Released {
        try call("DELETE", "/v1/leases/\(id)", as: ReleasedBody.self).released
    }

    /// The lease document with `quarantined` beside its members (absent from an older sriovd's answer).
    struct ReleasedBody: Decodable {
        var released: Released

        enum Keys: String, CodingKey { case quarantined }

        init(from decoder: any Decoder) throws {
            let lease = try Lease(from: decoder)
            let c = try decoder.container(keyedBy: Keys.self)
            let quarantined = try c.decodeIfPresent(JSONMembers<Quarantine>.self, forKey: .quarantined)
            released = Released(lease: lease, quarantined: quarantined?.members)
        }
    }

    public func renew(_ id: LeaseID, ttlSeconds: Int?) throws(SRIOVError) -> Lease {
        let body: [UInt8]? = ttlSeconds == nil ? nil : try encode(RenewBody(ttlSeconds: ttlSeconds))
        return try call("POST", "/v1/leases/\(id)/renew", body: body, as: Lease.self)
    }

    public func leases(owner: String?) throws(SRIOVError) -> [Lease] {
        struct List: Decodable { var leases: [Lease] }
        let query = owner.map { "?owner=" + DaemonClient.percentEncoded($0) } ?? ""
        return try call("GET", "/v1/leases" + query, as: List.self).leases
    }

    public func lease(_ id: LeaseID) throws(SRIOVError) -> Lease {
        try call("GET", "/v1/leases/\(id)", as: Lease.self)
    }

    /// `GET /v1/leases/{id}/stats`.
    public func leaseStats(_ id: LeaseID) throws(SRIOVError) -> LeaseStats {
        try call("GET", "/v1/leases/\(id)/stats", as: LeaseStats.self)
    }

    public func pools() throws(SRIOVError) -> Pools {
        try call("GET", "/v1/pools", as: Pools.self)
    }

    /// `GET /v1/audit`: who asked for what, oldest first (admin callers only).
    public func audit(since: Double?) throws(SRIOVError) -> [AuditDocument] {
        struct Records: Decodable { var records: [AuditDocument] }
        let query = since.map { "?since=" + DaemonClient.percentEncoded("\($0)") } ?? ""
        return try call("GET", "/v1/audit" + query, as: Records.self).records
    }

    /// `PUT /v1/pfs/{pf}/numvfs`.
    public func setNumVFs(pf: String, _ body: NumVFsBody) throws(SRIOVError) -> NumVFsResult {
        try call("PUT", "/v1/pfs/\(DaemonClient.percentEncoded(pf))/numvfs", body: try encode(body), as: NumVFsResult.self)
    }

    /// `PATCH /v1/pfs/{pf}/vfs/{n}`.
    public func setVF(pf: String, index: Int, _ body: VFSettingsBody) throws(SRIOVError) -> PFStatus.VFInfo {
        try call("PATCH", "/v1/pfs/\(DaemonClient.percentEncoded(pf))/vfs/\(index)", body: try encode(body), as: PFStatus.VFInfo.self)
    }

    /// `POST /v1/pfs/{pf}/drain`: the answer comes when the PF is drained or the deadline has passed, so
    /// this one call waits up to the deadline plus a minute for it (on its own connection).
    public func drainPF(_ pf: String, _ body: PFDrainBody) throws(SRIOVError) -> PFDrainStatus {
        let wait = (body.deadlineSeconds ?? PFDrainBody.defaultDeadlineSeconds) + 60
        let patient = DaemonClient(socketPath: http.socketPath, unreachableHint: unreachableHint,
                                   timeoutSeconds: max(http.timeoutSeconds, wait))
        return try patient.call("POST", "/v1/pfs/\(DaemonClient.percentEncoded(pf))/drain", body: try encode(body), as: PFDrainStatus.self)
    }

    /// `POST /v1/pfs/{pf}/undrain`.
    public func undrainPF(_ pf: String) throws(SRIOVError) -> PFDrainStatus {
        try call("POST", "/v1/pfs/\(DaemonClient.percentEncoded(pf))/undrain", as: PFDrainStatus.self)
    }

    /// `POST /v1/vfs/{pci}/unquarantine`.
    public func unquarantine(_ vf: PCIAddress) throws(SRIOVError) -> Unquarantined {
        try call("POST", "/v1/vfs/\(vf)/unquarantine", as: Unquarantined.self)
    }

    /// `GET /v1/check`.
    public func check() throws(SRIOVError) -> CheckReport {
        try call("GET", "/v1/check", as: CheckReport.self)
    }

    /// `GET /v1/inventory`.
    public func inventory() throws(SRIOVError) -> HostInventory {
        try call("GET", "/v1/inventory", as: HostInventory.self)
    }

    /// `GET /v1/doctor`.
    public func doctor() throws(SRIOVError) -> [DoctorCheck] {
        struct Report: Decodable { var checks: [DoctorCheck] }
        return try call("GET", "/v1/doctor", as: Report.self).checks
    }

    // MARK: Plumbing

    /// One exchange; a 2xx body decoded as `T`, anything else as the error it stands for.
    func call<T: Decodable>(_ method: String, _ target: String, headers extra: [(String, String)] = [], body: [UInt8]? = nil,
                            as type: T.Type) throws(SRIOVError) -> T {
        let response: UnixHTTPClient.Response
        do {
            let headers: [(String, String)] = (body == nil ? [] : [("Content-Type", "application/json")]) + extra
            if let connection {
                response = try connection.send(method, target, headers: headers, body: body)
            } else {
                response = try http.send(method, target, headers: headers, body: body)
            }
        } catch let error as SRIOVError {
            throw error
        } catch let error as ConnectError {
            throw unreachable(error)
        } catch {
            throw SRIOVError(.io, "talking to sriovd on \(http.socketPath) failed: \(error)")
        }
        guard (200..<300).contains(response.status) else { throw DaemonClient.error(from: response) }
        do {
            return try CompactJSONDecoder().decode(T.self, from: response.body)
        } catch {
            throw SRIOVError(.io, "sriovd on \(http.socketPath) answered \(method) \(target) with a body this sriovctl cannot read (\(error)); are sriovctl and sriovd the same version?")
        }
    }

    func unreachable(_ error: ConnectError) -> SRIOVError {
        let why: String
        switch error.failure {
        case .missing:
            why = "no sriovd is answering on \(error.socketPath): the socket does not exist (ENOENT)"
        case .refused:
            why = "no sriovd is answering on \(error.socketPath): nothing listens on the socket (ECONNREFUSED: sriovd stopped or crashed)"
        case .denied:
            return SRIOVError(.permissionDenied, "cannot connect to sriovd on \(error.socketPath) (\(Errno.name(error.errno))): the socket is mode 0660; run as root or as a member of its group", cause: .errno(error.errno))
        }
        return SRIOVError(.unsupported, "\(why); \(unreachableHint)", cause: .errno(error.errno))
    }

    /// An RFC 9457 problem (its `code` is `SRIOVError.Code`'s raw value) as that error; a body that is
    /// not a problem is described by its status.
    public static func error(from response: UnixHTTPClient.Response) -> SRIOVError {
        struct ProblemBody: Decodable {
            var status: Int?
            var detail: String?
            var code: String?
        }
        let problem = try? CompactJSONDecoder().decode(ProblemBody.self, from: response.body)
        let fallback: SRIOVError.Code = switch response.status {
        case 400, 405, 413, 422: .invalidArgument
        case 401, 403: .permissionDenied
        case 404: .notFound
        case 409, 503: .busy
        case 501: .unsupported
        case 504: .timeout
        default: .io
        }
        let code = problem?.code.flatMap(SRIOVError.Code.init(rawValue:)) ?? fallback
        guard let detail = problem?.detail, !detail.isEmpty else {
            let text = String(decoding: response.body.prefix(200), as: UTF8.self)
            return SRIOVError(code, "sriovd answered HTTP \(response.status)" + (text.isEmpty ? "" : ": \(text)"))
        }
        if problem?.code == "internal" {
            return SRIOVError(code, "sriovd failed unexpectedly: \(detail) (see its log: `journalctl -u sriovd`)")
        }
        return SRIOVError(code, detail)
    }

    func encode<T: Encodable>(_ value: T) throws(SRIOVError) -> [UInt8] {
        do { return try CompactJSONEncoder().encode(value) } catch {
            throw SRIOVError(.invalidArgument, "cannot encode the request: \(error)")
        }
    }

    /// RFC 3986 unreserved characters stay, everything else is %XX (a query value).
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case 0x30...0x39, 0x41...0x5a, 0x61...0x7a, 0x2d, 0x2e, 0x5f, 0x7e: out.append(Character(UnicodeScalar(byte)))
            default: out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out
    }
}
