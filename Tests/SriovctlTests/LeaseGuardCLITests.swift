import Foundation
import SRIOVTestSupport
import Testing

/// The front door's promise, as a new user meets it on the simulated host: lease a VF with VLAN 100,
/// then `vf set` on it and `pf set-numvfs` on its PF. Both are refused naming the lease; with --force
/// they happen, the lease says why, `lease check` exits 1 naming the broken promise, and `audit` shows
/// who forced it. Run twice: through a real sriovd on its socket, and with --direct (in-process).
@Suite("Every host change goes through the lease book", .serialized, .ownThread)
struct LeaseGuardCLITests {
    static let config = """
        protected_pfs: [eno1]
        pools:
          - name: uplink
            selectors: [{vfs: "ens1f0#0-3"}]
            defaults: {vlan: 100}
            policy: {vlans: ["100"]}
        """

    let dir: TempDirectory
    init() throws {
        dir = try TempDirectory("ctl-guard")
        try dir.file("sriovd.yaml", Self.config)
        // --direct opens an existing state directory and never creates one (a mistyped --state-dir).
        try dir.dir("state")
    }

    var stateDir: String { dir.path + "/state" }
    var socket: String { dir.path + "/run/sriovd.sock" }
    var direct: [String] { ["--direct", "--simulated", "--state-dir", stateDir, "--config", dir.path + "/sriovd.yaml"] }

