import Testing
import SRIOVCore
import SRIOVTestSupport
@testable import SRIOVSysfs

@Suite("Sysfs discovery over fixture trees")
struct DiscoveryTests {
    func paths(_ f: SysfsFixture) -> HostPaths { HostPaths(sysfs: f.sys, procfs: f.proc, modules: f.dir.path + "/lib/modules") }

    /// One E810 PF with two VFs (one bound to iavf with a netdev, one driverless with an override).
    func standardFixture() throws -> SysfsFixture {
        let f = try SysfsFixture()
        try f.device("0000:3b:00.0", driver: "ice", group: 10)
        try f.pf("0000:3b:00.0", numVFs: 2, totalVFs: 64)
        try f.netdev("ens1f0", of: "0000:3b:00.0")
        try f.device("0000:3b:02.0", device: "0x1889", driver: "iavf", group: 11)
        try f.vf("0000:3b:02.0", of: "0000:3b:00.0", index: 0)
        try f.netdev("ens1f0v0", of: "0000:3b:02.0", operstate: "down")
        try f.device("0000:3b:02.1", device: "0x1889", group: 12)
        try f.vf("0000:3b:02.1", of: "0000:3b:00.0", index: 1)
        try f.dir.file("sys/devices/pci0000:00/0000:3b:02.1/driver_override", "vfio-pci\n")
        try f.dir.file("sys/devices/pci0000:00/0000:3b:02.0/driver_override", "(null)\n")
        // A device without SR-IOV is not a PF.
        try f.device("0000:00:17.0", vendor: "0x8086", device: "0xa352", driver: "ahci", group: 3, classCode: "0x010601")
        return f
    }

    @Test func readsPFsAndVFs() throws {
        let f = try standardFixture()
        let inv = try SysfsDiscovery(paths: paths(f)).inventory()
        #expect(inv.pfs.count == 1)
        let pf = try #require(inv.pfs.first)
        #expect(pf.pciAddress.description == "0000:3b:00.0")
        #expect(pf.vendorID == "8086" && pf.deviceID == "1593" && pf.driver == "ice")
        #expect(pf.interfaces.map(\.name) == ["ens1f0"])
        #expect(pf.numVFs == 2 && pf.totalVFs == 64 && pf.driversAutoprobe == true)
        #expect(pf.numaNode?.value == 0 && pf.linkState == "up" && pf.iommuGroup == 10)
        #expect(pf.problems.isEmpty)
        #expect(pf.vfs.map(\.index) == [0, 1])
        #expect(pf.vfs[0].driver == "iavf" && pf.vfs[0].interfaces.map(\.name) == ["ens1f0v0"] && pf.vfs[0].iommuGroup == 11)
        #expect(pf.vfs[0].driverOverride == nil)
        #expect(pf.vfs[1].driver == nil && pf.vfs[1].driverOverride == "vfio-pci" && pf.vfs[1].iommuGroup == 12)
        #expect(inv.host.iommuGroupsPresent && inv.host.iommuGroupCount == 4)
        #expect(inv.host.iommuGroups.map(\.id) == [10, 11, 12])
        #expect(inv.host.iommuCommandLine.intelIOMMU == "on")
    }

    @Test func groupPeersThatAreNotSRIOVDevicesAreFound() throws {
        let f = try standardFixture()
        // A SATA controller in VF 1's group (no ACS between them): doctor must see it with its driver.
        try f.device("0000:3c:00.0", vendor: "0x8086", device: "0xa352", driver: "ahci", group: 12, classCode: "0x010601")
        let inv = try SysfsDiscovery(paths: paths(f)).inventory()
        let group = try #require(inv.host.group(12))
        #expect(group.members.map(\.pciAddress.description) == ["0000:3b:02.1", "0000:3c:00.0"])
        #expect(group.members[1].driver == "ahci" && group.members[1].classCode == "0x010601")
        #expect(Doctor.run(inv).first { $0.id == "vf-isolation:0000:3b:00.0" }?.status == .warn)
    }

