#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SRIOVConfig
import SRIOVCore
import SRIOVService
import SRIOVTestSupport
import Testing

@Suite("Tenants from SO_PEERCRED credentials and tokens")
struct AccessPolicyTests {
    static let access = AccessConfig(tenants: [
        TenantConfig(name: "nfv", uids: [1000], gids: [2000], pools: .only(["uplink"]), keyPath: "access.tenants[0]"),
        TenantConfig(name: "ops", gids: [27, 2001], pools: .all, rights: [.admin], keyPath: "access.tenants[1]"),
        TenantConfig(name: "orch", tokens: ["orch-1"], pools: .all, keyPath: "access.tenants[2]"),
    ], tokensFile: "/t")

    static func peer(_ uid: UInt32, _ gid: UInt32) -> PeerCredentials { PeerCredentials(uid: uid, gid: gid, pid: 42) }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let uid: UInt32
        let gid: UInt32
        var groups: [UInt32] = []
        let tenant: String?
        let who: String
        var testDescription: String { name }
    }

    @Test(arguments: [
        Case(name: "uid in a tenant", uid: 1000, gid: 1000, tenant: "nfv", who: "tenant nfv (uid 1000)"),
        Case(name: "the uid wins over a group of another tenant", uid: 1000, gid: 27, tenant: "nfv", who: "tenant nfv (uid 1000)"),
        Case(name: "primary gid", uid: 1500, gid: 2000, tenant: "nfv", who: "tenant nfv (uid 1500 via gid 2000)"),
        Case(name: "supplementary group", uid: 1501, gid: 1501, groups: [1501, 44, 2001], tenant: "ops",
             who: "tenant ops (uid 1501 via gid 2001)"),
        Case(name: "the primary gid wins over a supplementary one", uid: 1502, gid: 27, groups: [2000], tenant: "ops",
             who: "tenant ops (uid 1502 via gid 27)"),
        Case(name: "root is the built-in local-admin", uid: 0, gid: 0, tenant: "local-admin", who: "tenant local-admin (uid 0)"),
        Case(name: "in no tenant", uid: 1700, gid: 1700, groups: [1700, 5], tenant: nil, who: "uid 1700 (no tenant)"),
        Case(name: "the daemon's own uid is nobody special with an access section", uid: 990, gid: 990, tenant: nil,
             who: "uid 990 (no tenant)"),
    ])
    func unixCallerMapsToItsTenant(_ c: Case) {
        let policy = AccessPolicy(access: Self.access, source: "/etc/sriovd/sriovd.yaml", daemonUID: 990)
        let caller = policy.caller(Self.peer(c.uid, c.gid), groups: c.groups)
        #expect(caller.tenant?.name == c.tenant)
        #expect(caller.description == c.who)
        #expect(Caller.tenantName(ofRequester: caller.description) == c.tenant)
    }

    @Test func withoutAnAccessSectionRootAndTheDaemonsUserAreAdmins() {
        let policy = AccessPolicy(access: nil, source: "/etc/sriovd/sriovd.yaml", daemonUID: 1000)
        for uid: UInt32 in [0, 1000] {
            let caller = policy.caller(Self.peer(uid, 100), groups: [100])
            #expect(caller.tenant?.name == "local-admin" && caller.isAdmin)
            #expect(caller.tenant?.pools == .all)
        }
        let stranger = policy.caller(Self.peer(1001, 1001), groups: [1001])
        #expect(stranger.tenant == nil && !stranger.isAdmin)
        let refusal = policy.refusal(for: stranger)
        #expect(refusal.contains("uid 1001 may not use sriovd: there is no access: section"), "\(refusal)")
        #expect(refusal.contains("uids: [1001]") && refusal.contains("in /etc/sriovd/sriovd.yaml") && refusal.contains("restart sriovd"))
        // A root daemon: only uid 0.
        #expect(AccessPolicy(access: nil, source: "x", daemonUID: 0).localAdmin.uids == [0])
    }

    @Test func aTenantListingUID0ReplacesTheBuiltInAdmin() {
        var access = Self.access
        access.tenants.append(TenantConfig(name: "rootish", uids: [0], pools: .only(["storage"]), keyPath: "access.tenants[3]"))
        let policy = AccessPolicy(access: access, source: "x", daemonUID: 0)
        let root = policy.caller(Self.peer(0, 0), groups: [0])
        #expect(root.tenant?.name == "rootish" && !root.isAdmin)
        #expect(policy.localAdmin.uids.isEmpty)
    }

    @Test func theUserDatabaseIsAskedOnlyWhenAGroupCouldDecide() {
        let policy = AccessPolicy(access: Self.access, source: "x", daemonUID: 0)
        #expect(!policy.needsGroups(Self.peer(1000, 1000)))  // listed by uid
        #expect(!policy.needsGroups(Self.peer(0, 0)))        // local-admin
        #expect(policy.needsGroups(Self.peer(1500, 1500)))
        let uidsOnly = AccessPolicy(access: AccessConfig(tenants: [TenantConfig(name: "a", uids: [5])]), source: "x", daemonUID: 0)
        #expect(!uidsOnly.needsGroups(Self.peer(1500, 1500)))
    }

    @Test func tokensMapToTheirTenant() {
        let policy = AccessPolicy(access: Self.access, source: "x", daemonUID: 0)
        #expect(policy.caller(token: "orch-1").description == "tenant orch (token orch-1)")
        let orphan = policy.caller(token: "spare")
        #expect(orphan.tenant == nil && orphan.description == "token spare (no tenant)")
        #expect(policy.refusal(for: orphan).contains("token spare is in the tokens file but in no tenant"))
    }

    @Test func requesterNamesOnlyParseTheTenantForm() {
        #expect(Caller.tenantName(ofRequester: "tenant nfv (uid 1000)") == "nfv")
        #expect(Caller.tenantName(ofRequester: "tenant orch (token orch-1)") == "orch")
        #expect(Caller.tenantName(ofRequester: "cli uid 0") == nil)
        #expect(Caller.tenantName(ofRequester: "uid 0") == nil)
        #expect(Caller.tenantName(ofRequester: "tenant nfv") == nil)
        #expect(Caller.tenantName(ofRequester: nil) == nil)
    }

    @Test func userDatabaseGroupsIncludeThePrimaryGID() {
        // root's account exists on every Linux host; an unknown uid gets just its gid.
        #expect(UnixAccounts.groups(uid: 0, gid: 0).contains(0))
        #expect(UnixAccounts.groups(uid: 4_000_000_000, gid: 4_000_000_001) == [4_000_000_001])
    }

    @Test func socketGroupLookup() throws {
        #expect(try UnixAccounts.gid(ofGroup: "root") == 0)
        #expect(try UnixAccounts.gid(ofGroup: "4242") == 4242)
        do {
            _ = try UnixAccounts.gid(ofGroup: "no-such-group-sriovd")
            Issue.record("an unknown group was accepted")
        } catch {
            #expect(error.code == .notFound)
            #expect(error.message.contains("group 'no-such-group-sriovd' does not exist") && error.message.contains("groupadd"))
        }
    }
}

