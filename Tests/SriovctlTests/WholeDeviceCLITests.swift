import Foundation
import SRIOVTestSupport
import Testing

/// `sriovctl` on a `devices:` pool (`--direct`, simulated host): the release line counts devices, not
/// VFs, and `vf unquarantine` takes a whole device's address (it used to answer "VF does not exist").
@Suite("sriovctl: whole devices", .serialized, .ownThread)
struct WholeDeviceCLITests {
    let dir: TempDirectory
    init() throws {
        dir = try TempDirectory("ctl-whole")
        try dir.file("sriovd.yaml", """
            pools:
              - name: nic
                selectors:
                  - devices: ["0000:5e:00.0"]
            """)
    }

    var direct: [String] { ["--direct", "--simulated", "--state-dir", dir.path + "/state", "--config", dir.path + "/sriovd.yaml"] }

    @Test func releaseCountsDevicesAndUnquarantineTakesOne() throws {
        #expect(try CLI.run(["inventory", "--simulated", "--state-dir", dir.path + "/state"]).status == 0, "makes the simulated host")
        let acquired = try CLI.run(["lease", "acquire", "--pool", "nic", "--owner", "vm-w", "--json"] + direct)
        #expect(acquired.status == 0, "\(acquired.stderr)")
        let lease = try #require(try JSONSerialization.jsonObject(with: Data(acquired.stdout.utf8)) as? [String: Any])
        let id = try #require(lease["id"] as? String)
        // The simulated host without its e1000e driver: the release cannot rebind it, so it is quarantined.
        let drivers = dir.path + "/state/simulated-host/sys/bus/pci/drivers"
        try FileManager.default.moveItem(atPath: drivers + "/e1000e", toPath: dir.path + "/e1000e.unloaded")
        let released = try CLI.run(["lease", "release", id] + direct)
        #expect(released.status == 0, "\(released.stderr)")
        #expect(released.stdout == """
            released \(id) (1 device returned to pool nic)
            quarantined 0000:5e:00.0: release of lease \(id) failed: device 0000:5e:00.0 did not rebind to its host driver e1000e \
            (driver now: none); is e1000e loaded?

            """)
        let noDriver = try CLI.run(["vf", "unquarantine", "0000:5e:00.0"] + direct)
        #expect(noDriver.status != 0 && noDriver.stdout.isEmpty)
        #expect(noDriver.stderr.contains("device 0000:5e:00.0 stays quarantined: the scrub failed: device 0000:5e:00.0 has no driver after drivers_probe; load its host driver"), "\(noDriver.stderr)")
        #expect(try CLI.run(["pool", "list"] + direct).stdout.contains("nic   1      0     0       1"))

        try FileManager.default.moveItem(atPath: dir.path + "/e1000e.unloaded", toPath: drivers + "/e1000e")
        let back = try CLI.run(["vf", "unquarantine", "0000:5e:00.0"] + direct)
        #expect(back.status == 0 && back.stdout == "0000:5e:00.0: scrubbed and back in pool nic\n", "\(back.stderr)")
        let inventory = try CLI.run(["inventory", "--simulated", "--state-dir", dir.path + "/state", "--json"])
        let functions = try #require(try JSONSerialization.jsonObject(with: Data(inventory.stdout.utf8)) as? [String: Any])["functions"] as? [[String: Any]]
        #expect(functions?.first { $0["pciAddress"] as? String == "0000:5e:00.0" }?["driver"] as? String == "e1000e")

        let notQuarantined = try CLI.run(["vf", "unquarantine", "0000:5e:00.0"] + direct)
        #expect(notQuarantined.status != 0 && notQuarantined.stdout.isEmpty)
        #expect(notQuarantined.stderr.contains("error: 0000:5e:00.0 is not quarantined"), "\(notQuarantined.stderr)")
    }

    /// The same release through sriovd prints the same lines: the daemon's answer says what it
    /// quarantined (no second request for the pools).
    @Test func releaseThroughSriovdSaysWhatItQuarantined() throws {
        #expect(try CLI.run(["inventory", "--simulated", "--state-dir", dir.path + "/state"]).status == 0, "makes the simulated host")
        let socket = dir.path + "/sriovd.sock"
        let d = try DaemonProcess(stateDir: dir.path + "/state", config: dir.path + "/sriovd.yaml", socket: socket)
        defer { _ = d.stop() }
        let acquired = try CLI.run(["lease", "acquire", "--pool", "nic", "--owner", "vm-w", "--json", "--socket", socket])
        #expect(acquired.status == 0, "\(acquired.stderr)")
        let id = try #require((try JSONSerialization.jsonObject(with: Data(acquired.stdout.utf8)) as? [String: Any])?["id"] as? String)
        let drivers = dir.path + "/state/simulated-host/sys/bus/pci/drivers"
        try FileManager.default.moveItem(atPath: drivers + "/e1000e", toPath: dir.path + "/e1000e.unloaded")
        defer { try? FileManager.default.moveItem(atPath: dir.path + "/e1000e.unloaded", toPath: drivers + "/e1000e") }
        let released = try CLI.run(["lease", "release", id, "--socket", socket])
        #expect(released.status == 0, "\(released.stderr)")
        #expect(released.stdout == """
            released \(id) (1 device returned to pool nic)
            quarantined 0000:5e:00.0: release of lease \(id) failed: device 0000:5e:00.0 did not rebind to its host driver e1000e \
            (driver now: none); is e1000e loaded?

            """)
    }
}
