import SRIOVConfig
import SRIOVCore
import SRIOVLeasing

/// Who a request comes from, as the transport established it (SO_PEERCRED on the Unix socket, a
/// bearer token on TCP), never as the body claims; and the tenant that identity maps to.
public struct Caller: Sendable, Equatable, CustomStringConvertible {
    public enum Identity: Sendable, Equatable {
        case unix(PeerCredentials)
        case token(name: String)
    }

    public var identity: Identity
    /// nil: a known identity that is in no tenant (refused everything but the health checks).
    public var tenant: TenantConfig?
    /// The group through which the tenant matched, when it was not the uid.
    public var matchedGID: UInt32?

    public init(identity: Identity, tenant: TenantConfig?, matchedGID: UInt32? = nil) {
        self.identity = identity
        self.tenant = tenant
        self.matchedGID = matchedGID
    }

    /// `uid 1000`, `uid 1000 via gid 2000`, `token orch-1`.
    public var identityDescription: String {
        switch identity {
        case .unix(let peer): return matchedGID.map { "uid \(peer.uid) via gid \($0)" } ?? "uid \(peer.uid)"
        case .token(let name): return "token \(name)"
        }
    }

    /// The audit trail's `who` and a lease's `requestedBy`: `tenant nfv (uid 1000)`,
    /// `tenant orch (token orch-1)`, or `uid 1001 (no tenant)`.
    public var description: String {
        tenant.map { "tenant \($0.name) (\(identityDescription))" } ?? "\(identityDescription) (no tenant)"
    }

    public var isAdmin: Bool { tenant?.has(.admin) ?? false }

    /// The tenant that acquired a lease, read back from its `requestedBy` (`tenant <name> (...)`); nil
    /// for a lease made outside any tenant (sriovctl in-process, or before tenants existed).
    public static func tenantName(ofRequester requestedBy: String?) -> String? {
        guard let text = requestedBy, text.hasPrefix("tenant ") else { return nil }
        let rest = text.dropFirst("tenant ".count)
        guard let space = rest.firstIndex(of: " "), rest[space...].hasPrefix(" (") else { return nil }
        return String(rest[..<space])
    }

    /// Whether `lease` was acquired by this caller's tenant.
    public func owns(_ lease: Lease) -> Bool {
        guard let tenant else { return false }
        return Caller.tenantName(ofRequester: lease.requestedBy) == tenant.name
    }
}

/// Maps identities to tenants: the `access:` section, or the built-in policy when there is none.
///
/// Order: a tenant listing the uid; then the built-in `local-admin` tenant (uid 0 always, unless a
/// tenant lists uid 0; and, without an `access:` section, the uid sriovd runs as); then the tenant
/// listing the caller's gid (SO_PEERCRED), then one listing another group of its user, lowest gid first.
public struct AccessPolicy: Sendable, Equatable {
    public static let localAdminName = "local-admin"

    public var tenants: [TenantConfig]
    /// False when the configuration has no `access:` section.
    public var configured: Bool
    /// The configuration's file, for messages that say what to edit.
    public var source: String
    /// Admin with every pool and right: root, and (without `access:`) the daemon's own user.
    public var localAdmin: TenantConfig

    public init(access: AccessConfig?, source: String, daemonUID: UInt32) {
        tenants = access?.tenants ?? []
        configured = access != nil
        self.source = source
        var uids: [UInt32] = []
        if !tenants.contains(where: { $0.uids.contains(0) }) { uids.append(0) }
        if access == nil && daemonUID != 0 { uids.append(daemonUID) }
        localAdmin = TenantConfig(name: AccessPolicy.localAdminName, uids: uids, pools: .all, rights: Set(TenantRight.allCases),
                                  keyPath: "(built in)")
    }

    public init(config: SRIOVConfig, daemonUID: UInt32) {
        self.init(access: config.access, source: config.source, daemonUID: daemonUID)
    }

