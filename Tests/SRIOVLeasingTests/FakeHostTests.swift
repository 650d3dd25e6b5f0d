import Testing
import SRIOVCore
import SRIOVFakeHost
import SRIOVSimulator
import SRIOVTestSupport

/// The in-memory fake host keeps the kernel's rules the simulator keeps, and reads back as the
/// simulator's tree does, so engine tests on it mean what they meant on the simulator.
@Suite("Fake host: the kernel's rules, in memory")
struct FakeHostTests {
    let host: FakeHost
    init() throws { host = try FakeHost() }

    func address(_ text: String) throws -> PCIAddress { try #require(PCIAddress(text)) }

    func expectErrno(_ errno: Int32, _ body: () throws -> Void) {
        #expect { try body() } throws: { ($0 as? SRIOVError)?.errno == errno }
    }

    @Test func readsBackLikeTheSimulatorsTree() async throws {
        let dir = try TempDirectory("fake-vs-sim")
        let sim = try SimulatedHost.create(directory: dir.path + "/sim", spec: .standard())
        #expect(try host.inventory() == sim.inventory())
        // After the same writes, too: a VF on vfio-pci, a VF count changed through 0, autoprobe off.
        let vf = try #require(try sim.inventory().pf(named: "ens1f0").vfs.first?.pciAddress)
        let pf = try address("0000:af:00.0")
        for h in [host as any PCIDeviceControl, sim] {
            try h.rebind(vf, override: "vfio-pci")
            try h.writeDriversAutoprobe(false, pf: pf)
            try h.writeNumVFs(0, pf: pf)
            try h.writeNumVFs(6, pf: pf)
        }
        #expect(try host.inventory() == sim.inventory())
        #expect(try host.device(vf) == sim.device(vf))
        let group = try #require(try host.device(vf)?.iommuGroup?.id)
        #expect(host.vfioGroupNode(group) == VFIOGroupNode(path: "/dev/vfio/\(group)", exists: true))
        #expect(sim.vfioGroupNode(group).exists)
        let ens4 = try #require(InterfaceName("ens4f0np0"))
        #expect(try await host.readVFs(pf: ens4) == sim.readVFs(pf: ens4))
    }

    @Test func standardHostMirrorsTheSimulatorsSpec() throws {
        let inventory = try host.inventory()
        #expect(inventory.pfs.map(\.displayName) == ["eno1", "ens1f0", "ens1f1", "ens4f0np0", "ens4f1np1"])
        #expect(inventory.pfs.map(\.numVFs) == [0, 8, 8, 4, 0])
        #expect(inventory.pfs.map(\.totalVFs) == [7, 64, 64, 16, 16])
        #expect(inventory.host.defaultRouteInterfaces.map(\.name) == ["eno1"])
        #expect(inventory.pfs.filter(\.isManagement).map(\.displayName) == ["eno1"])
        // SR-IOV routing: ens1f0's VF n is at 3b:00.0 + 0x10 + n.
        #expect(try inventory.pf(named: "ens1f0").vfs.map(\.pciAddress.description).prefix(2) == ["0000:3b:02.0", "0000:3b:02.1"])
        #expect(try inventory.pf(named: "ens1f0").vfs.allSatisfy { $0.driver == "iavf" && $0.interfaces.count == 1 })
    }

    @Test func vfCountChangesOnlyThroughZero() throws {
        let ens1f0 = try address("0000:3b:00.0")
        expectErrno(Errno.EBUSY) { try host.writeNumVFs(4, pf: ens1f0) }
        expectErrno(Errno.ERANGE) { try host.writeNumVFs(65, pf: ens1f0) }
        try host.writeNumVFs(8, pf: ens1f0) // the current count: a no-op
        try host.writeNumVFs(0, pf: ens1f0)
        #expect(host.presentVFs(of: ens1f0) == 0)
        try host.writeNumVFs(4, pf: ens1f0)
        #expect(try host.readNumVFs(.pci(ens1f0)) == 4 && host.presentVFs(of: ens1f0) == 4)
    }

    @Test func noPFDriverAnswersENOENT() throws {
        var spec = FakeHost.Spec.standard()
        spec.pfs[4].driverBound = false
        let h = try FakeHost(spec: spec)
        #expect {
            try h.writeNumVFs(2, pf: try address("0000:af:00.1"))
        } throws: { error in
            let e = error as? SRIOVError
            return e?.errno == Errno.ENOENT && e?.message.contains("the PF has no driver bound") == true
        }
    }

