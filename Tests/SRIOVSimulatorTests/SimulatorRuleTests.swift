import Foundation
import Testing
import SRIOVCore
import SRIOVSysfs
import SRIOVTestSupport
@testable import SRIOVSimulator

@Suite("Simulated host: the kernel's rules")
struct SimulatorRuleTests {
    let dir: TempDirectory
    let host: SimulatedHost

    init() throws {
        dir = try TempDirectory("simhost")
        host = try SimulatedHost.create(directory: dir.path + "/host", spec: .standard())
    }

    func a(_ s: String) -> PCIAddress { PCIAddress(s)! }
    func pf(_ s: String) throws -> PhysicalFunction { try host.inventory().pf(named: s) }

    func expectErrno(_ errno: Int32, _ body: () throws -> Void) {
        #expect {
            try body()
        } throws: { ($0 as? SRIOVError)?.errno == errno }
    }

    @Test func standardHostShape() throws {
        let inv = try host.inventory()
        #expect(inv.pfs.count == 5)
        #expect(Set(inv.pfs.compactMap(\.numaNode?.value)) == [0, 1])
        #expect(Set(inv.pfs.compactMap(\.driver)).count == 3)
        #expect(inv.host.defaultRouteInterfaces.map(\.name) == ["eno1"])
        #expect(inv.pfs.filter(\.isManagement).map(\.displayName) == ["eno1"])
        #expect(inv.pfs.allSatisfy { $0.problems.isEmpty })
        let ens1f0 = try pf("ens1f0")
        #expect(ens1f0.numVFs == 8 && ens1f0.vfs.count == 8 && ens1f0.vfs.allSatisfy { $0.driver == "iavf" })
        // Every VF in its own IOMMU group, and the doctor is happy with the standard host.
        let groups = inv.allVFs.compactMap(\.iommuGroup)
        #expect(Set(groups).count == inv.allVFs.count)
        #expect(Doctor.run(inv).allSatisfy { $0.status != .fail })
    }

    @Test func numVFsAboveTotalIsERANGE() throws {
        expectErrno(Errno.ERANGE) { try host.writeNumVFs(65, pf: a("0000:3b:00.0")) }
        #expect(try pf("ens1f0").numVFs == 8)
    }

    @Test func nonZeroToOtherNonZeroIsEBUSY() throws {
        expectErrno(Errno.EBUSY) { try host.writeNumVFs(4, pf: a("0000:3b:00.0")) }
        #expect(try pf("ens1f0").vfs.count == 8)
    }

    @Test func sameValueIsANoOp() throws {
        try host.writeNumVFs(8, pf: a("0000:3b:00.0"))
        #expect(try pf("ens1f0").vfs.count == 8)
    }

    @Test func zeroRemovesVFsAndTheirGroups() throws {
        let before = try host.inventory()
        let vfAddresses = try pf("ens1f0").vfs.map(\.pciAddress)
        try host.writeNumVFs(0, pf: a("0000:3b:00.0"))
        let after = try host.inventory()
        let ens1f0 = try after.pf(named: "ens1f0")
        #expect(ens1f0.numVFs == 0 && ens1f0.vfs.isEmpty && ens1f0.problems.isEmpty)
        #expect(after.host.iommuGroupCount == before.host.iommuGroupCount - 8)
        for vf in vfAddresses { #expect(!FileSystem.entryExists(host.paths.device(vf))) }
        #expect(!dir.exists("host/sys/class/net/ens1f0v0"))
    }

    @Test func newCountCreatesLinksDevicesGroupsAndBinds() throws {
        try host.writeNumVFs(3, pf: a("0000:af:00.1"))
        let p = try pf("ens4f1np1")
        #expect(p.numVFs == 3 && p.vfs.map(\.index) == [0, 1, 2])
        // Offset 0x11 from af:00.1 (RID 0xaf01) -> af:02.2.
        #expect(p.vfs.map(\.pciAddress.description) == ["0000:af:02.2", "0000:af:02.3", "0000:af:02.4"])
        #expect(p.vfs.allSatisfy { $0.driver == "mlx5_core" && $0.iommuGroup != nil && !$0.interfaces.isEmpty })
        #expect(FileSystem.linkBasename(host.paths.device(p.vfs[0].pciAddress) + "/physfn") == "0000:af:00.1")
    }

    @Test func autoprobeOffLeavesVFsDriverless() throws {
        try host.writeDriversAutoprobe(false, pf: a("0000:af:00.1"))
        try host.writeNumVFs(2, pf: a("0000:af:00.1"))
        let p = try pf("ens4f1np1")
        #expect(p.driversAutoprobe == false)
        #expect(p.vfs.count == 2 && p.vfs.allSatisfy { $0.driver == nil && $0.interfaces.isEmpty })
    }

    @Test func driverOverridePlusProbeBindsOnlyTheNamedDriver() throws {
        let vf = try pf("ens1f0").vfs[0]
        // Override does not unbind.
        try host.writeDriverOverride("vfio-pci", device: vf.pciAddress)
        #expect(try pf("ens1f0").vfs[0].driver == "iavf")
        try host.unbind(vf.pciAddress)
        var now = try pf("ens1f0").vfs[0]
        #expect(now.driver == nil && now.driverOverride == "vfio-pci" && now.interfaces.isEmpty)
        try host.probe(vf.pciAddress)
        now = try pf("ens1f0").vfs[0]
        #expect(now.driver == "vfio-pci")
        #expect(dir.exists("host/dev/vfio/\(try #require(now.iommuGroup))"))
        // Back: unbind, clear the override, probe -> the VF driver takes it again.
        try host.unbind(vf.pciAddress)
        #expect(!dir.exists("host/dev/vfio/\(try #require(now.iommuGroup))"))
        try host.writeDriverOverride(nil, device: vf.pciAddress)
        try host.probe(vf.pciAddress)
        now = try pf("ens1f0").vfs[0]
        #expect(now.driver == "iavf" && now.driverOverride == nil && now.interfaces.map(\.name) == ["ens1f0v0"])
    }

    @Test func autoprobeOffMeansOnlyAnOverrideBindsAVF() throws {
        try host.writeDriversAutoprobe(false, pf: a("0000:af:00.1"))
        try host.writeNumVFs(1, pf: a("0000:af:00.1"))
        let vf = try pf("ens4f1np1").vfs[0].pciAddress
        try host.probe(vf)
        #expect(try pf("ens4f1np1").vfs[0].driver == nil)
        try host.writeDriverOverride("mlx5_core", device: vf)
        try host.probe(vf)
        #expect(try pf("ens4f1np1").vfs[0].driver == "mlx5_core")
    }

    @Test func overrideToAnUnloadedDriverBindsNothing() throws {
        let vf = try pf("ens1f0").vfs[1]
        try host.unbind(vf.pciAddress)
        try host.writeDriverOverride("pci-stub", device: vf.pciAddress)
        try host.probe(vf.pciAddress)
        #expect(try pf("ens1f0").vfs[1].driver == nil)
    }

    @Test func unbindLeavesDeviceDriverlessAndIsIdempotent() throws {
        let vf = try pf("ens1f1").vfs[2]
        try host.unbind(vf.pciAddress)
        try host.unbind(vf.pciAddress)
        #expect(try pf("ens1f1").vfs[2].driver == nil)
    }

    @Test func noPFDriverIsENOENT() throws {
        var spec = SimulatedHostSpec.standard()
        spec.pfs[3].driverBound = false
        spec.pfs[3].initialVFs = 0
        let h = try SimulatedHost.create(directory: dir.path + "/nodriver", spec: spec)
        expectErrno(Errno.ENOENT) { try h.writeNumVFs(2, pf: a("0000:af:00.0")) }
    }

    @Test func driverMayEnableFewerThanAsked() throws {
        var spec = SimulatedHostSpec.standard()
        spec.profiles[2].maxVFsEnabled = 2
        let h = try SimulatedHost.create(directory: dir.path + "/fewer", spec: spec)
        try h.writeNumVFs(6, pf: a("0000:af:00.1"))
        #expect(try h.inventory().pf(named: "ens4f1np1").numVFs == 2)
    }

    @Test func withoutACSVFsJoinThePFGroup() throws {
        var spec = SimulatedHostSpec.standard()
        spec.pfs[3].acsIsolated = false
        let h = try SimulatedHost.create(directory: dir.path + "/noacs", spec: spec)
        let inv = try h.inventory()
        let p = try inv.pf(named: "ens4f0np0")
        #expect(p.vfs.allSatisfy { $0.iommuGroup == p.iommuGroup })
        #expect(Doctor.run(inv).first { $0.id == "vf-isolation:0000:af:00.0" }?.status == .fail)
    }

    @Test func unknownDeviceIsENODEV() {
        expectErrno(Errno.ENODEV) { try host.unbind(a("0000:99:00.0")) }
        expectErrno(Errno.ENOENT) { try host.writeNumVFs(1, pf: a("0000:99:00.0")) }
    }

    @Test func stateSurvivesReopening() throws {
        try host.writeNumVFs(0, pf: a("0000:3b:00.1"))
        let again = try SimulatedHost.openOrCreate(directory: host.directory)
        #expect(try again.inventory().pf(named: "ens1f1").numVFs == 0)
        #expect(again.spec == host.spec)
    }

    @Test func netlinkStateFollowsVFCount() throws {
        try host.writeNumVFs(0, pf: a("0000:3b:00.0"))
        #expect(try host.loadLinks().pfs["ens1f0"]?.vfs.isEmpty == true)
        try host.writeNumVFs(5, pf: a("0000:3b:00.0"))
        #expect(try host.loadLinks().pfs["ens1f0"]?.vfs.map(\.index) == [0, 1, 2, 3, 4])
    }

    @Test func legacySingleNetlinkFileIsSplitPerPF() throws {
        try host.writeNumVFs(0, pf: a("0000:3b:00.0"))
        try host.writeNumVFs(3, pf: a("0000:3b:00.0"))
        let before = try host.loadLinks()
        #expect(before.pfs.count > 1)
        // What builds before the per-PF files wrote: one netlink.state with every PF.
        try before.text.write(toFile: host.directory + "/netlink.state", atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: host.directory + "/netlink")
        let reopened = try SimulatedHost.open(directory: host.directory)
        #expect(try reopened.loadLinks() == before)
        #expect(!FileManager.default.fileExists(atPath: host.directory + "/netlink.state"))
        #expect(FileManager.default.fileExists(atPath: host.directory + "/netlink/ens1f0.table"))
    }

    @Test func generatedHostScales() throws {
        let h = try SimulatedHost.create(directory: dir.path + "/gen", spec: .generated(pfCount: 2, vfsPerPF: 256))
        let inv = try h.inventory()
        #expect(inv.pfs.count == 3)
        #expect(inv.pfs.filter { $0.numVFs == 256 }.allSatisfy { $0.vfs.count == 256 && $0.problems.isEmpty })
        #expect(Set(inv.allVFs.map(\.pciAddress)).count == 512)
    }

    @Test func badSpecsAreRejected() {
        var spec = SimulatedHostSpec.standard()
        spec.pfs[1].firstVFOffset = spec.pfs[2].firstVFOffset - 1
        #expect {
            try SimulatedHost.create(directory: dir.path + "/bad", spec: spec)
        } throws: { ($0 as? SRIOVError)?.message.contains("another device already uses") == true }
        #expect {
            try SimulatedHost.open(directory: dir.path + "/absent")
        } throws: { ($0 as? SRIOVError)?.code == .notFound }
    }

    @Test func corruptHostDescriptionIsReported() throws {
        try dir.file("host/host.json", "{ not json")
        #expect {
            try SimulatedHost.open(directory: host.directory)
        } throws: { ($0 as? SRIOVError)?.code == .corrupt }
    }
}
