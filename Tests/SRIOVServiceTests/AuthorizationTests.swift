import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SRIOVConfig
import SRIOVCore
import SRIOVLeasing
import SRIOVRuntime
import SRIOVService
import Testing

/// Tenants over the router. The in-memory test channel has no SO_PEERCRED, so each client's caller is
/// fixed by its `AccessControl`, mapped through the same policy the daemon uses.
@Suite("Authorization: tenants, pools, rights, quotas, admin routes")
struct AuthorizationTests {
    static let accessYAML = """

        access:
          tenants:
            - name: nfv
              uids: [1000]
              pools: [uplink]
              max_leases: 2
              max_vfs: 3
              rights: [mac]
            - name: lab
              uids: [1001]
              pools: [storage]
            - name: ops
              uids: [1002]
              pools: ["*"]
              rights: [admin]

        """

    static let policy: AccessPolicy = {
        let config = try? SRIOVConfig.parse(yaml: EmbeddedConfig.simulatedHost + accessYAML, source: "/etc/sriovd/sriovd.yaml")
        return AccessPolicy(config: config ?? SRIOVConfig(), daemonUID: 0)
    }()

    static func access(uid: UInt32) -> AccessControl {
        AccessControl(policy: policy, unsocketedCaller: policy.caller(PeerCredentials(uid: uid, gid: uid, pid: 1), groups: [uid]))
    }