    /// What `ip -d link show` would say of VF `index` of ens1f0, read from the host (not through sriovd).
    func vfJSON(_ index: Int) throws -> [String: Any] {
        let r = try CLI.run(["vf", "show", "ens1f0", "\(index)", "--json", "--simulated", "--state-dir", stateDir])
        #expect(r.status == 0, "\(r.stderr)")
        return (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]) ?? [:]
    }

    func scenario(_ via: [String]) throws {
        let acquired = try CLI.run(["lease", "acquire", "--pool", "uplink", "--owner", "vnf-7", "--vlan", "100", "--json"] + via)
        #expect(acquired.status == 0, "\(acquired.stderr)")
        let lease = (try JSONSerialization.jsonObject(with: Data(acquired.stdout.utf8)) as? [String: Any]) ?? [:]
        let id = try #require(lease["id"] as? String)
        let vf = try #require((lease["vfs"] as? [[String: Any]])?.first)
        let index = try #require(vf["index"] as? Int)
        let address = try #require(vf["pciAddress"] as? String)
        #expect(try CLI.run(["lease", "check"] + via).status == 0)

        // Refused, naming the lease; nothing changed.
        let set = try CLI.run(["vf", "set", "ens1f0", "\(index)", "--vlan", "7", "--trust", "on"] + via)
        #expect(set.status == 75, "\(set.stdout)\(set.stderr)")
        #expect(set.stderr.contains("is leased by \(id) (owner vnf-7)"), "\(set.stderr)")
        #expect(set.stderr.contains("pass --force"))
        #expect(try vfJSON(index)["vlan"] as? Int == 100)
        let numvfs = try CLI.run(["pf", "set-numvfs", "ens1f0", "2"] + via)
        #expect(numvfs.status == 75, "\(numvfs.stdout)\(numvfs.stderr)")
        #expect(numvfs.stderr.contains("\(id) (owner vnf-7, active: \(address))"), "\(numvfs.stderr)")
        #expect(try CLI.run(["lease", "check"] + via).status == 0)

        // Forced: it happens, the lease is marked drifted and the check names the broken promise.
        let forced = try CLI.run(["vf", "set", "ens1f0", "\(index)", "--vlan", "7", "--trust", "on", "--force"] + via)
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try vfJSON(index)["vlan"] as? Int == 7)
        let shown = try CLI.run(["lease", "show", id] + via)
        #expect(shown.stdout.contains("active, drifted"), "\(shown.stdout)")
        #expect(shown.stdout.contains("problem: 0000:3b:00.0 (ens1f0) VF \(index) (\(address)): `vf set vlan 7 trust on` forced by"), "\(shown.stdout)")
        let drifted = try CLI.run(["lease", "check"] + via)
        #expect(drifted.status == 1)
        #expect(drifted.stdout.contains("broken: \(address) (ens1f0 VF \(index)) of lease \(id): vlan is 7, the lease promised 100"), "\(drifted.stdout)")

        // Forced VF-count change (to 4, which the pool's range 0-3 still fits): every VF goes through 0,
        // so the lease is lost.
        let removed = try CLI.run(["pf", "set-numvfs", "ens1f0", "4", "--force"] + via)
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(removed.stdout == "0000:3b:00.0 (ens1f0): 4 VFs (was 8)\n")
        #expect(removed.stderr.contains("warning: marked lost: lease \(id) (owner vnf-7)"), "\(removed.stderr)")
        let list = try CLI.run(["lease", "list"] + via)
        #expect(list.stdout.contains("active, lost"), "\(list.stdout)")
        let lost = try CLI.run(["lease", "check"] + via)
        #expect(lost.status == 1)
        #expect(lost.stdout.contains("broken: lease \(id) (owner vnf-7) is lost: "), "\(lost.stdout)")
        #expect(lost.stdout.contains("0000:3b:00.0 (ens1f0): `pf set-numvfs 4` (from 8) forced by"), "\(lost.stdout)")

        // Who forced what is in the audit trail.
        let audit = try CLI.run(["audit"] + via)
        #expect(audit.stdout.contains("forced: vlan 7 trust on (lease \(id) marked drifted)"), "\(audit.stdout)")
        #expect(audit.stdout.contains("forced: 8 -> 4 VFs (lease \(id) marked lost)"), "\(audit.stdout)")

        // Releasing the lost lease returns what is left of it; the promises hold again.
        #expect(try CLI.run(["lease", "release", id] + via).status == 0)
        let after = try CLI.run(["lease", "check"] + via)
        #expect(after.status == 0, "\(after.stdout)\(after.stderr)")
    }

    @Test func throughSriovd() throws {
        let d = try DaemonProcess(stateDir: stateDir, config: dir.path + "/sriovd.yaml", socket: socket)
        try scenario(["--socket", socket])
        let audit = try CLI.run(["audit", "--socket", socket])
        // sriovd names the caller by SO_PEERCRED.
        #expect(audit.stdout.contains("uid \(getuid())"), "\(audit.stdout)")
        #expect(d.stop() == 0)
    }

    /// `inventory` and `doctor` through sriovd's front door print what they print reading the host here.
    @Test func inventoryAndDoctorThroughSriovd() throws {
        let d = try DaemonProcess(stateDir: stateDir, config: dir.path + "/sriovd.yaml", socket: socket)
        let local = try CLI.run(["inventory", "--vfs", "--simulated", "--state-dir", stateDir])
        let remote = try CLI.run(["inventory", "--vfs", "--socket", socket])
        #expect(remote.status == 0, "\(remote.stderr)")
        #expect(remote.stdout == local.stdout)
        let localJSON = try CLI.run(["inventory", "--json", "--simulated", "--state-dir", stateDir])
        #expect(try CLI.run(["inventory", "--json", "--socket", socket]).stdout == localJSON.stdout)
        let doctor = try CLI.run(["doctor", "--socket", socket])
        let localDoctor = try CLI.run(["doctor", "--simulated", "--state-dir", stateDir])
        #expect(doctor.status == localDoctor.status)
        #expect(doctor.stdout.split(separator: "\n").dropFirst() == localDoctor.stdout.split(separator: "\n").dropFirst())
        #expect(doctor.stdout.hasPrefix("sriovctl doctor: the host of sriovd on \(socket)"))
        let mixed = try CLI.run(["inventory", "--socket", socket, "--simulated"])
        #expect(mixed.status == 64 && mixed.stderr.contains("drop --simulated"), "\(mixed.stderr)")
        #expect(d.stop() == 0)
    }

    /// `sriovctl events` follows sriovd's stream: a lease acquired, forced past (drift) and released,
    /// over and over until the follower has its 4 events (it may subscribe mid-cycle).
    @Test func eventsFollowTheBook() throws {
        let d = try DaemonProcess(stateDir: stateDir, config: dir.path + "/sriovd.yaml", socket: socket)
        let out = try ChildProcess.Pipe()
        let follower = try ChildProcess(CLI.binary, ["events", "--count", "4", "--json", "--socket", socket], stdout: .pipe(out))
        var cycles = 0
        while follower.isRunning && cycles < 60 {
            cycles += 1
            let acquired = try CLI.run(["lease", "acquire", "--pool", "uplink", "--owner", "vm-ev", "--json", "--socket", socket])
            #expect(acquired.status == 0, "\(acquired.stderr)")
            let lease = (try JSONSerialization.jsonObject(with: Data(acquired.stdout.utf8)) as? [String: Any]) ?? [:]
            let id = try #require(lease["id"] as? String)
            let index = try #require((lease["vfs"] as? [[String: Any]])?.first?["index"] as? Int)
            #expect(try CLI.run(["vf", "set", "ens1f0", "\(index)", "--trust", "on", "--force", "--socket", socket]).status == 0)
            #expect(try CLI.run(["lease", "release", id, "--socket", socket]).status == 0)
        }
        follower.waitUntilExit()
        #expect(follower.terminationStatus == 0)
        let lines = String(decoding: ChildProcess.readToEnd(out), as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 4)
        let types = lines.compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["type"] as? String
        }
        #expect(Set(types).isSuperset(of: ["lease.acquired", "lease.drift", "lease.released"]), "\(types)")
        let direct = try CLI.run(["events", "--direct"])
        #expect(direct.status == 64 && direct.stderr.contains("--direct cannot follow events"), "\(direct.stderr)")
        #expect(d.stop() == 0)
    }

    @Test func inProcess() throws {
        try scenario(direct)
        #expect(try CLI.run(["audit"] + direct).stdout.contains("cli uid \(getuid())"))
    }

    /// A free pool VF is quarantined by a forced change (its settings would leak into the next lease).
    @Test func forcedChangeOnAFreePoolVFQuarantinesIt() throws {
        let refused = try CLI.run(["vf", "set", "ens1f0", "3", "--trust", "on"] + direct)
        #expect(refused.status == 75)
        #expect(refused.stderr.contains("is in pool uplink"), "\(refused.stderr)")
        #expect(try CLI.run(["vf", "set", "ens1f0", "3", "--trust", "on", "--force"] + direct).status == 0)
        let pools = try CLI.run(["pool", "list"] + direct)
        #expect(pools.stdout.contains("quarantined 0000:3b:02.3: settings changed outside a lease"), "\(pools.stdout)")
        #expect(try CLI.run(["lease", "check"] + direct).status == 0)
        #expect(try CLI.run(["vf", "unquarantine", "0000:3b:02.3"] + direct).status == 0)
        #expect(try vfJSON(3)["trust"] as? Bool == false)
    }

    /// A VF outside every pool is the operator's: changed without --force, as `ip link` would.
    @Test func aVFOutsideThePoolsIsChangedWithoutForce() throws {
        let r = try CLI.run(["vf", "set", "ens1f0", "6", "--vlan", "42"] + direct)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try vfJSON(6)["vlan"] as? Int == 42)
        #expect(try CLI.run(["audit"] + direct).stdout.contains("ok: vlan"))
    }
}