    /// A discovery scoped to one PF still sees every member of its VFs' groups, with driver and class.
    @Test func aScopedDiscoveryReadsTheGroupsWhole() throws {
        let f = try standardFixture()
        try f.device("0000:3c:00.0", vendor: "0x8086", device: "0xa352", driver: "ahci", group: 12, classCode: "0x010601")
        // A NIC without SR-IOV outside the scope.
        try f.device("0000:5e:00.0", vendor: "0x8086", device: "0x1572", driver: "i40e", group: 20)
        let discovery = SysfsDiscovery(paths: paths(f))
        let whole = try discovery.inventory()
        #expect(whole.functions.map(\.pciAddress.description) == ["0000:5e:00.0"])
        for scope in [DiscoveryScope(interfaces: ["ens1f0"]), DiscoveryScope(devices: [PCIAddress("0000:3b:02.1")!])] {
            let scoped = try discovery.inventory(scope: scope)
            #expect(scoped.pfs == whole.pfs)
            #expect(scoped.host.iommuGroups == whole.host.iommuGroups.filter { $0.id != 20 })
            #expect(try #require(scoped.host.group(12)).members.map(\.pciAddress.description) == ["0000:3b:02.1", "0000:3c:00.0"])
            #expect(scoped.functions.isEmpty && scoped.host.group(20) == nil)
        }
        #expect(whole.host.group(20) != nil)
    }

    @Test func danglingVirtfnLinkIsAProblemNotACrash() throws {
        let f = try standardFixture()
        try f.dir.link("sys/devices/pci0000:00/0000:3b:00.0/virtfn2", to: "../0000:3b:02.2")
        try f.dir.file("sys/devices/pci0000:00/0000:3b:00.0/sriov_numvfs", "3\n")
        let pf = try #require(try SysfsDiscovery(paths: paths(f)).inventory().pfs.first)
        #expect(pf.vfs.count == 2)
        #expect(pf.problems.contains { $0.contains("virtfn2 points to 0000:3b:02.2, which does not exist") })
    }

    @Test func missingNumaNodeMeansNoNode() throws {
        let f = try SysfsFixture()
        try f.device("0000:af:00.0", vendor: "0x15b3", device: "0x1017", numa: nil, driver: "mlx5_core", group: 1)
        try f.pf("0000:af:00.0", numVFs: 0, totalVFs: 8)
        let pf = try #require(try SysfsDiscovery(paths: paths(f)).inventory().pfs.first)
        #expect(pf.numaNode == nil && pf.problems.isEmpty)
    }

    @Test func unreadableAttributeIsRecorded() throws {
        let f = try standardFixture()
        // A directory where a file should be: open succeeds, read fails with EISDIR (root reads any mode).
        try f.dir.link("sys/devices/pci0000:00/0000:3b:00.0/sriov_numvfs", to: "/")
        let pf = try #require(try SysfsDiscovery(paths: paths(f)).inventory().pfs.first)
        #expect(pf.problems.contains { $0.contains("sriov_numvfs") })
        #expect(pf.vfs.count == 2)
    }

    @Test func garbageDeviceNameIgnored() throws {
        let f = try standardFixture()
        try f.dir.dir("sys/bus/pci/devices/not-a-device")
        let inv = try SysfsDiscovery(paths: paths(f)).inventory()
        #expect(inv.pfs.count == 1)
        #expect(inv.host.problems.contains { $0.contains("not-a-device") })
    }

    @Test func managementThroughVLANOnAVF() throws {
        let f = try standardFixture()
        // Default route on a VLAN whose lower device is VF 0's netdev: the VF and its PF are management.
        try f.dir.file("proc/net/route", """
            Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT
            mgmt.10\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0

            """)
        try f.dir.dir("sys/class/net/mgmt.10")
        try f.dir.link("sys/class/net/mgmt.10/lower_ens1f0v0", to: "../ens1f0v0")
        let inv = try SysfsDiscovery(paths: paths(f)).inventory()
        #expect(inv.host.defaultRouteInterfaces.map(\.name) == ["mgmt.10"])
        #expect(inv.host.managementDevices.map(\.description) == ["0000:3b:00.0", "0000:3b:02.0"])
        #expect(inv.pfs[0].isManagement)
    }

