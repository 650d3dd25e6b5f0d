import Foundation
import Testing
import SRIOVTestSupport

/// The failpoint loop (issue 15): each operation is run with `SRIOVD_TEST_CRASH_AT_STEP=n` for n = 1,
/// 2, ... until it completes; the process is killed at its n-th host step (before and after every
/// sysfs write, RTM_SETLINK, unbind, driver_override, probe, and every fsync). After each crash the
/// next process recovers (journal replay + reconcile with the host) and the invariants are checked:
/// every promise holds (`lease check`), no VF is quarantined without a cause, the leases are what the
/// operation left (all or nothing), and a second recovery changes nothing (replay equals the book).
@Suite("Failpoints at every host step", .serialized, .ownThread)
struct FailpointTests {
    /// The crash-injection suite's pools: two PFs of the simulated host, VLAN 100 allowed.
    static let config = CrashInjectionTests.config

    /// One state directory (simulated host + journal) per crash point, copied from a prepared one.
    final class Env {
        let dir: TempDirectory
        let stepLog: String

        init(from template: TempDirectory? = nil) throws {
            dir = try TempDirectory("failpoint")
            stepLog = dir.path + "/steps.log"
            if let template {
                for name in try FileManager.default.contentsOfDirectory(atPath: template.path) where name != "steps.log" {
                    try FileManager.default.copyItem(atPath: template.path + "/" + name, toPath: dir.path + "/" + name)
                }
            } else {
                try dir.file("sriovd.yaml", FailpointTests.config)
                // In-process commands use a state directory; they do not create one (a mistyped path).
                try FileManager.default.createDirectory(atPath: dir.path + "/state", withIntermediateDirectories: true)
            }
        }

        var common: [String] { ["--simulated", "--state-dir", dir.path + "/state", "--config", dir.path + "/sriovd.yaml"] }

        /// In-process (`--direct`) unless `direct` is false (the journal commands are in-process only).
        func run(_ args: [String], crashAt n: Int? = nil, direct: Bool = true) throws -> CLI.Result {
            var environment: [String: String] = [:]
            if let n {
                environment["SRIOVD_TEST_CRASH_AT_STEP"] = String(n)
                environment["SRIOVD_TEST_STEP_LOG"] = stepLog
            }
            return try CLI.run(args + common + (direct ? ["--direct"] : []), environment: environment)
        }

        func json(_ args: [String]) throws -> Any {
            let r = try run(args + ["--json"])
            #expect(r.status == 0, "\(args): \(r.stderr)")
            return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
        }

        func leases() throws -> [[String: Any]] { (try json(["lease", "list"]) as? [[String: Any]]) ?? [] }

        /// The quarantine as `pool list --json` shows it.
        func quarantined() throws -> [String] {
            let pools = try json(["pool", "list"]) as? [String: Any]
            return ((pools?["quarantine"] as? [String: Any]) ?? [:]).keys.sorted()
        }

        /// The step the process was killed at.
        var lastStep: String {
            ((try? String(contentsOfFile: stepLog, encoding: .utf8)) ?? "").split(separator: "\n").last.map(String.init) ?? "?"
        }

        /// Recovery and the invariants; `expectLeases` is what the operation may leave (any of them).
        func checkAfterCrash(_ step: String, leaseCounts: Set<Int>, quarantineAllowed: Bool = false) throws {
            let check = try run(["lease", "check"])
            #expect(check.status == 0, "after a crash at \(step): promises broken:\n\(check.stdout)\(check.stderr)")
            let first = try leases()
            #expect(leaseCounts.contains(first.count), "after a crash at \(step): \(first.count) leases")
            for lease in first { #expect(lease["state"] as? String == "active", "after a crash at \(step): \(lease)") }
            if !quarantineAllowed {
                #expect(try quarantined() == [], "after a crash at \(step): a VF was quarantined without a cause")
            }
            // A second recovery finds nothing left to do.
            let again = try leases()
            #expect(NSArray(array: again).isEqual(to: first), "after a crash at \(step): a second recovery changed the leases")
            let verify = try run(["journal", "verify"], direct: false)
            #expect(verify.status == 0, "after a crash at \(step): \(verify.stdout)\(verify.stderr)")
        }
    }

    /// `crashPoints`: step n's name in the run killed at step n. `steps`: every step of the run that
    /// completed, in order. The journal's group commit fsyncs on a thread of its own while the host
    /// steps run, so which step is the n-th can differ from run to run (a crash at n may land on the
    /// fsync in one run and on a probe in another). The loop kills a run at every position 1...n-1 up
    /// to the first run that completes, which took fewer than n steps; the kinds of step an operation
    /// goes through are judged by that run's `steps`, not by the names the crashes happened to hit.
    struct Outcome {
        var crashPoints: [String] = []
        var completedAt: Int?
        var steps: [String] = []

        /// Whether the operation's steps include one whose name contains `kind`.
        func has(_ kind: String) -> Bool { steps.contains { $0.contains(kind) } }
    }

