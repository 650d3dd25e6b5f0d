import Foundation
import SRIOVTestSupport
import Testing

/// `sriovctl pf drain` / `pf undrain` on the simulated host: refused at the deadline naming the lease
/// (exit 75), drained once the lease is released, then `pf set-numvfs` without --force; through a
/// real sriovd a drain waits while another process releases the lease.
@Suite("sriovctl pf drain", .serialized, .ownThread)
struct PFDrainCLITests {
    static let config = """
        protected_pfs: [eno1]
        pools:
          - name: uplink
            selectors: [{vfs: "ens1f0#0-3"}]
        """

    let dir: TempDirectory
    init() throws {
        dir = try TempDirectory("ctl-drain")
        try dir.file("sriovd.yaml", Self.config)
        try dir.dir("state")
    }

    var stateDir: String { dir.path + "/state" }
    var socket: String { dir.path + "/run/sriovd.sock" }
    var direct: [String] { ["--direct", "--simulated", "--state-dir", stateDir, "--config", dir.path + "/sriovd.yaml"] }

    func acquire(_ via: [String]) throws -> String {
        let acquired = try CLI.run(["lease", "acquire", "--pool", "uplink", "--owner", "vm-9", "--json"] + via)
        #expect(acquired.status == 0, "\(acquired.stderr)")
        let lease = (try JSONSerialization.jsonObject(with: Data(acquired.stdout.utf8)) as? [String: Any]) ?? [:]
        return try #require(lease["id"] as? String)
    }

    @Test func refusedAtTheDeadlineThenDrainedThenChangedWithoutForce() throws {
        let id = try acquire(direct)
        let refused = try CLI.run(["pf", "drain", "ens1f0", "--deadline", "0s"] + direct)
        #expect(refused.status == 75, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("the drain's deadline passed with lease \(id) (owner vm-9) still on it"), "\(refused.stderr)")
        // Draining: no new lease on the PF, and pool list says why.
        let next = try CLI.run(["lease", "acquire", "--pool", "uplink", "--owner", "vm-10"] + direct)
        #expect(next.status == 75)
        #expect(next.stderr.contains("pool uplink: 1 of 1 PF is draining (ens1f0)"), "\(next.stderr)")
        let pools = try CLI.run(["pool", "list"] + direct)
        #expect(pools.stdout.contains("pool uplink: ens1f0 up, draining: their VFs are out of new leases"), "\(pools.stdout)")

        #expect(try CLI.run(["lease", "release", id] + direct).status == 0)
        let drained = try CLI.run(["pf", "drain", "ens1f0", "--deadline", "10m"] + direct)
        #expect(drained.status == 0, "\(drained.stderr)")
        #expect(drained.stdout == "0000:3b:00.0 (ens1f0): drained (no leases on it; `sriovctl pf undrain ens1f0` returns it to service)\n")
        let numvfs = try CLI.run(["pf", "set-numvfs", "ens1f0", "4"] + direct)
        #expect(numvfs.status == 0, "\(numvfs.stderr)")
        let undrain = try CLI.run(["pf", "undrain", "ens1f0"] + direct)
        #expect(undrain.stdout == "0000:3b:00.0 (ens1f0): in service\n", "\(undrain.stderr)")
        #expect(try CLI.run(["lease", "acquire", "--pool", "uplink", "--owner", "vm-10"] + direct).status == 0)
        let audit = try CLI.run(["audit"] + direct)
        #expect(audit.stdout.contains("pf.drain"), "\(audit.stdout)")
        #expect(audit.stdout.contains("pf.undrain"), "\(audit.stdout)")
    }

    @Test func helpSaysWhatItDoes() throws {
        let r = try CLI.run(["pf", "drain", "--help"])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("""
            OVERVIEW: Take a PF out of service: no new leases on it, then wait until the
            leases on it are released.

            Marks the PF draining (journaled: it stays draining across restarts until `pf
            undrain`), emits pf.draining naming every lease on it so owners can move their
            VMs, and waits until they are released. At the deadline it refuses (exit 75),
            naming the leases still there; with --evict it releases them instead (audited).
            Once drained, PF-level changes such as `pf set-numvfs` need no --force. Asks
            sriovd over its socket (admin callers only); --direct runs the lease engine in
            this process.

            USAGE: sriovctl pf drain [--sysfs-root <dir>] [--procfs-root <dir>] [--state-dir <dir>] [--simulated] [--config <file>] [--socket <path>] [--direct] <pf> [--deadline <duration>] [--evict]

            """), "\(r.stdout)")
        #expect(r.stdout.contains("""
              --deadline <duration>   How long to wait for the leases on the PF: seconds,
                                      or with a unit (90s, 10m, 1h; at most 24h; default
                                      10m).
              --evict                 At the deadline, release the leases still on the PF
                                      instead of refusing.
            """), "\(r.stdout)")
        let undrain = try CLI.run(["pf", "undrain", "--help"])
        #expect(undrain.stdout.hasPrefix("OVERVIEW: Return a drained PF to service: new leases may use its VFs again.\n"), "\(undrain.stdout)")
    }

    @Test(arguments: ["10x", "1.5m", "25h", "m"])
    func aBadDeadlineIsAUsageError(deadline: String) throws {
        let r = try CLI.run(["pf", "drain", "ens1f0", "--deadline", deadline] + direct)
        #expect(r.status == 64, "\(r.stderr)")
        #expect(r.stderr.contains("invalid deadline"), "\(r.stderr)")
    }

    @Test func throughSriovdADrainWaitsForTheRelease() throws {
        let d = try DaemonProcess(stateDir: stateDir, config: dir.path + "/sriovd.yaml", socket: socket)
        let via = ["--socket", socket]
        let id = try acquire(via)
        let out = try ChildProcess.Pipe()
        let drain = try ChildProcess(CLI.binary, ["pf", "drain", "ens1f0", "--deadline", "2m", "--socket", socket], stdout: .pipe(out))
        // Once sriovd has journaled the drain, a new lease is refused (each try is a process start,
        // tens of milliseconds); then the release ends the wait.
        // Tries that came before the drain got a lease: the drain waits for those too.
        var refused = false
        var early: [String] = []
        for _ in 0..<200 where !refused {
            let next = try CLI.run(["lease", "acquire", "--pool", "uplink", "--owner", "vm-10", "--json"] + via)
            refused = next.status == 75 && next.stderr.contains("is draining")
            if next.status == 0, let lease = try? JSONSerialization.jsonObject(with: Data(next.stdout.utf8)) as? [String: Any],
               let earlyID = lease["id"] as? String {
                early.append(earlyID)
            }
        }
        #expect(refused)
        #expect(drain.isRunning, "it waits for the lease")
        for lease in [id] + early { #expect(try CLI.run(["lease", "release", lease] + via).status == 0) }
        drain.waitUntilExit()
        #expect(drain.terminationStatus == 0)
        let text = String(decoding: ChildProcess.readToEnd(out), as: UTF8.self)
        #expect(text.contains("drained"), "\(text)")
        #expect(d.stop() == 0)
    }
}
