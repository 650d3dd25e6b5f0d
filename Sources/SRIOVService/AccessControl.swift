import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SRIOVConfig
import SRIOVCore
import SRIOVLeasing

/// What the API knows about access: the tenant policy, the bearer tokens (for TCP), and the per-tenant
/// gate that keeps quota checks exact. One per daemon (per router in tests).
public final class AccessControl: Sendable {
    public let policy: AccessPolicy
    /// nil: no `access.tokens_file`, so a TCP caller cannot authenticate.
    public let tokens: TokenStore?
    /// The caller of a request that arrives on no socket (the in-memory channel of router tests).
    /// nil in the daemon, where every connection is a Unix or TCP socket.
    let unsocketedCaller: Caller?
    /// A caller's gid plus its user's groups (the user database in the daemon).
    let groups: @Sendable (_ uid: UInt32, _ gid: UInt32) -> [UInt32]
    let quotaGate = KeyedGate()

    public init(policy: AccessPolicy, tokens: TokenStore? = nil, unsocketedCaller: Caller? = nil,
                groups: @escaping @Sendable (UInt32, UInt32) -> [UInt32] = UnixAccounts.groups) {
        self.policy = policy
        self.tokens = tokens
        self.unsocketedCaller = unsocketedCaller
        self.groups = groups
    }

    /// The built-in policy (no `access:` section) for a daemon running as `daemonUID`.
    public convenience init(daemonUID: UInt32) {
        self.init(policy: AccessPolicy(access: nil, source: "<built-in>", daemonUID: daemonUID))
    }

    /// Checks that every token a tenant names is in the tokens file, and that TCP has tokens to take.
    /// Returns warnings (tokens in the file that no tenant names).
    public func check(listenTCP: ListenAddress?) throws(SRIOVError) -> [String] {
        let named = policy.tenants.flatMap { tenant in tenant.tokens.map { (tenant, $0) } }
        if let tokens {
            for (tenant, name) in named where !tokens.names.contains(name) {
                throw SRIOVError(.invalidArgument, "\(policy.source): \(tenant.keyPath).tokens: token \(Quote.shell(name)) of tenant \(tenant.name) is not in the tokens file \(tokens.source); add a line `\(name) sha256:<hex>` (printf '%s' \"$TOKEN\" | sha256sum) or remove it from the tenant")
            }
        }
        if let listenTCP {
            guard let tokens, !tokens.entries.isEmpty, !named.isEmpty else {
                let why = tokens == nil ? "access.tokens_file is not set"
                    : tokens?.entries.isEmpty == true ? "the tokens file \(tokens?.source ?? "") has no tokens" : "no tenant names a token (tokens: [...])"
                throw SRIOVError(.invalidArgument, "refusing to serve TCP on \(listenTCP): callers there authenticate only with bearer tokens, and \(why); set access.tokens_file in \(policy.source) to a file of `name sha256:<hex>` lines (mode 600) and list the token names in a tenant's tokens:, or drop listen_tcp / --listen-tcp (Docs/Configuration.md, \"Tokens\")")
            }
        }
        let unused = (tokens?.names ?? []).filter { name in !named.contains { $0.1 == name } }
        return unused.map { "token \($0) in \(tokens?.source ?? "the tokens file") is in no tenant; it authenticates nobody" }
    }

    /// Who is calling on `channel`, from the transport: SO_PEERCRED on a Unix socket, the bearer token
    /// on TCP. Throws `unauthenticated` for a TCP request without a valid token, except for the health
    /// checks, which answer anyone.
    /// `connection`: what the server learnt when the connection was set up (its SO_PEERCRED, and the
    /// caller that maps to, kept for the connection's next requests).
    func caller(channel: any Channel, connection: ConnectionIdentity? = nil, headers: HTTPFields,
                path: String) async throws(SRIOVError) -> Caller? {
        switch channel.localAddress {
        case .unixDomainSocket?:
            if let connection, let peer = connection.peer {
                return connection.caller(self, from: peer)
            }
            guard let peer = await PeerCredentials.of(channel) else {
                throw SRIOVError(.unauthenticated, "cannot read the caller's credentials (SO_PEERCRED) on the Unix socket")
            }
            return caller(of: peer)
        case .v4?, .v6?:
            guard let presented = Self.bearer(headers[.authorization]) else {
                if path == "/healthz" || path == "/readyz" { return nil }
                throw SRIOVError(.unauthenticated, "this TCP address needs a bearer token: send `Authorization: Bearer <token>` (an operator issues tokens in sriovd's tokens file)")
            }
            guard let name = tokens?.name(of: presented) else {
                throw SRIOVError(.unauthenticated, "the bearer token is not valid here (unknown or revoked); ask an operator for a token listed in sriovd's tokens file")
            }
            return policy.caller(token: name)
        default:
            return unsocketedCaller
        }
    }

    /// The caller on the Unix socket with these credentials. The user database is asked only when a
    /// group could decide.
    func caller(of peer: PeerCredentials) -> Caller {
        policy.caller(peer, groups: policy.needsGroups(peer) ? groups(peer.uid, peer.gid) : [peer.gid])
    }

    /// The token of `Bearer <token>` (the scheme is case-insensitive, RFC 9110 section 11.1).
    static func bearer(_ value: String?) -> String? {
        guard let value else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = String(parts[1]).trimmingSpaces
        return token.isEmpty ? nil : token
    }
}

/// The access facts of one request, set by `AccessMiddleware` before any route runs.
public struct RequestAccess: Sendable {
    public let control: AccessControl
    /// nil: no identity (a health check on TCP without a token; a test channel with none configured).
    public let caller: Caller?
}

/// Establishes the caller of every request (see `AccessControl.caller`), and writes refusals of
/// mutating requests by tenants to the audit trail (the engine journals it like every mutating call).
struct AccessMiddleware: RouterMiddleware {
    typealias Context = ServiceRequestContext
    let control: AccessControl
    let slot: EngineSlot

    func identify(_ request: Request, _ context: Context) async -> Result<Caller?, SRIOVError> {
        do throws(SRIOVError) {
            return .success(try await control.caller(channel: context.channel, connection: context.connection, headers: request.headers,
                                                     path: request.uri.path))
        } catch {
            return .failure(error)
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let caller: Caller?
        switch await identify(request, context) {
        case .success(let identified):
            caller = identified
        case .failure(let error) where error.code == .unauthenticated:
            // One answer per connection for a caller sriovd cannot identify: `Connection: close` makes
            // ConnectionGuardHandler close it after the 401, so nobody without a token keeps connections.
            var response = ProblemMapping.response(ProblemMapping.problem(for: error))
            response.headers[.connection] = "close"
            return response
        case .failure(let error):
            throw error
        }
        context.access = RequestAccess(control: control, caller: caller)
        do {
            return try await next(request, context)
        } catch let error as SRIOVError where error.code == .forbidden || error.code == .quotaExceeded {
            let target = "\(request.method) \(request.uri.path)"
            context.logger.notice("refused", metadata: ["caller": "\(caller?.description ?? "unknown")", "request": "\(target)", "code": "\(error.code.rawValue)"])
            // Tenants only: a caller in no tenant could otherwise grow the journal at will.
            if request.method != .get, let caller, caller.tenant != nil, let engine = slot.engine {
                await engine.auditRefusal(who: caller.description, action: AuditRecord.refusedAction, target: target, reason: error.message)
            }
            throw error
        }
    }
}