    /// The caller on the Unix socket; `groups` are its gid and its user's groups (`UnixAccounts.groups`).
    public func caller(_ peer: PeerCredentials, groups: [UInt32]) -> Caller {
        if let tenant = tenants.first(where: { $0.uids.contains(peer.uid) }) {
            return Caller(identity: .unix(peer), tenant: tenant)
        }
        if localAdmin.uids.contains(peer.uid) {
            return Caller(identity: .unix(peer), tenant: localAdmin)
        }
        // A gid is in one tenant at most (the config refuses more), so the order of the groups decides.
        for gid in [peer.gid] + groups.filter({ $0 != peer.gid }).sorted() {
            if let tenant = tenants.first(where: { $0.gids.contains(gid) }) {
                return Caller(identity: .unix(peer), tenant: tenant, matchedGID: gid)
            }
        }
        return Caller(identity: .unix(peer), tenant: nil)
    }

    /// Whether the caller's groups matter: some tenant lists gids and none lists the caller's uid.
    public func needsGroups(_ peer: PeerCredentials) -> Bool {
        tenants.contains { !$0.gids.isEmpty } && !localAdmin.uids.contains(peer.uid) && !tenants.contains { $0.uids.contains(peer.uid) }
    }

    /// The caller on TCP, by the name of the token it presented (already verified).
    public func caller(token name: String) -> Caller {
        Caller(identity: .token(name: name), tenant: tenants.first { $0.tokens.contains(name) })
    }

    /// `in /etc/sriovd/sriovd.yaml`, or how to get a file when the daemon runs on a built-in one.
    var whereToEdit: String {
        source.hasPrefix("<") ? "in a configuration file (pass it with --config; the built-in one has no access: section)" : "in \(source)"
    }

    /// Why a caller with no tenant is refused, and how an operator lets it in.
    public func refusal(for caller: Caller) -> String {
        switch caller.identity {
        case .unix(let peer):
            if !configured {
                let uids = localAdmin.uids.map { "uid \($0)" }.joined(separator: " and ")
                return "uid \(peer.uid) may not use sriovd: there is no access: section, so only root and the user sriovd runs as (\(uids)) may; add a tenant to an access: section \(whereToEdit), e.g. `access: {tenants: [{name: ops, uids: [\(peer.uid)], pools: [\"*\"]}]}`, and restart sriovd (Docs/Configuration.md, \"access\")"
            }
            return "uid \(peer.uid) (gid \(peer.gid)) is in no tenant of the access: section \(whereToEdit); add the uid to a tenant's uids: (or one of its groups to gids:) and restart sriovd"
        case .token(let name):
            return "token \(name) is in the tokens file but in no tenant; add it to a tenant's tokens: \(whereToEdit) and restart sriovd"
        }
    }
}

/// The checks every route makes before it acts. A refusal changes nothing: it is thrown before the
/// engine is called.
public enum Authorization {
    public enum Requirement: Sendable {
        /// Any caller that is in a tenant (reads: inventory, pools, the caller's own leases).
        case tenant
        /// A tenant with the admin right (PF-level changes, unquarantine, journal, audit).
        case admin
        /// The tenant that acquired the lease, or an admin; `action` is what is asked ("release").
        case lease(Lease, action: String)
    }

    /// The caller when it meets `requirement`; else `unauthenticated` (no identity) or `forbidden`.
    @discardableResult
    public static func require(_ requirement: Requirement, _ context: ServiceRequestContext) throws(SRIOVError) -> Caller {
        guard let access = context.access, let caller = access.caller else {
            throw SRIOVError(.unauthenticated, "cannot tell who is calling: send the request on sriovd's Unix socket, or on its TCP address with `Authorization: Bearer <token>`")
        }
        guard let tenant = caller.tenant else {
            throw SRIOVError(.forbidden, access.control.policy.refusal(for: caller))
        }
        switch requirement {
        case .tenant:
            break
        case .admin:
            guard tenant.has(.admin) else {
                throw SRIOVError(.forbidden, "tenant \(tenant.name) (\(caller.identityDescription)) may not do this: it needs the admin right; an admin can add admin to rights: of \(tenant.keyPath) \(access.control.policy.whereToEdit)")
            }
        case .lease(let lease, let action):
            guard tenant.has(.admin) || caller.owns(lease) else {
                let by = Caller.tenantName(ofRequester: lease.requestedBy).map { _ in "another tenant" }
                    ?? "no tenant (\(lease.requestedBy ?? "unknown"))"
                throw SRIOVError(.forbidden, "tenant \(tenant.name) may not \(action) lease \(lease.id): it was acquired by \(by); a tenant may \(action) only its own leases (an admin may \(action) any)")
            }
        }
        return caller
    }