    static func problem(_ r: TestResponse, _ status: Int, _ code: String, _ fragments: [String],
                        sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status.code == status, sourceLocation: sourceLocation)
        #expect(r.headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
        let json = r.body.json
        #expect(json["code"] as? String == code, "\(json)", sourceLocation: sourceLocation)
        let detail = json["detail"] as? String ?? ""
        for fragment in fragments {
            #expect(detail.contains(fragment), "missing \(Quote.shell(fragment)) in: \(detail)", sourceLocation: sourceLocation)
        }
    }

    static func acquire(_ pool: String, _ owner: String, count: Int = 1, settings: [String: Any]? = nil) -> ByteBuffer {
        var body: [String: Any] = ["pool": pool, "owner": owner, "count": count]
        if let settings { body["settings"] = settings }
        return jsonBody(body)
    }

    @Test func aTenantLeasesOnlyFromItsPools() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        let before = try await engine.pools()
        try await f.app(access: Self.access(uid: 1000)).test(.router) { nfv in
            try await nfv.execute(uri: "/v1/leases", method: .post, body: Self.acquire("storage", "vm-1")) { r in
                Self.problem(r, 403, "forbidden", ["tenant nfv may not lease from pool storage: its pools are uplink",
                                                   "nothing was leased", "pools: of access.tenants[0] in /etc/sriovd/sriovd.yaml"])
            }
            // Its pools list shows only uplink.
            try await nfv.execute(uri: "/v1/pools", method: .get) { r in
                #expect((r.body.json["pools"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["uplink"])
            }
            try await nfv.execute(uri: "/v1/leases", method: .post, body: Self.acquire("uplink", "vm-1")) { r in
                #expect(r.status == .created)
                #expect(r.body.json["requestedBy"] as? String == "tenant nfv (uid 1000)")
            }
        }
        #expect(await engine.leases().map(\.pool) == ["uplink"])
        #expect(try await engine.pools().first { $0.name == "storage" } == before.first { $0.name == "storage" })
        await engine.close()
    }

    /// A setting that needs a right the tenant lacks is refused before anything happens: no lease, the
    /// VF still free and untouched.
    @Test(arguments: [
        (#"{"trust": true}"#, "request trust on: it lacks the right trust", "add trust to rights:"),
        (#"{"spoofCheck": false}"#, "request spoof checking off: it lacks the right spoofchk_off", "add spoofchk_off to rights:"),
        (#"{"mac": "52:54:00:00:00:42"}"#, "set a MAC: it lacks the right mac", "add mac to rights:"),
    ])
    func aSettingThatNeedsAMissingRightChangesNothing(settings: String, refusal: String, fix: String) async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        let pools = try await engine.pools()
        let ens1f1 = try #require(InterfaceName("ens1f1"))
        let link = try await f.sim.readVFs(pf: ens1f1)
        try await f.app(access: Self.access(uid: 1001)).test(.router) { lab in
            let body = ByteBuffer(string: #"{"pool": "storage", "owner": "vm-1", "settings": "# + settings + "}")
            try await lab.execute(uri: "/v1/leases", method: .post, body: body) { r in
                Self.problem(r, 403, "forbidden", ["tenant lab may not \(refusal)", "nothing was leased", fix, "access.tenants[1]"])
            }
        }
        #expect(await engine.leases().isEmpty)
        #expect(await engine.currentBook.heldVFs.isEmpty)
        #expect(try await engine.pools() == pools)
        #expect(try await f.sim.readVFs(pf: ens1f1) == link)
        await engine.close()
    }

    @Test func aRightDoesNotOverrideThePoolsPolicy() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        try await f.app(access: Self.access(uid: 1002)).test(.router) { ops in
            // Admin implies the trust right, but uplink's policy does not allow trust.
            try await ops.execute(uri: "/v1/leases", method: .post, body: Self.acquire("uplink", "vm-1", settings: ["trust": true])) { r in
                Self.problem(r, 403, "permission-denied", ["pool uplink does not allow trusted VFs"])
            }
        }
        try await f.app(access: Self.access(uid: 1000)).test(.router) { nfv in
            // nfv has the mac right; the MAC must still be in uplink's prefixes.
            try await nfv.execute(uri: "/v1/leases", method: .post, body: Self.acquire("uplink", "vm-1", settings: ["mac": "02:00:00:00:00:01"])) { r in
                Self.problem(r, 403, "permission-denied", ["outside pool uplink's prefixes"])
            }
            try await nfv.execute(uri: "/v1/leases", method: .post, body: Self.acquire("uplink", "vm-1", settings: ["mac": "52:54:00:00:00:01"])) { r in
                #expect(r.status == .created)
            }
        }
        await engine.close()
    }

    @Test func quotasCountTheTenantsLeasesAndVFs() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        try await f.app(access: Self.access(uid: 1000)).test(.router) { nfv in
            try await nfv.execute(uri: "/v1/leases", method: .post, headers: [.idempotencyKeyTest: "q-1"],
                                  body: Self.acquire("uplink", "vm-1", count: 2)) { r in #expect(r.status == .created) }
            // 2 VFs held + 2 asked > max_vfs 3.
            try await nfv.execute(uri: "/v1/leases", method: .post, body: Self.acquire("uplink", "vm-2", count: 2)) { r in
                Self.problem(r, 403, "quota-exceeded", ["tenant nfv holds 2 VFs and asks for 2 more, its max_vfs is 3",
                                                        "nothing was leased", "raises max_vfs of access.tenants[0]"])
            }
            try await nfv.execute(uri: "/v1/leases", method: .post, body: Self.acquire("uplink", "vm-2")) { r in
                #expect(r.status == .created)
            }
            // 2 leases = max_leases 2.
            try await nfv.execute(uri: "/v1/leases", method: .post, body: Self.acquire("uplink", "vm-3")) { r in
                Self.problem(r, 403, "quota-exceeded", ["tenant nfv holds 2 leases, its max_leases is 2", "Release a lease first"])
            }
            // A retry of a lease it already has is not a new lease: the same lease, 200.
            try await nfv.execute(uri: "/v1/leases", method: .post, headers: [.idempotencyKeyTest: "q-1"],
                                  body: Self.acquire("uplink", "vm-1", count: 2)) { r in #expect(r.status == .ok) }
        }
        // Another tenant's leases do not count against nfv, and nfv's do not count against it.
        try await f.app(access: Self.access(uid: 1002)).test(.router) { ops in
            try await ops.execute(uri: "/v1/leases", method: .post, body: Self.acquire("uplink", "vm-9")) { r in #expect(r.status == .created) }
        }
        #expect(await engine.leases().count == 3)
        #expect(await engine.leases().map(\.vfs.count).reduce(0, +) == 4)
        await engine.close()
    }

    @Test func concurrentRequestsCannotBothTakeTheLastQuotaSlot() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        let access = Self.access(uid: 1000)
        let statuses = try await f.app(access: access).test(.router) { nfv in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for n in 0..<4 {
                    group.addTask {
                        try await nfv.execute(uri: "/v1/leases", method: .post, body: Self.acquire("uplink", "vm-\(n)")) { $0.status.code }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        #expect(statuses.sorted() == [201, 201, 403, 403])
        #expect(await engine.leases().count == 2)
        await engine.close()
    }

    @Test func aTenantSeesRenewsAndReleasesOnlyItsOwnLeases() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        try await f.app(access: Self.access(uid: 1001)).test(.router) { lab in
            try await f.app(access: Self.access(uid: 1000)).test(.router) { nfv in
                try await f.app(access: Self.access(uid: 1002)).test(.router) { ops in
                    let labLease = try await lab.execute(uri: "/v1/leases", method: .post, headers: [.idempotencyKeyTest: "lab-1"],
                                                         body: jsonBody(["pool": "storage", "owner": "vm-l", "ttlSeconds": 600])) { r in
                        #expect(r.status == .created)
                        return r.body.json["id"] as? String ?? ""
                    }
                    let nfvLease = try await nfv.execute(uri: "/v1/leases", method: .post, body: Self.acquire("uplink", "vm-n")) { r in
                        r.body.json["id"] as? String ?? ""
                    }
                    for (method, path, action) in [(HTTPRequest.Method.get, "", "show"), (.delete, "", "release"),
                                                   (.post, "/renew", "renew"), (.get, "/attach?format=qemu", "show")] {
                        try await nfv.execute(uri: "/v1/leases/\(labLease)\(path)", method: method) { r in
                            Self.problem(r, 403, "forbidden", ["tenant nfv may not \(action) lease \(labLease): it was acquired by another tenant"])
                        }
                    }
                    // Reusing another tenant's request id does not hand out its lease.
                    try await nfv.execute(uri: "/v1/leases", method: .post, headers: [.idempotencyKeyTest: "lab-1"],
                                          body: jsonBody(["pool": "storage", "owner": "vm-l", "ttlSeconds": 600])) { r in
                        Self.problem(r, 403, "forbidden", ["request id 'lab-1' belongs to a lease of another tenant"])
                    }
                    let ids = { (r: TestResponse) in (r.body.json["leases"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String } }
                    try await nfv.execute(uri: "/v1/leases", method: .get) { r in #expect(ids(r) == [nfvLease]) }
                    try await lab.execute(uri: "/v1/leases", method: .get) { r in #expect(ids(r) == [labLease]) }
                    try await ops.execute(uri: "/v1/leases", method: .get) { r in #expect(Set(ids(r)) == [labLease, nfvLease]) }
                    try await lab.execute(uri: "/v1/leases/\(labLease)/renew", method: .post) { r in #expect(r.status == .ok) }
                    // An admin may release any lease; the audit trail names it.
                    try await ops.execute(uri: "/v1/leases/\(nfvLease)", method: .delete) { r in #expect(r.status == .ok) }
                    try await lab.execute(uri: "/v1/leases/\(labLease)", method: .delete) { r in #expect(r.status == .ok) }
                }
            }
        }
        #expect(await engine.leases().isEmpty)
        let audit = await engine.auditLog()
        #expect(audit.contains { $0.action == "lease.release" && $0.who == "tenant ops (uid 1002)" })
        #expect(audit.contains { $0.action == "lease.renew" && $0.who == "tenant lab (uid 1001)" })
        // Refused mutating calls of a tenant are in the trail too; refused reads are not.
        let refused = audit.filter { $0.action == "api.refused" }
        // DELETE and renew of lab's lease, and the POST with lab's request id; not the GETs.
        let targets = refused.map(\.target)
        #expect(targets.count == 3, "\(refused)")
        #expect(targets.contains { $0.hasPrefix("DELETE /v1/leases/l-") })
        #expect(targets.contains { $0.hasPrefix("POST /v1/leases/l-") && $0.hasSuffix("/renew") })
        #expect(targets.contains("POST /v1/leases"))
        #expect(refused.allSatisfy { $0.who == "tenant nfv (uid 1000)" && $0.result.hasPrefix("refused: ") })
        await engine.close()
    }

    @Test(arguments: [
        (HTTPRequest.Method.get, "/v1/audit", nil as String?),
        (.get, "/v1/events", nil),
        (.put, "/v1/pfs/ens1f0/numvfs", #"{"numvfs": 2}"#),
        (.patch, "/v1/pfs/ens1f0/vfs/5", #"{"vlan": 7}"#),
        (.post, "/v1/vfs/0000:3b:02.0/unquarantine", nil),
        (.post, "/v1/pfs/ens1f0/drain", #"{"deadlineSeconds": 0}"#),
        (.post, "/v1/pfs/ens1f0/undrain", nil),
    ])
    func adminRoutesNeedTheAdminRight(method: HTTPRequest.Method, path: String, body: String?) async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        let inventory = try f.sim.inventory()
        try await f.app(access: Self.access(uid: 1000)).test(.router) { nfv in
            try await nfv.execute(uri: path, method: method, body: body.map { ByteBuffer(string: $0) }) { r in
                Self.problem(r, 403, "forbidden", ["tenant nfv (uid 1000) may not do this: it needs the admin right",
                                                   "add admin to rights: of access.tenants[0]"])
            }
        }
        #expect(try f.sim.inventory() == inventory)
        await engine.close()
    }

    @Test func aCallerInNoTenantIsToldHowToGetIn() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        try await f.app(access: Self.access(uid: 1500)).test(.router) { stranger in
            try await stranger.execute(uri: "/healthz", method: .get) { r in #expect(r.status == .ok) }
            for (method, path) in [(HTTPRequest.Method.get, "/v1/pools"), (.get, "/v1/inventory"), (.post, "/v1/leases"),
                                   (.get, "/v1/leases/l-0123456789abcdef")] {
                try await stranger.execute(uri: path, method: method, body: Self.acquire("uplink", "vm-1")) { r in
                    Self.problem(r, 403, "forbidden", ["uid 1500 (gid 1500) is in no tenant of the access: section in /etc/sriovd/sriovd.yaml",
                                                       "add the uid to a tenant's uids:"])
                }
            }
        }
        // Built-in policy (no access: section): the refusal shows the section to add.
        let builtIn = AccessPolicy(access: nil, source: "/etc/sriovd/sriovd.yaml", daemonUID: 0)
        let control = AccessControl(policy: builtIn, unsocketedCaller: builtIn.caller(PeerCredentials(uid: 1000, gid: 1000, pid: 1), groups: []))
        try await f.app(access: control).test(.router) { user in
            try await user.execute(uri: "/v1/leases", method: .post, body: Self.acquire("uplink", "vm-1")) { r in
                Self.problem(r, 403, "forbidden", ["uid 1000 may not use sriovd: there is no access: section, so only root",
                                                   "uids: [1000]"])
            }
        }
        #expect(await engine.leases().isEmpty)
        // Not in a tenant: not audited (it could fill the journal).
        #expect(await !engine.auditLog().contains { $0.action == "api.refused" })
        await engine.close()
    }

    @Test func withoutAnIdentityTheAnswerIs401Bearer() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        try await f.app(access: AccessControl(policy: Self.policy)).test(.router) { anonymous in
            try await anonymous.execute(uri: "/v1/pools", method: .get) { r in
                Self.problem(r, 401, "unauthenticated", ["cannot tell who is calling"])
                #expect(r.headers[.wwwAuthenticate] == #"Bearer realm="sriovd""#)
            }
        }
        await engine.close()
    }

    @Test func auditListSince() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        try await f.app(access: Self.access(uid: 1000)).test(.router) { nfv in
            try await f.app(access: Self.access(uid: 1002)).test(.router) { ops in
                for n in 0..<3 {
                    try await nfv.execute(uri: "/v1/leases", method: .post, body: Self.acquire("uplink", "vm-\(n)")) { _ in }
                }
                let (records, printed) = try await ops.execute(uri: "/v1/audit", method: .get) { r in
                    #expect(r.status == .ok)
                    // unixTime as sent (JSONSerialization may round it differently from sriovd's decoder).
                    let printed = r.body.text.components(separatedBy: "\"unixTime\":").dropFirst().map { $0.prefix { $0 != "," && $0 != "}" } }
                    return (r.body.json["records"] as? [[String: Any]] ?? [], printed.map(String.init))
                }
                // Two acquires, then a refusal (max_leases 2), oldest first.
                #expect(records.compactMap { $0["action"] as? String } == ["lease.acquire", "lease.acquire", "api.refused"])
                #expect(records.allSatisfy { $0["who"] as? String == "tenant nfv (uid 1000)" })
                let times = records.compactMap { $0["unixTime"] as? Double }
                #expect(times == times.sorted() && times.count == 3)
                #expect(printed.count == 3)
                for (since, expected) in [(printed[1], times.filter { $0 >= times[1] }.count),
                                          (records[2]["time"] as? String ?? "", 1),
                                          ("0", 3), ("2100-01-01T00:00:00Z", 0), ("2100-01-01T01:00:00%2B01:00", 0)] {
                    try await ops.execute(uri: "/v1/audit?since=\(since)", method: .get) { r in
                        #expect(r.status == .ok, "\(since): \(r.body.text)")
                        #expect((r.body.json["records"] as? [Any])?.count == expected, "since \(since)")
                    }
                }
                try await ops.execute(uri: "/v1/audit?since=yesterday", method: .get) { r in
                    Self.problem(r, 400, "invalid-argument", ["invalid time 'yesterday'", "RFC 3339", "Unix seconds"])
                }
            }
        }
        await engine.close()
    }
}
