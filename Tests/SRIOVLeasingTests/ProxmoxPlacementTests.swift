import Testing
import SRIOVCore
import SRIOVLeasing

/// `hostpciN` numbers and `pcie=1` chosen from a Proxmox VM's configuration (fixtures shaped like
/// `/etc/pve/qemu-server/<vmid>.conf`: the current section, `[PENDING]`, snapshots).
@Suite("Proxmox placement")
struct ProxmoxPlacementTests {
    static let q35WithDevices = """
        # web front end
        #   two NICs passed through by hand
        boot: order=scsi0
        cores: 4
        hostpci0: 0000:3b:00.0,pcie=1
        hostpci2: mapping=gpu0,pcie=1
        machine: pc-q35-8.1+pve0
        memory: 8192
        name: web-1
        parent: before-upgrade
        scsi0: local-lvm:vm-101-disk-0,size=32G

        [PENDING]
        hostpci3: 0000:5e:00.1

        [before-upgrade]
        hostpci1: 0000:af:00.0
        machine: pc-i440fx-7.2
        snaptime: 1700000000
        """

    @Test("the machine type decides pcie=1", arguments: [
        ("machine: q35\n", true), ("machine: pc-q35-8.1+pve0\n", true), ("machine: type=q35,viommu=intel\n", true),
        ("machine: q35,viommu=virtio\n", true), ("machine: pc-i440fx-8.1\n", false), ("machine: pc\n", false),
        ("machine: type=pc,viommu=virtio\n", false), ("cores: 2\n", false), ("", false),
    ])
    func machineType(text: String, q35: Bool) {
        #expect(ProxmoxVMConfig(parsing: text, source: "101.conf").isQ35 == q35)
    }

    @Test func currentAndPendingEntriesAreTakenSnapshotsAreNot() throws {
        let vm = ProxmoxVMConfig(parsing: Self.q35WithDevices, source: "101.conf")
        #expect(vm.usedIndices == [0, 2, 3])
        #expect(vm.machine == "pc-q35-8.1+pve0", "the snapshot's machine: line is the VM as it was")
        let placement = try ProxmoxPlacement.choose(count: 3, vm: vm, firstIndex: nil)
        #expect(placement == ProxmoxPlacement(indices: [1, 4, 5], pcie: true))
    }

    @Test func notQ35LeavesPCIeOutWithANote() throws {
        let vm = ProxmoxVMConfig(parsing: "machine: pc-i440fx-8.1\nhostpci0: 0000:3b:00.0\n", source: "102.conf")
        let placement = try ProxmoxPlacement.choose(count: 1, vm: vm, firstIndex: nil)
        #expect(placement.indices == [1] && !placement.pcie)
        #expect(placement.note?.contains("102.conf is not a q35 machine (machine: pc-i440fx-8.1)") == true)
        let noMachine = try ProxmoxPlacement.choose(count: 1, vm: ProxmoxVMConfig(parsing: "cores: 1\n", source: "103.conf"), firstIndex: nil)
        #expect(!noMachine.pcie && noMachine.note?.contains("no machine: line, so i440fx") == true)
    }

    @Test func withoutAVMConfigLinesStartAtTheIndexGiven() throws {
        #expect(try ProxmoxPlacement.choose(count: 2, vm: nil, firstIndex: nil) == ProxmoxPlacement(indices: [0, 1], pcie: true))
        #expect(try ProxmoxPlacement.choose(count: 2, vm: nil, firstIndex: 4) == ProxmoxPlacement(indices: [4, 5], pcie: true))
    }

    @Test func refusals() {
        let vm = ProxmoxVMConfig(parsing: Self.q35WithDevices, source: "101.conf")
        #expect(throws: SRIOVError.self) { try ProxmoxPlacement.choose(count: 2, vm: vm, firstIndex: 1) }
        do {
            _ = try ProxmoxPlacement.choose(count: 2, vm: vm, firstIndex: 1)
        } catch {
            #expect(error.message == "101.conf already has hostpci2: choose another --hostpci-index, or leave it out to take the free ones")
        }
        do {
            _ = try ProxmoxPlacement.choose(count: 2, vm: nil, firstIndex: 15)
            Issue.record("hostpci15 + 1 is past Proxmox's 16 entries")
        } catch {
            #expect(error.code == .invalidArgument && error.message.contains("hostpci15 to hostpci16"))
        }
        let full = ProxmoxVMConfig(parsing: (0..<15).map { "hostpci\($0): 0000:3b:00.\($0 % 8)\n" }.joined() + "machine: q35\n", source: "104.conf")
        do {
            _ = try ProxmoxPlacement.choose(count: 2, vm: full, firstIndex: nil)
            Issue.record("only hostpci15 is free")
        } catch {
            #expect(error.message == "104.conf uses 15 of Proxmox's 16 hostpci entries; the lease's 2 VF(s) do not fit: remove passthrough devices the VM no longer needs")
        }
    }
}