    /// Acquires for the caller: its tenant must have the pool and the rights the request's settings
    /// need, and stay within its quota. Nothing is leased on a refusal. Requests of one tenant with a
    /// quota are checked and acquired one at a time, so two concurrent requests cannot both pass the
    /// last free slot of its quota.
    public static func acquire(_ request: LeaseRequest, engine: LeaseEngine, _ context: ServiceRequestContext) async throws(SRIOVError) -> Lease {
        let caller = try require(.tenant, context)
        guard let tenant = caller.tenant, let control = context.access?.control else {
            // require(.tenant) has checked both.
            throw SRIOVError(.unauthenticated, "cannot tell who is calling or which tenant it is in")
        }
        let edit = control.policy.whereToEdit
        if let rid = request.requestID, let existing = await engine.currentBook.requestIndex[rid] {
            // A retry returns the lease the request id made; only to the tenant that made it.
            if let lease = try? await engine.lease(existing), !caller.owns(lease) && !tenant.has(.admin) {
                throw SRIOVError(.forbidden, "request id \(Quote.shell(rid)) belongs to a lease of another tenant; use a new request id")
            }
        }
        guard tenant.pools.contains(request.pool) else {
            throw SRIOVError(.forbidden, "tenant \(tenant.name) may not lease from pool \(request.pool): its pools are \(tenant.pools.description); nothing was leased. An admin can add \(request.pool) to pools: of \(tenant.keyPath) \(edit)")
        }
        var needed: [(right: TenantRight, what: String)] = []
        if request.settings.trust == true { needed.append((.trust, "request trust on")) }
        if request.settings.spoofCheck == false { needed.append((.spoofchkOff, "request spoof checking off")) }
        if request.settings.mac != nil { needed.append((.mac, "set a MAC")) }
        for (right, what) in needed where !tenant.has(right) {
            throw SRIOVError(.forbidden, "tenant \(tenant.name) may not \(what): it lacks the right \(right.rawValue); nothing was leased. An admin can add \(right.rawValue) to rights: of \(tenant.keyPath) \(edit)")
        }
        guard tenant.maxLeases != nil || tenant.maxVFs != nil else {
            return try await engine.acquire(request, requestedBy: caller.description)
        }
        await control.quotaGate.enter(tenant.name)
        do throws(SRIOVError) {
            let held = await engine.leases().filter { caller.owns($0) }
            let replay = request.requestID.map { rid in held.contains { $0.request.requestID == rid } } ?? false
            if !replay {
                let vfs = held.reduce(0) { $0 + $1.vfs.count }
                if let max = tenant.maxLeases, held.count + 1 > max {
                    throw SRIOVError(.quotaExceeded, "tenant \(tenant.name) holds \(held.count) lease\(held.count == 1 ? "" : "s"), its max_leases is \(max); nothing was leased. Release a lease first, or an admin raises max_leases of \(tenant.keyPath) \(edit)")
                }
                if let max = tenant.maxVFs, vfs + request.count > max {
                    throw SRIOVError(.quotaExceeded, "tenant \(tenant.name) holds \(vfs) VF\(vfs == 1 ? "" : "s") and asks for \(request.count) more, its max_vfs is \(max); nothing was leased. Release VFs first, or an admin raises max_vfs of \(tenant.keyPath) \(edit)")
                }
            }
            let lease = try await engine.acquire(request, requestedBy: caller.description)
            await control.quotaGate.leave(tenant.name)
            return lease
        } catch {
            await control.quotaGate.leave(tenant.name)
            throw error
        }
    }
}

/// One async lock per key, handed over in arrival order (an actor alone would interleave at awaits).
actor KeyedGate {
    private var held: Set<String> = []
    private var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]

    func enter(_ key: String) async {
        guard held.contains(key) else {
            held.insert(key)
            return
        }
        await withCheckedContinuation { waiting[key, default: []].append($0) }
    }

    func leave(_ key: String) {
        if var queue = waiting[key], !queue.isEmpty {
            let next = queue.removeFirst()
            waiting[key] = queue.isEmpty ? nil : queue
            next.resume()  // the key stays held: it passes to `next`
        } else {
            held.remove(key)
        }
    }
}