@Suite("Bearer tokens: the hashed file and the comparison")
struct TokenStoreTests {
    /// SHA-256("abc"), FIPS 180-2 appendix B.1.
    static let abc = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

    @Test func hashIsSHA256OfTheTokenBytes() {
        #expect(TokenStore.hashLine("abc") == Self.abc)
    }

    @Test func presentedTokensAreFoundByHash() throws {
        let store = try TokenStore.parse("""
            # name  hash
            orch-1 \(Self.abc)

            lab\t\(TokenStore.hashLine("s3cret"))
            """, source: "tokens")
        #expect(store.names == ["orch-1", "lab"])
        #expect(store.name(of: "abc") == "orch-1")
        #expect(store.name(of: "s3cret") == "lab")
        #expect(store.name(of: "abd") == nil)
        #expect(store.name(of: "") == nil)
        #expect(store.name(of: Self.abc) == nil)  // the hash is not the token
    }

    @Test func constantTimeCompare() {
        let a: [UInt8] = Array(repeating: 7, count: 32)
        var b = a
        #expect(ConstantTime.equal(a, b))
        b[31] ^= 1
        #expect(!ConstantTime.equal(a, b))
        b = a
        b[0] ^= 0x80
        #expect(!ConstantTime.equal(a, b))
        #expect(!ConstantTime.equal(a, Array(a.prefix(31))))
        #expect(ConstantTime.equal([], []))
    }

