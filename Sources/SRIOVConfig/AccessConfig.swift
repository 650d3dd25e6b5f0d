import SRIOVCore

/// The `access:` section: how callers reach sriovd's API (the Unix socket's group, a TCP address) and
/// what each of them may do, as tenants. Without the section the daemon uses its built-in policy
/// (root and the user sriovd runs as are admins; see Docs/Configuration.md, "access").
public struct AccessConfig: Sendable, Equatable {
    public var tenants: [TenantConfig]
    /// Bearer tokens for TCP, stored hashed (`name sha256:<hex>` per line); needed with `listenTCP`.
    public var tokensFile: String?
    /// Serve the API on TCP too (bearer tokens only).
    public var listenTCP: ListenAddress?
    /// The group the Unix socket is chowned to (a name or a numeric gid): its members may connect.
    public var socketGroup: String?

    public init(tenants: [TenantConfig] = [], tokensFile: String? = nil, listenTCP: ListenAddress? = nil, socketGroup: String? = nil) {
        self.tenants = tenants
        self.tokensFile = tokensFile
        self.listenTCP = listenTCP
        self.socketGroup = socketGroup
    }
}

/// What a tenant may do on top of leasing from its pools.
public enum TenantRight: String, Sendable, CaseIterable, Comparable {
    /// Request trust on (the VM may change its MAC and go promiscuous).
    case trust
    /// Request spoof checking off (bonds, VRRP in the VM).
    case spoofchkOff = "spoofchk_off"
    /// Set the VF's MAC itself (the pool's allow_mac and mac_prefixes still apply).
    case mac
    /// PF-level changes (VF count, VF settings, unquarantine, journal), the audit log, and every lease.
    case admin

    public static func < (a: TenantRight, b: TenantRight) -> Bool {
        allCases.firstIndex(of: a) ?? 0 < allCases.firstIndex(of: b) ?? 0
    }
}

/// The pools a tenant may lease from.
public enum TenantPools: Sendable, Equatable {
    /// `pools: ["*"]`: every pool, present and future.
    case all
    case only([String])

    public func contains(_ pool: String) -> Bool {
        switch self {
        case .all: return true
        case .only(let names): return names.contains(pool)
        }
    }

    /// `uplink, storage` / `every pool` / `no pool`, for messages.
    public var description: String {
        switch self {
        case .all: return "every pool"
        case .only(let names): return names.isEmpty ? "no pool" : names.joined(separator: ", ")
        }
    }
}

/// One tenant: who it is (Unix uids or gids on the socket, token names on TCP), where it may lease,
/// how much, and which rights it has.
public struct TenantConfig: Sendable, Equatable {
    /// `[a-z0-9][a-z0-9_-]{0,62}`: it appears in the audit trail as `tenant <name> (...)`.
    public var name: String
    public var uids: [UInt32]
    /// Matched against the caller's gid and its user's supplementary groups.
    public var gids: [UInt32]
    /// Names of entries in `access.tokens_file`.
    public var tokens: [String]
    public var pools: TenantPools
    /// Live leases the tenant may hold (nil = unlimited).
    public var maxLeases: Int?
    /// VFs the tenant's live leases may hold together (nil = unlimited).
    public var maxVFs: Int?
    public var rights: Set<TenantRight>
    /// Where the tenant is written (`access.tenants[1]`), so a refusal can say what to edit.
    public var keyPath: String

    public init(name: String, uids: [UInt32] = [], gids: [UInt32] = [], tokens: [String] = [], pools: TenantPools = .only([]),
                maxLeases: Int? = nil, maxVFs: Int? = nil, rights: Set<TenantRight> = [], keyPath: String = "access.tenants") {
        self.name = name
        self.uids = uids
        self.gids = gids
        self.tokens = tokens
        self.pools = pools
        self.maxLeases = maxLeases
        self.maxVFs = maxVFs
        self.rights = rights
        self.keyPath = keyPath
    }

    /// Admin implies every right.
    public func has(_ right: TenantRight) -> Bool { rights.contains(.admin) || rights.contains(right) }

