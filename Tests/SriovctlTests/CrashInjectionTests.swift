import Foundation
import Testing
import SRIOVTestSupport

/// Kills `sriovctl` with SIGKILL right after each journal step in turn (the journal's test hook
/// SRIOVD_TEST_CRASH_AFTER_APPEND=k), restarts it, and checks sriovd's promises against the host:
/// every pool VF free and scrubbed, leased to exactly one owner, or quarantined with a reason.
@Suite("Crash injection", .serialized, .ownThread)
struct CrashInjectionTests {
    static let config = """
        protected_pfs: [eno1]
        pools:
          - name: uplink
            selectors: [{vfs: "ens1f0#0-3"}, {vfs: "ens4f0np0#0-3"}]
            policy: {vlans: ["100"]}
        """

    struct Env {
        let dir: TempDirectory
        init() throws {
            dir = try TempDirectory("crash")
            try dir.file("sriovd.yaml", CrashInjectionTests.config)
        }
        var common: [String] { ["--simulated", "--state-dir", dir.path, "--config", dir.path + "/sriovd.yaml"] }
        /// In-process (`--direct`): the crash is injected into sriovctl's own journal.
        func run(_ args: [String], crashAfter k: Int? = nil) throws -> CLI.Result {
            try CLI.run(args + ["--direct"] + common, environment: k.map { ["SRIOVD_TEST_CRASH_AFTER_APPEND": String($0)] } ?? [:])
        }
        func check() throws {
            let r = try run(["lease", "check"])
            #expect(r.status == 0, "promises broken after recovery:\n\(r.stdout)\(r.stderr)")
        }
        func leases() throws -> [[String: Any]] {
            let r = try run(["lease", "list", "--json"])
            return (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]]) ?? []
        }
    }

    @Test func acquireKilledAfterEveryStep() throws {
        var crashedAt: [Int] = []
        for k in 1...20 {
            let env = try Env()
            let r = try env.run(["lease", "acquire", "--pool", "uplink", "--owner", "vnf-7", "--count", "2",
                                 "--placement", "spread", "--vlan", "100", "--request-id", "req-\(k)", "--json"], crashAfter: k)
            try env.check()
            let leases = try env.leases()
            if r.killed {
                crashedAt.append(k)
                // Rolled forward (all VFs leased) or back (none): never half.
                #expect(leases.count <= 1)
                if let lease = leases.first { #expect((lease["vfs"] as? [Any])?.count == 2 && lease["state"] as? String == "active") }
                // A retry with the same request id converges.
                let retry = try env.run(["lease", "acquire", "--pool", "uplink", "--owner", "vnf-7", "--count", "2",
                                         "--placement", "spread", "--vlan", "100", "--request-id", "req-\(k)"])
                #expect(retry.status == 0, "\(retry.stderr)")
                try env.check()
                #expect(try env.leases().count == 1)
            } else {
                #expect(r.status == 0, "\(r.stderr)")
                break
            }
        }
        #expect(crashedAt.count >= 8, "an acquire of 2 VFs journals at least 8 steps; crashed at \(crashedAt)")
    }

    @Test func releaseKilledAfterEveryStep() throws {
        var crashes = 0
        for k in 1...20 {
            let env = try Env()
            let acquired = try env.run(["lease", "acquire", "--pool", "uplink", "--owner", "vm", "--count", "2", "--json"])
            #expect(acquired.status == 0, "\(acquired.stderr)")
            let lease = try #require(try JSONSerialization.jsonObject(with: Data(acquired.stdout.utf8)) as? [String: Any])
            let id = try #require(lease["id"] as? String)
            let r = try env.run(["lease", "release", id], crashAfter: k)
            try env.check()
            // Recovery finishes an interrupted release: the lease is gone.
            #expect(try env.leases().isEmpty)
            if !r.killed {
                #expect(r.status == 0, "\(r.stderr)")
                break
            }
            crashes += 1
        }
        #expect(crashes >= 4)
    }
}