    @Test(arguments: [
        ("orch-1", "line 1: expected `name sha256:<64 hex digits>`, got 1 field"),
        ("orch-1 abc", "token orch-1's hash must be sha256: followed by 64 hex digits"),
        ("orch-1 sha256:abcd", "token orch-1's hash must be sha256:"),
        ("orch-1 sha256:\(String(repeating: "g", count: 64))", "must be sha256:"),
        ("-x \(abc)", "invalid token name '-x'"),
        ("a \(abc)\na \(abc)", "line 2: token 'a' is already on line 1"),
    ])
    func malformedFilesAreRefused(_ text: String, _ fragment: String) {
        do {
            _ = try TokenStore.parse(text, source: "tokens")
            Issue.record("accepted")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("tokens: line") && error.message.contains(fragment), "\(error.message)")
        }
    }

    @Test func aFileOthersCanReadIsRefused() throws {
        let dir = try TempDirectory("tokens")
        try dir.file("tokens", "orch-1 \(Self.abc)\n")
        let path = dir.path + "/tokens"
        chmod(path, 0o644)
        do {
            _ = try TokenStore.load(path: path)
            Issue.record("a world-readable tokens file was accepted")
        } catch {
            #expect(error.code == .permissionDenied)
            #expect(error.message.contains("is readable by other users (mode 644)") && error.message.contains("chmod 600"))
        }
        chmod(path, 0o600)
        #expect(try TokenStore.load(path: path).name(of: "abc") == "orch-1")
        chmod(path, 0o400)
        #expect(try TokenStore.load(path: path).name(of: "abc") == "orch-1")
        do {
            _ = try TokenStore.load(path: dir.path + "/missing")
            Issue.record("a missing file was accepted")
        } catch {
            #expect(error.code == .notFound && error.message.contains("cannot open the tokens file"))
        }
    }

    /// Issue 15 #7: a group that may write the file (620), or read it (640), or an owner other than
    /// root or sriovd's user, could add or learn an admin token.
    @Test(arguments: [0o620, 0o640, 0o660, 0o602, 0o604])
    func aFileItsGroupOrOthersMayReadOrWriteIsRefused(_ mode: Int) throws {
        let dir = try TempDirectory("tokens")
        try dir.file("tokens", "orch-1 \(Self.abc)\n")
        let path = dir.path + "/tokens"
        chmod(path, mode_t(mode))
        do {
            _ = try TokenStore.load(path: path)
            Issue.record("a tokens file with mode \(String(mode, radix: 8)) was accepted")
        } catch {
            #expect(error.code == .permissionDenied)
            #expect(error.message.contains("(mode \(String(mode, radix: 8)))") && error.message.contains("chmod 600 \(path)"), "\(error.message)")
            #expect(error.message.contains(mode & 0o022 != 0 ? "is writable by" : "is readable by"), "\(error.message)")
        }
    }

    @Test func aFileOwnedByAnotherUserIsRefused() throws {
        // The rule itself, for any daemon uid.
        #expect(TokenStore.accessProblem(path: "t", mode: 0o600, owner: 0, daemonUID: 0) == nil)
        #expect(TokenStore.accessProblem(path: "t", mode: 0o600, owner: 0, daemonUID: 990) == nil)
        #expect(TokenStore.accessProblem(path: "t", mode: 0o600, owner: 990, daemonUID: 990) == nil)
        let other = TokenStore.accessProblem(path: "t", mode: 0o600, owner: 1000, daemonUID: 0)
        #expect(other?.contains("owned by uid 1000") == true && other?.contains("chown root t && chmod 600 t") == true, "\(other ?? "nil")")
        #expect(TokenStore.accessProblem(path: "t", mode: 0o600, owner: 1000, daemonUID: 990)?.contains("chown 990 t") == true)
        // And on a real file, when this process may hand it to another uid.
        guard geteuid() == 0 else { return }
        let dir = try TempDirectory("tokens")
        try dir.file("tokens", "orch-1 \(Self.abc)\n")
        let path = dir.path + "/tokens"
        chmod(path, 0o600)
        #expect(chown(path, 4242, 4242) == 0)
        do {
            _ = try TokenStore.load(path: path)
            Issue.record("a tokens file owned by uid 4242 was accepted")
        } catch {
            #expect(error.code == .permissionDenied)
            #expect(error.message.contains("owned by uid 4242"), "\(error.message)")
        }
    }

    @Test func tcpWithoutTokensIsRefusedAndNamedTokensMustExist() throws {
        let tcp = try ListenAddress.parse("127.0.0.1:8443")
        let policy = AccessPolicy(access: AccessPolicyTests.access, source: "s.yaml", daemonUID: 0)
        do {
            _ = try AccessControl(policy: policy, tokens: nil).check(listenTCP: tcp)
            Issue.record("TCP without tokens was accepted")
        } catch {
            #expect(error.message.contains("refusing to serve TCP on 127.0.0.1:8443") && error.message.contains("access.tokens_file is not set"))
        }
        do {
            _ = try AccessControl(policy: policy, tokens: TokenStore(entries: [], source: "t")).check(listenTCP: nil)
            Issue.record("a tenant's token missing from the file was accepted")
        } catch {
            #expect(error.message.contains("token 'orch-1' of tenant orch is not in the tokens file t"), "\(error.message)")
        }
        let store = try TokenStore.parse("orch-1 \(TokenStore.hashLine("x"))\nspare \(TokenStore.hashLine("y"))\n", source: "t")
        let warnings = try AccessControl(policy: policy, tokens: store).check(listenTCP: tcp)
        #expect(warnings == ["token spare in t is in no tenant; it authenticates nobody"])
    }
}