    /// A token name: `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`; the reason is nil when it is valid.
    public static func tokenNameProblem(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty else { return "it is empty" }
        guard bytes.count <= 64 else { return "it is \(bytes.count) characters; at most 64 are allowed" }
        let alnum = { (b: UInt8) in (0x30...0x39).contains(b) || (0x41...0x5a).contains(b) || (0x61...0x7a).contains(b) }
        guard alnum(bytes[0]) else { return "it must start with a letter or a digit" }
        for b in bytes where !(alnum(b) || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")) {
            return "it contains \(Quote.shell(String(decoding: [b], as: UTF8.self))); use letters, digits, '.', '_' and '-'"
        }
        return nil
    }
}

extension AccessConfig {
    static let keys = ["tenants", "tokens_file", "listen_tcp", "socket_group"]

    /// Parses the section; `pools` are the configured pool names, which a tenant's `pools:` must use.
    static func parse(_ value: YAMLValue, pools: [String]) throws(SRIOVError) -> AccessConfig {
        let map = try value.mapping("the access section", keys: keys)
        var access = AccessConfig()
        if let v = map["tokens_file"] {
            let path = try v.string("the path of the hashed bearer tokens file")
            guard !path.isEmpty else { throw v.fail("tokens_file is empty; give the path of a file of `name sha256:<hex>` lines") }
            access.tokensFile = path
        }
        if let v = map["listen_tcp"] {
            let text = try v.string("a TCP address such as \"127.0.0.1:8443\"")
            do { access.listenTCP = try ListenAddress.parse(text) } catch { throw v.fail(error) }
        }
        if let v = map["socket_group"] {
            let group = try v.string("a group name or gid")
            if let problem = groupNameProblem(group) { throw v.fail("invalid socket_group \(Quote.shell(group)): \(problem)") }
            access.socketGroup = group
        }
        let items = try map["tenants"]?.list("tenants") ?? []
        access.tenants = try items.map { v throws(SRIOVError) in try TenantConfig.parse(v, pools: pools, tokensFile: access.tokensFile) }
        try checkUnique(items, access.tenants)
        return access
    }

    /// A group name as useradd(8) allows it, or a number.
    static func groupNameProblem(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty else { return "it is empty" }
        if bytes.allSatisfy({ (0x30...0x39).contains($0) }) { return bytes.count <= 10 ? nil : "the gid is too large" }
        guard bytes.count <= 32 else { return "a group name has at most 32 characters" }
        let ok = bytes.enumerated().allSatisfy { i, b in
            (0x61...0x7a).contains(b) || b == UInt8(ascii: "_") || (i > 0 && ((0x30...0x39).contains(b) || b == UInt8(ascii: "-")))
                || (i == bytes.count - 1 && b == UInt8(ascii: "$"))
        }
        return ok ? nil : "use a group name (lower-case letters, digits, '_' and '-', starting with a letter or '_') or a numeric gid"
    }

    /// Tenant names are unique; a uid, a gid or a token belongs to one tenant only (else which tenant a
    /// caller is would depend on the order of the file).
    private static func checkUnique(_ items: [YAMLValue], _ tenants: [TenantConfig]) throws(SRIOVError) {
        var names: [String: Int] = [:]
        var uids: [UInt32: Int] = [:]
        var gids: [UInt32: Int] = [:]
        var tokens: [String: Int] = [:]
        for (i, tenant) in tenants.enumerated() {
            if let j = names[tenant.name] {
                throw items[i].fail("tenant name \(Quote.shell(tenant.name)) is already used by \(items[j].location); tenant names must be unique; rename one")
            }
            names[tenant.name] = i
            for uid in tenant.uids {
                if let j = uids[uid], j != i {
                    throw items[i].fail("uid \(uid) is already in tenant \(tenants[j].name) (\(items[j].location)); a uid belongs to one tenant: remove it from one of them")
                }
                uids[uid] = i
            }
            for gid in tenant.gids {
                if let j = gids[gid], j != i {
                    throw items[i].fail("gid \(gid) is already in tenant \(tenants[j].name) (\(items[j].location)); a gid belongs to one tenant: remove it from one of them")
                }
                gids[gid] = i
            }
            for token in tenant.tokens {
                if let j = tokens[token], j != i {
                    throw items[i].fail("token \(Quote.shell(token)) is already in tenant \(tenants[j].name) (\(items[j].location)); a token belongs to one tenant: give each tenant its own token")
                }
                tokens[token] = i
            }
        }
    }
}