    @Test func managementBehindAVirtioDevice() throws {
        let f = try standardFixture()
        // virtio-net: class/net/eth0/device -> .../0000:00:01.0/virtio0, not a PCI address itself.
        try f.device("0000:00:01.0", vendor: "0x1af4", device: "0x1041", driver: "virtio-pci", group: 1)
        try f.dir.dir("sys/devices/pci0000:00/0000:00:01.0/virtio0/net/eth0")
        try f.dir.link("sys/devices/pci0000:00/0000:00:01.0/virtio0/net/eth0/device", to: "../../../virtio0")
        try f.dir.link("sys/class/net/eth0", to: "../../devices/pci0000:00/0000:00:01.0/virtio0/net/eth0")
        try f.dir.file("proc/net/route", """
            Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT
            eth0\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\t0\t0\t0

            """)
        let inv = try SysfsDiscovery(paths: paths(f)).inventory()
        #expect(inv.host.managementDevices.map(\.description) == ["0000:00:01.0"])
        // virtio-net has no SR-IOV: it is a network function, marked as the management NIC, with its
        // netdev found through virtio0.
        let mgmt = try #require(inv.function(at: PCIAddress("0000:00:01.0")!))
        #expect(mgmt.isManagement && mgmt.interfaces.map(\.name) == ["eth0"] && mgmt.driver == "virtio-pci")
        #expect(!inv.pfs.contains { $0.pciAddress.description == "0000:00:01.0" })
    }

    /// Functions without SR-IOV: network ones are listed apart from the PFs with what sysfs says;
    /// bridges are recorded as bridges; VFs and other classes are neither.
    @Test func networkFunctionsWithoutSRIOV() throws {
        let f = try standardFixture()
        try f.device("0000:00:1c.0", vendor: "0x8086", device: "0xa110", driver: "pcieport", group: 7, classCode: "0x060400")
        try f.device("0000:05:00.0", vendor: "0x8086", device: "0x10d3", numa: "1", driver: "e1000e", group: 8)
        try f.netdev("enp5s0", of: "0000:05:00.0")
        try f.device("0000:06:00.0", vendor: "0x144d", device: "0xa808", driver: "nvme", group: 9, classCode: "0x010802")
        let inv = try SysfsDiscovery(paths: paths(f)).inventory()
        let nic = try #require(inv.function(at: PCIAddress("0000:05:00.0")!))
        #expect(nic.vendorID == "8086" && nic.deviceID == "10d3" && nic.classCode == "0x020000" && nic.driver == "e1000e")
        #expect(nic.interfaces.map(\.name) == ["enp5s0"] && nic.iommuGroup == 8 && nic.numaNode?.value == 1 && !nic.isManagement)
        #expect(!inv.pfs.contains { $0.pciAddress == nic.pciAddress })
        // Its group is known, with its class, as a PF's is.
        #expect(inv.host.group(8)?.members.map(\.classCode) == ["0x020000"])
        #expect(inv.function(at: PCIAddress("0000:06:00.0")!) == nil)
        #expect(inv.function(at: PCIAddress("0000:00:1c.0")!) == nil)
        #expect(inv.host.bridges.map(\.description) == ["0000:00:1c.0"])
        // The standard fixture's VFs are network functions too, but VFs: never listed here.
        #expect(!inv.functions.contains { address in inv.allVFs.contains { $0.pciAddress == address.pciAddress } })
    }

    @Test func ipv6DefaultRoute() throws {
        let f = try standardFixture()
        try f.dir.file("proc/net/ipv6_route",
                       "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003   ens1f0\n")
        let inv = try SysfsDiscovery(paths: paths(f)).inventory()
        #expect(inv.host.defaultRouteInterfaces.map(\.name) == ["ens1f0"])
        #expect(inv.pfs[0].isManagement)
    }

