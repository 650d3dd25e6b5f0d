import Foundation
import SRIOVTestSupport
import Testing

/// `sriovctl lease show --format proxmox|dpdk` on the simulated host (`--direct`): hostpci numbers taken
/// from a Proxmox VM's configuration, pcie=1 only on q35, and the refusals that name the fix.
@Suite("sriovctl lease show: Proxmox and DPDK attach", .serialized, .ownThread)
struct AttachFormatCLITests {
    let dir: TempDirectory
    init() throws {
        dir = try TempDirectory("ctl-attach")
        try dir.file("sriovd.yaml", DaemonClientCLITests.config)
        try dir.file("101.conf", "cores: 2\nhostpci0: 0000:3b:00.0,pcie=1\nhostpci1: mapping=gpu,pcie=1\nmachine: q35\n")
        try dir.file("102.conf", "cores: 2\nhostpci0: 0000:3b:00.0\n")
    }

    var direct: [String] { ["--direct", "--simulated", "--state-dir", dir.path + "/state", "--config", dir.path + "/sriovd.yaml"] }

    @Test func proxmoxLinesFollowTheVMAndDPDKIsOneLine() throws {
        #expect(try CLI.run(["inventory", "--simulated", "--state-dir", dir.path + "/state"]).status == 0, "makes the simulated host")
        let acquired = try CLI.run(["lease", "acquire", "--pool", "uplink", "--owner", "vm-p", "--count", "2", "--vlan", "100", "--json"] + direct)
        #expect(acquired.status == 0, "\(acquired.stderr)")
        let lease = try #require(try JSONSerialization.jsonObject(with: Data(acquired.stdout.utf8)) as? [String: Any])
        let id = try #require(lease["id"] as? String)
        let vfs = try #require(lease["vfs"] as? [[String: Any]]).compactMap { $0["pciAddress"] as? String }
        #expect(vfs.count == 2)

        let q35 = try CLI.run(["lease", "show", id, "--format", "proxmox", "--vm-config", dir.path + "/101.conf"] + direct)
        #expect(q35.status == 0 && q35.stderr.isEmpty, "\(q35.stderr)")
        #expect(q35.stdout == "hostpci2: \(vfs[0]),pcie=1\nhostpci3: \(vfs[1]),pcie=1\n")

        let i440fx = try CLI.run(["lease", "show", id, "--format", "proxmox", "--vm-config", dir.path + "/102.conf"] + direct)
        #expect(i440fx.status == 0)
        #expect(i440fx.stdout == "hostpci1: \(vfs[0])\nhostpci2: \(vfs[1])\n")
        #expect(i440fx.stderr.hasPrefix("sriovctl: note: \(dir.path)/102.conf is not a q35 machine (no machine: line, so i440fx): pcie=1 left out"))

        let numbered = try CLI.run(["lease", "show", id, "--format", "proxmox", "--hostpci-index", "6"] + direct)
        #expect(numbered.stdout == "hostpci6: \(vfs[0]),pcie=1\nhostpci7: \(vfs[1]),pcie=1\n")

        let collides = try CLI.run(["lease", "show", id, "--format", "proxmox", "--hostpci-index", "1", "--vm-config", dir.path + "/101.conf"] + direct)
        #expect(collides.status == 64 && collides.stdout.isEmpty)
        #expect(collides.stderr == "sriovctl: error: \(dir.path)/101.conf already has hostpci1: choose another --hostpci-index, or leave it out to take the free ones\n")

        let missing = try CLI.run(["lease", "show", id, "--format", "proxmox", "--vm-config", dir.path + "/nope.conf"] + direct)
        #expect(missing.status != 0 && missing.stdout.isEmpty)
        #expect(missing.stderr.contains("cannot read the Proxmox VM configuration \(dir.path)/nope.conf: No such file or directory"))

        let wrongFormat = try CLI.run(["lease", "show", id, "--format", "qemu", "--hostpci-index", "1"] + direct)
        #expect(wrongFormat.status == 64 && wrongFormat.stderr.contains("use them with --format proxmox"))
        let badVMID = try CLI.run(["lease", "show", id, "--format", "proxmox", "--vmid", "../1"] + direct)
        #expect(badVMID.status == 64 && badVMID.stdout.isEmpty)

        let dpdk = try CLI.run(["lease", "show", id, "--format", "dpdk"] + direct)
        #expect(dpdk.status == 0 && dpdk.stdout == "--allow \(vfs[0]) --allow \(vfs[1])\n")
    }
}