extension TenantConfig {
    static let keys = ["name", "uids", "gids", "tokens", "pools", "max_leases", "max_vfs", "rights"]

    static func parse(_ value: YAMLValue, pools configured: [String], tokensFile: String?) throws(SRIOVError) -> TenantConfig {
        let map = try value.mapping("a tenant", keys: keys)
        let nameValue = try map.required("name", "give the tenant a name such as nfv (it names the caller in the audit trail)")
        let name = try nameValue.string("a tenant name")
        if let problem = PoolConfig.nameProblem(name) {
            throw nameValue.fail("invalid tenant name \(Quote.shell(name)): \(problem) (pattern [a-z0-9][a-z0-9_-]{0,62})")
        }
        var tenant = TenantConfig(name: name, keyPath: value.location.path)
        tenant.uids = try ids(map["uids"], what: "uid")
        tenant.gids = try ids(map["gids"], what: "gid")
        if let v = map["tokens"] {
            tenant.tokens = try v.listOrScalar("token names").map { t throws(SRIOVError) in
                let token = try t.string("a token name")
                if let problem = tokenNameProblem(token) { throw t.fail("invalid token name \(Quote.shell(token)): \(problem)") }
                return token
            }
            if !tenant.tokens.isEmpty && tokensFile == nil {
                throw v.fail("tenant \(name) names tokens, but access.tokens_file is not set; add tokens_file: /etc/sriovd/tokens (lines of `name sha256:<hex>`) to the access section")
            }
        }
        guard !(tenant.uids.isEmpty && tenant.gids.isEmpty && tenant.tokens.isEmpty) else {
            throw value.fail("tenant \(name) names nobody; give uids: [1000], gids: [2000] (Unix socket) or tokens: [name] (TCP)")
        }
        if let v = map["pools"] {
            let entries = try v.listOrScalar("pool names")
            var names: [String] = []
            var all = false
            for entry in entries {
                let pool = try entry.string("a pool name, or \"*\" for every pool")
                if pool == "*" {
                    all = true
                } else if !configured.contains(pool) {
                    let hint = KeySuggestion.closest(to: pool, in: configured).map { "did you mean \(Quote.shell($0))? " } ?? ""
                    let known = configured.isEmpty ? "no pools are configured" : "configured pools: \(configured.joined(separator: ", "))"
                    throw entry.fail("tenant \(name) names pool \(Quote.shell(pool)), which is not configured; \(hint)\(known) (or \"*\" for every pool)")
                } else if !names.contains(pool) {
                    names.append(pool)
                }
            }
            if all && !names.isEmpty {
                throw v.fail("\"*\" already means every pool; list either \"*\" or pool names, not both")
            }
            tenant.pools = all ? .all : .only(names)
        }
        tenant.maxLeases = try map.optional("max_leases") { v throws(SRIOVError) in
            try v.int("max_leases", in: 0...1_000_000, hint: "leave the key out for no limit")
        }
        tenant.maxVFs = try map.optional("max_vfs") { v throws(SRIOVError) in
            try v.int("max_vfs", in: 0...1_000_000, hint: "leave the key out for no limit")
        }
        if let v = map["rights"] {
            for item in try v.listOrScalar("rights") {
                let text = try item.string("a right")
                let known = TenantRight.allCases.map(\.rawValue)
                guard let right = TenantRight(rawValue: text) else {
                    let hint = KeySuggestion.closest(to: text, in: known).map { "did you mean \(Quote.shell($0))? " } ?? ""
                    throw item.fail("unknown right \(Quote.shell(text)); \(hint)rights are \(KeySuggestion.list(known))")
                }
                tenant.rights.insert(right)
            }
        }
        return tenant
    }

    /// `[1000, 1001]` or one id: Unix ids are 0-4294967294 (4294967295 is (uid_t)-1, "no id").
    private static func ids(_ value: YAMLValue?, what: String) throws(SRIOVError) -> [UInt32] {
        guard let value else { return [] }
        return try value.listOrScalar("\(what)s").map { v throws(SRIOVError) in
            UInt32(try v.int("a \(what)", in: 0...4_294_967_294, hint: "`id -u <user>` / `getent group <group>` print it"))
        }
    }
}