    @Test func nonexistentRootIsAClearError() {
        let p = HostPaths(sysfs: "/nonexistent/sys", procfs: "/proc", modules: "/lib/modules")
        #expect {
            try SysfsDiscovery(paths: p).inventory()
        } throws: { error in
            let e = error as? SRIOVError
            return e?.code == .notFound && e?.message.contains("/nonexistent/sys does not exist") == true
                && e?.message.contains("--sysfs-root") == true
        }
    }

    @Test func notASysfsTree() throws {
        let d = try TempDirectory()
        #expect {
            try SysfsDiscovery(paths: HostPaths(root: d.path)).inventory()
        } throws: { ($0 as? SRIOVError)?.message.contains("does not exist or is not a directory") == true }
        try d.dir("sys")
        #expect {
            try SysfsDiscovery(paths: HostPaths(root: d.path)).inventory()
        } throws: { ($0 as? SRIOVError)?.message.contains("no readable bus/pci/devices") == true }
    }

    @Test func vfioAvailabilityFromModulesDep() throws {
        let f = try standardFixture()
        try f.dir.file("proc/sys/kernel/osrelease", "6.1.0-test\n")
        var inv = try SysfsDiscovery(paths: paths(f)).inventory()
        #expect(!inv.host.vfioPCIAvailable && !inv.host.vfioPCILoaded)
        try f.dir.file("lib/modules/6.1.0-test/modules.dep", "kernel/drivers/vfio/pci/vfio-pci.ko: kernel/drivers/vfio/vfio.ko\n")
        inv = try SysfsDiscovery(paths: paths(f)).inventory()
        #expect(inv.host.vfioPCIAvailable && !inv.host.vfioPCILoaded)
        try f.dir.dir("sys/bus/pci/drivers/vfio-pci")
        inv = try SysfsDiscovery(paths: paths(f)).inventory()
        #expect(inv.host.vfioPCILoaded)
    }

    @Test func interruptRemappingFromProcInterrupts() throws {
        let f = try standardFixture()
        var inv = try SysfsDiscovery(paths: paths(f)).inventory()
        #expect(inv.host.interruptRemapping == nil)
        try f.dir.file("proc/interrupts", "  24:  1  0  PCI-MSI 524288-edge nvme0q0\n")
        inv = try SysfsDiscovery(paths: paths(f)).inventory()
        #expect(inv.host.interruptRemapping == false)
        try f.dir.file("proc/interrupts", "  24:  1  0  IR-PCI-MSI 524288-edge nvme0q0\n")
        inv = try SysfsDiscovery(paths: paths(f)).inventory()
        #expect(inv.host.interruptRemapping == true)
    }
}

@Suite("Sysfs writes")
struct SysfsWriteTests {
    @Test func writesAttributesAsSingleWrites() throws {
        let f = try SysfsFixture()
        try f.device("0000:3b:00.0", driver: "ice", group: 1)
        try f.pf("0000:3b:00.0", numVFs: 0, totalVFs: 8)
        try f.dir.file("sys/devices/pci0000:00/0000:3b:00.0/driver_override", "(null)\n")
        try f.dir.file("sys/bus/pci/drivers_probe", "")
        try f.dir.file("sys/bus/pci/drivers/ice/unbind", "")
        let control = SysfsPCIControl(paths: HostPaths(sysfs: f.sys, procfs: f.proc, modules: "/lib/modules"))
        let pf = PCIAddress("0000:3b:00.0")!
        let d = "sys/devices/pci0000:00/0000:3b:00.0/"
        // Regular files keep old bytes past a shorter write; empty them so each check sees one write's bytes.
        for name in ["sriov_numvfs", "sriov_drivers_autoprobe", "driver_override"] { try f.dir.file(d + name, "") }
        try control.writeNumVFs(4, pf: pf)
        #expect(f.dir.read("sys/devices/pci0000:00/0000:3b:00.0/sriov_numvfs") == "4")
        try control.writeDriversAutoprobe(false, pf: pf)
        #expect(f.dir.read("sys/devices/pci0000:00/0000:3b:00.0/sriov_drivers_autoprobe") == "0")
        try control.writeDriverOverride("vfio-pci", device: pf)
        #expect(f.dir.read("sys/devices/pci0000:00/0000:3b:00.0/driver_override") == "vfio-pci")
        try f.dir.file(d + "driver_override", "")
        try control.writeDriverOverride(nil, device: pf)
        #expect(f.dir.read("sys/devices/pci0000:00/0000:3b:00.0/driver_override") == "\n")
        try control.probe(pf)
        #expect(f.dir.read("sys/bus/pci/drivers_probe") == "0000:3b:00.0")
        try control.unbind(pf)
        #expect(f.dir.read("sys/bus/pci/drivers/ice/unbind") == "0000:3b:00.0")
        #expect(throws: SRIOVError.self) { try control.writeDriverOverride("../evil", device: pf) }
    }

    @Test func missingAttributeNamesDeviceAndRemedy() throws {
        let f = try SysfsFixture()
        let control = SysfsPCIControl(paths: HostPaths(sysfs: f.sys, procfs: f.proc, modules: "/lib/modules"))
        #expect {
            try control.writeNumVFs(4, pf: PCIAddress("0000:3b:00.0")!)
        } throws: { error in
            let e = error as? SRIOVError
            return e?.errno == Errno.ENOENT && e?.message.hasPrefix("0000:3b:00.0: cannot set sriov_numvfs to 4") == true
                && e?.message.contains("no driver bound") == true
        }
    }
}