    @Test func overrideAndProbeBindAndVFIONodeFollows() throws {
        let vf = try #require(try host.inventory().pf(named: "ens1f1").vfs.first)
        let group = try #require(vf.iommuGroup)
        try host.writeDriverOverride("vfio-pci", device: vf.pciAddress)
        #expect(try host.device(vf.pciAddress)?.driver == "iavf", "driver_override does not unbind")
        try host.probe(vf.pciAddress)
        #expect(try host.device(vf.pciAddress)?.driver == "iavf", "a bound device stays as it is")
        try host.unbind(vf.pciAddress)
        try host.unbind(vf.pciAddress) // unbound: a no-op
        try host.probe(vf.pciAddress)
        #expect(try host.device(vf.pciAddress)?.driver == "vfio-pci" && host.vfioNodeExists(group))
        try host.detach(vf.pciAddress)
        #expect(try host.device(vf.pciAddress) == DeviceStatus(pciAddress: vf.pciAddress, driver: nil, driverOverride: nil,
                                                               iommuGroup: IOMMUGroup(id: group, members: [IOMMUGroupMember(pciAddress: vf.pciAddress)])))
        #expect(!host.vfioNodeExists(group))
        expectErrno(Errno.ENODEV) { try host.probe(try address("0000:3b:0f.0")) }
    }

    @Test func autoprobeOffLeavesVFsUnboundUnlessOverridden() throws {
        let pf = try address("0000:3b:00.1")
        try host.writeDriversAutoprobe(false, pf: pf)
        try host.writeNumVFs(0, pf: pf)
        try host.writeNumVFs(2, pf: pf)
        let vfs = try host.inventory().pf(named: "ens1f1").vfs
        #expect(vfs.allSatisfy { $0.driver == nil && $0.interfaces.isEmpty })
        try host.probe(vfs[0].pciAddress)
        #expect(try host.device(vfs[0].pciAddress)?.driver == nil, "pci_device_can_probe(): autoprobe 0")
        try host.writeDriverOverride("iavf", device: vfs[0].pciAddress)
        try host.probe(vfs[0].pciAddress)
        #expect(try host.device(vfs[0].pciAddress)?.driver == "iavf")
    }

    @Test func vfSettingsReadBackWithDriverQuirks() async throws {
        var spec = FakeHost.Spec.standard()
        spec.pfs[0].initialVFs = 2
        let h = try FakeHost(spec: spec)
        let eno1 = try #require(InterfaceName("eno1"))
        await #expect { try await h.apply(.linkState(.enable), vf: 0, pf: eno1) } throws: { ($0 as? SRIOVError)?.errno == Errno.EOPNOTSUPP }
        await #expect { try await h.apply(.rate(min: 10, max: 0), vf: 0, pf: eno1) } throws: { ($0 as? SRIOVError)?.errno == Errno.EINVAL }
        try await h.apply(.rate(min: 0, max: 100), vf: 0, pf: eno1)
        h.setLink(eno1, up: false)
        await #expect { try await h.apply(.rate(min: 0, max: 200), vf: 0, pf: eno1) } throws: { ($0 as? SRIOVError)?.errno == Errno.EINVAL }
        #expect(try await h.readVFs(pf: eno1).vf(0)?.maxTxRate == 100)
        #expect(try await h.readVFs(pf: eno1).vf(0)?.linkState == nil)
        // A VF count change resets the settings: new VFs.
        let ens1f0 = try #require(InterfaceName("ens1f0"))
        try await h.apply(.trust(true), vf: 5, pf: ens1f0)
        #expect(try await h.readVFs(pf: ens1f0).vf(5)?.trust == true)
        try h.writeNumVFs(0, pf: try address("0000:3b:00.0"))
        try h.writeNumVFs(8, pf: try address("0000:3b:00.0"))
        #expect(try await h.readVFs(pf: ens1f0).vf(5)?.trust == false)
    }

    @Test func resolvesPFsLikeTheSysfsResolver() throws {
        #expect(try host.resolvePF("ens1f0").label == "0000:3b:00.0 (ens1f0)")
        #expect(try host.resolvePF("0000:af:00.1").interface?.name == "ens4f1np1")
        #expect(try host.resolvePF("eno1").isManagement)
        #expect { try host.resolvePF("0000:3b:02.0") } throws: { ($0 as? SRIOVError)?.message.contains("is a VF, not a PF") == true }
        #expect { try host.resolvePF("ens1f0v0") } throws: { ($0 as? SRIOVError)?.message.contains("is the netdev of VF 0000:3b:02.0") == true }
        #expect { try host.resolvePF("nope0") } throws: { ($0 as? SRIOVError)?.code == .notFound }
        #expect { try host.resolvePF("../etc") } throws: { ($0 as? SRIOVError)?.code == .invalidArgument }
    }

    /// `NumVFsChange` over the seams: autoprobe first, then through 0, in that order; a refused new
    /// count puts the old one back and says so.
    @Test func numVFsChangeWritesInOrderAndRestores() async throws {
        let change = NumVFsChange(source: host, control: host)
        let ens1f0 = try address("0000:3b:00.0")
        let outcome = try await change.run(try host.resolvePF("ens1f0"), to: 4, autoprobe: false, force: false,
                                           timeout: .seconds(5)) { _ in }
        #expect(outcome == .init(before: 8, after: 4))
        #expect(host.writes == [.driversAutoprobe(ens1f0, false), .numVFs(ens1f0, 0), .numVFs(ens1f0, 4)])

        host.clearWrites()
        host.failNext(.numVFs(ens1f0, 16), errno: Errno.ENOSPC)
        await #expect {
            try await change.run(try host.resolvePF("ens1f0"), to: 16, autoprobe: nil, force: false, timeout: .seconds(5)) { _ in }
        } throws: { error in
            let e = error as? SRIOVError
            return e?.code == .kernelRefused && e?.errno == Errno.ENOSPC
                && e?.message == "0000:3b:00.0 (ens1f0): cannot set sriov_numvfs to 16: not enough MSI-X vectors or PCI bus numbers for 16 VFs (ENOSPC): ask for fewer, enable ARI/SR-IOV in the firmware, or boot with pci=realloc; the previous 4 VFs were restored (new VFs, so leases and settings on them are gone)"
        }
        #expect(host.writes == [.numVFs(ens1f0, 0), .numVFs(ens1f0, 16), .numVFs(ens1f0, 4)])
        #expect(try host.readNumVFs(.pci(ens1f0)) == 4)
    }
}