    /// Runs `operation` in a copy of `template` crashing at step 1, 2, ... until it completes.
    func loop(_ template: Env, max: Int = 150, _ operation: [String],
              check: (Env, String) throws -> Void, completed: (Env, CLI.Result) throws -> Void) throws -> Outcome {
        var outcome = Outcome()
        for n in 1...max {
            let env = try Env(from: template.dir)
            let r = try env.run(operation, crashAt: n)
            guard r.killed else {
                outcome.steps = ((try? String(contentsOfFile: env.stepLog, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
                try completed(env, r)
                outcome.completedAt = n
                break
            }
            let step = env.lastStep
            outcome.crashPoints.append(step)
            try check(env, step)
        }
        #expect(outcome.completedAt != nil, "\(operation) did not complete within \(max) steps")
        return outcome
    }

    func prepared(_ setup: (Env) throws -> Void = { _ in }) throws -> Env {
        let env = try Env()
        #expect(try env.run(["pool", "list"]).status == 0)  // creates the simulated host and the journal
        try setup(env)
        return env
    }

    func acquireTwo(_ env: Env) throws -> String {
        let r = try env.run(["lease", "acquire", "--pool", "uplink", "--owner", "vm", "--count", "2", "--placement", "spread",
                             "--vlan", "100", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let lease = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        return try #require(lease?["id"] as? String)
    }

    @Test func acquire() throws {
        let template = try prepared()
        let outcome = try loop(template, ["lease", "acquire", "--pool", "uplink", "--owner", "vm", "--count", "2",
                                          "--placement", "spread", "--vlan", "100", "--request-id", "r-1"],
                               check: { env, step in try env.checkAfterCrash(step, leaseCounts: [0, 1]) },
                               completed: { env, r in
                                   #expect(r.status == 0, "\(r.stderr)")
                                   let leases = try env.leases()
                                   #expect(leases.count == 1)
                               })
        // Two VFs: per VF a netlink batch, unbind, driver_override, probe (before and after each), plus fsyncs.
        #expect(outcome.crashPoints.count >= 16, "crash points: \(outcome.crashPoints)")
        #expect(outcome.has("RTM_SETLINK") && outcome.has("probe") && outcome.has("fsync"), "steps: \(outcome.steps)")
        FailpointTests.report("acquire", outcome)
    }

    @Test func release() throws {
        var id = ""
        let template = try prepared { env in id = try acquireTwo(env) }
        let outcome = try loop(template, ["lease", "release", id],
                               check: { env, step in try env.checkAfterCrash(step, leaseCounts: [0]) },
                               completed: { env, r in
                                   #expect(r.status == 0, "\(r.stderr)")
                                   let leases = try env.leases()
                                   #expect(leases.isEmpty)
                               })
        #expect(outcome.crashPoints.count >= 8, "crash points: \(outcome.crashPoints)")
        #expect(outcome.has("unbind"), "steps: \(outcome.steps)")
        FailpointTests.report("release", outcome)
    }

    @Test func renew() throws {
        var id = ""
        let template = try prepared { env in
            let r = try env.run(["lease", "acquire", "--pool", "uplink", "--owner", "vm", "--ttl", "10m", "--json"])
            #expect(r.status == 0, "\(r.stderr)")
            id = try #require((try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["id"] as? String)
        }
        let outcome = try loop(template, ["lease", "renew", id, "--ttl", "15m"],
                               check: { env, step in try env.checkAfterCrash(step, leaseCounts: [1]) },
                               completed: { env, r in #expect(r.status == 0, "\(r.stderr)") })
        #expect(outcome.crashPoints.count >= 2, "crash points: \(outcome.crashPoints)")
        FailpointTests.report("renew", outcome)
    }

    @Test func setNumVFs() throws {
        let template = try prepared()
        // ens1f1 is in no pool: its VF count changes through 0, autoprobe first.
        let outcome = try loop(template, ["pf", "set-numvfs", "ens1f1", "3"],
                               check: { env, step in try env.checkAfterCrash(step, leaseCounts: [0]) },
                               completed: { env, r in #expect(r.status == 0, "\(r.stderr)") })
        #expect(outcome.has("sriov_numvfs=0") && outcome.has("sriov_numvfs=3"), "steps: \(outcome.steps)")
        // After any crash, running it again converges.
        let env = try Env(from: template.dir)
        _ = try env.run(["pf", "set-numvfs", "ens1f1", "3"], crashAt: outcome.crashPoints.count / 2 + 1)
        let retry = try env.run(["pf", "set-numvfs", "ens1f1", "3"])
        #expect(retry.status == 0, "\(retry.stderr)")
        FailpointTests.report("pf set-numvfs", outcome)
    }

    @Test func unquarantine() throws {
        var vf = ""
        let template = try prepared { env in
            // A free pool VF changed by force is quarantined.
            let forced = try env.run(["vf", "set", "ens1f0", "1", "--trust", "on", "--force"])
            #expect(forced.status == 0, "\(forced.stderr)")
            vf = try #require(try env.quarantined().first)
        }
        let outcome = try loop(template, ["vf", "unquarantine", vf],
                               check: { env, step in try env.checkAfterCrash(step, leaseCounts: [0], quarantineAllowed: true) },
                               completed: { env, r in
                                   #expect(r.status == 0, "\(r.stderr)")
                                   let quarantined = try env.quarantined()
                                   #expect(quarantined == [])
                               })
        #expect(outcome.crashPoints.count >= 4, "crash points: \(outcome.crashPoints)")
        FailpointTests.report("vf unquarantine", outcome)
    }

    static func report(_ operation: String, _ outcome: Outcome) {
        print("failpoints: \(operation): crashed at \(outcome.crashPoints.count) steps, completed at step \(outcome.completedAt ?? -1)")
    }
}
