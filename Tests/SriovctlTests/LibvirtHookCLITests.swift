import Foundation
import SRIOVTestSupport
import Testing

/// `sriovctl libvirt-hook` and `lease acquire --consumer/--vf` as processes on the simulated host
/// (`--direct`), whose consumers live under its own tree (proc/, run/libvirt/qemu/).
@Suite("sriovctl libvirt-hook and consumers", .serialized, .ownThread)
struct LibvirtHookCLITests {
    let dir: TempDirectory
    init() throws {
        dir = try TempDirectory("ctl-hook")
        try dir.file("sriovd.yaml", DaemonClientCLITests.config)
    }

    var direct: [String] { ["--direct", "--simulated", "--state-dir", dir.path + "/state", "--config", dir.path + "/sriovd.yaml"] }
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/libvirt")

    /// sriovctl with `stdin` from a fixture file.
    func hook(_ arguments: [String], fixture: String) throws -> CLI.Result {
        let out = try ChildProcess.Pipe(), err = try ChildProcess.Pipe()
        let process = try ChildProcess(CLI.binary, ["libvirt-hook"] + direct + arguments,
                                       stdin: .readFrom(path: Self.fixtures.appendingPathComponent(fixture).path),
                                       stdout: .pipe(out), stderr: .pipe(err))
        let (o, e) = ChildProcess.readToEnd(out, err)
        process.waitUntilExit()
        return CLI.Result(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    @Test func prepareReleaseAndRefusals() throws {
        #expect(try CLI.run(["inventory", "--simulated", "--state-dir", dir.path + "/state"]).status == 0, "makes the simulated host")
        let prepare = try hook(["vnf1", "prepare", "begin", "-"], fixture: "domain-with-lease.xml")
        #expect(prepare.status == 0 && prepare.stdout.isEmpty, "\(prepare.stderr)")
        #expect(prepare.stderr.contains("for libvirt:6f1c2e1a-8b4d-4c3e-9a7b-0d2e4f6a8b10: 0000:3b:02.0, 0000:3b:02.2 on vfio-pci"))
        let list = try CLI.run(["lease", "list", "--owner", "vnf-1"] + direct)
        let id = try #require(list.stdout.split(separator: "\n").dropFirst().first?.split(separator: " ").first.map(String.init))
        let shown = try CLI.run(["lease", "show", id] + direct)
        #expect(shown.stdout.contains("consumer libvirt:6f1c2e1a-8b4d-4c3e-9a7b-0d2e4f6a8b10"))
        #expect(try hook(["vnf1", "prepare", "begin", "-"], fixture: "domain-with-lease.xml").status == 0, "a retry")
        #expect(try CLI.run(["lease", "list", "--owner", "vnf-1"] + direct).stdout.components(separatedBy: "l-").count == 2, "still one lease")
        let release = try hook(["vnf1", "release", "end", "-"], fixture: "domain-with-lease.xml")
        #expect(release.status == 0 && release.stderr.contains("released \(id)"), "\(release.stderr)")
        let again = try hook(["vnf1", "release", "end", "-"], fixture: "domain-with-lease.xml")
        #expect(again.status == 0 && again.stderr.contains("nothing to release"))
        let plain = try hook(["plain", "prepare", "begin", "-"], fixture: "domain-without-metadata.xml")
        #expect(plain.status == 0 && plain.stdout.isEmpty && plain.stderr.isEmpty)
        let broken = try hook(["broken", "prepare", "begin", "-"], fixture: "domain-malformed-metadata.xml")
        #expect(broken.status == 64 && broken.stderr.contains("unknown attribute vlna on <sriovd:lease>"))
        #expect(try CLI.run(["lease", "list"] + direct).stdout.contains("No leases."))
    }

    @Test func consumerOptionOnTheSimulatedHost() throws {
        #expect(try CLI.run(["inventory", "--simulated", "--state-dir", dir.path + "/state"]).status == 0)
        let bad = try CLI.run(["lease", "acquire", "--pool", "uplink", "--owner", "vm1", "--consumer", "vm:1"] + direct)
        #expect(bad.status == 64 && bad.stderr.contains("unknown kind 'vm'"), "\(bad.stderr)")
        let missing = try CLI.run(["lease", "acquire", "--pool", "uplink", "--owner", "vm1", "--consumer", "pid:4242"] + direct)
        #expect(missing.status == 66 && missing.stderr.contains("no such process"), "\(missing.stderr)")
        // The simulated host's processes are files under its tree.
        try dir.file("state/simulated-host/proc/4242/stat", "4242 (qemu-system-x86) S 1 4242 4242 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 987654 0 0\n")
        let ok = try CLI.run(["lease", "acquire", "--pool", "uplink", "--owner", "vm1", "--consumer", "pid:4242", "--vf", "0000:3b:02.3"] + direct)
        #expect(ok.status == 0 && ok.stdout.contains("consumer pid:4242@987654") && ok.stdout.contains("0000:3b:02.3"), "\(ok.stderr)")
        let taken = try CLI.run(["lease", "acquire", "--pool", "uplink", "--owner", "vm2", "--vf", "0000:3b:02.3"] + direct)
        #expect(taken.status == 75 && taken.stderr.contains("0000:3b:02.3 is leased"), "\(taken.stderr)")
    }
}
