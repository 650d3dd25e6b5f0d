import Testing
import SRIOVCore
import SRIOVSysfs
import SRIOVTestSupport
@testable import SRIOVSimulator

@Suite("VF count changes (on the simulated kernel)")
struct NumVFsChangeTests {
    let dir: TempDirectory
    let host: SimulatedHost
    let change: NumVFsChange

    init() throws {
        dir = try TempDirectory("numvfs")
        host = try SimulatedHost.create(directory: dir.path + "/host", spec: .standard())
        change = NumVFsChange(source: host, control: host)
    }

    func target(_ name: String) throws -> PFTarget {
        try PFResolver(paths: host.paths).resolve(name, source: host)
    }

    func run(_ name: String, _ n: Int, autoprobe: Bool? = nil, force: Bool = false) async throws -> NumVFsChange.Outcome {
        try await change.run(try target(name), to: n, autoprobe: autoprobe, force: force, timeout: .seconds(5)) { _ in }
    }

    @Test func nonZeroToNonZeroGoesThroughZero() async throws {
        let outcome = try await run("ens1f0", 4)
        #expect(outcome == .init(before: 8, after: 4))
        #expect(try host.inventory().pf(named: "ens1f0").vfs.map(\.index) == [0, 1, 2, 3])
    }

    @Test func autoprobeIsSetBeforeTheVFsAreBorn() async throws {
        _ = try await run("ens1f1", 16, autoprobe: false)
        let pf = try host.inventory().pf(named: "ens1f1")
        #expect(pf.driversAutoprobe == false && pf.vfs.count == 16 && pf.vfs.allSatisfy { $0.driver == nil })
    }

    @Test func sameCountIsANoOp() async throws {
        #expect(try await run("ens1f0", 8) == .init(before: 8, after: 8))
    }

    @Test func aboveTotalIsRefusedBeforeWriting() async throws {
        await #expect {
            try await run("ens1f0", 65)
        } throws: { error in
            let e = error as? SRIOVError
            return e?.code == .invalidArgument && e?.message.contains("supports at most 64 (sriov_totalvfs)") == true
        }
        #expect(try host.inventory().pf(named: "ens1f0").numVFs == 8)
    }

    @Test func managementNICIsRefusedWithoutForce() async throws {
        await #expect {
            try await run("eno1", 2)
        } throws: { error in
            let e = error as? SRIOVError
            return e?.code == .protected && e?.message.contains("carries the host's default route") == true
        }
        #expect(try host.inventory().pf(named: "eno1").numVFs == 0)
        #expect(try await run("eno1", 2, force: true).after == 2)
    }

    @Test func vfioBoundVFsAreNotYankedWithoutForce() async throws {
        let vf = try host.inventory().pf(named: "ens1f0").vfs[3].pciAddress
        try host.unbind(vf)
        try host.writeDriverOverride("vfio-pci", device: vf)
        try host.probe(vf)
        await #expect {
            try await run("ens1f0", 2)
        } throws: { ($0 as? SRIOVError)?.message.contains("VF 3 (\(vf)) is bound to vfio-pci") == true }
        #expect(try host.inventory().pf(named: "ens1f0").numVFs == 8)
    }

    @Test func noPFDriverIsExplained() async throws {
        var spec = SimulatedHostSpec.standard()
        spec.pfs[4].driverBound = false
        let h = try SimulatedHost.create(directory: dir.path + "/nodrv", spec: spec)
        let c = NumVFsChange(source: h, control: h)
        let t = try PFResolver(paths: h.paths).resolve("0000:af:00.1", source: h)
        await #expect {
            try await c.run(t, to: 2, autoprobe: nil, force: false, timeout: .seconds(5)) { _ in }
        } throws: { error in
            let e = error as? SRIOVError
            return e?.errno == Errno.ENOENT && e?.message.contains("no driver is bound to the PF") == true
        }
    }

    @Test func fewerThanAskedIsAnError() async throws {
        var spec = SimulatedHostSpec.standard()
        spec.profiles[2].maxVFsEnabled = 3
        let h = try SimulatedHost.create(directory: dir.path + "/fewer", spec: spec)
        let c = NumVFsChange(source: h, control: h)
        let t = try PFResolver(paths: h.paths).resolve("ens4f1np1", source: h)
        await #expect {
            try await c.run(t, to: 8, autoprobe: nil, force: false, timeout: .seconds(5)) { _ in }
        } throws: { ($0 as? SRIOVError)?.message.contains("asked for 8 VFs but the driver enabled 3") == true }
    }

    @Test func resolverRejectsVFsAndUnknownNames() throws {
        let inv = try host.inventory()
        let vf = inv.pfs[1].vfs[0].pciAddress
        #expect {
            try PFResolver(paths: host.paths).resolve(vf.description, source: host)
        } throws: { ($0 as? SRIOVError)?.message.contains("is a VF, not a PF") == true }
        #expect {
            try PFResolver(paths: host.paths).resolve("nope0", source: host)
        } throws: { ($0 as? SRIOVError)?.code == .notFound }
        #expect {
            try PFResolver(paths: host.paths).resolve("../etc", source: host)
        } throws: { ($0 as? SRIOVError)?.code == .invalidArgument }
    }
}

@Suite("Simulated netlink quirks")
struct SimulatedLinkTests {
    let dir: TempDirectory
    let host: SimulatedHost
    init() throws {
        dir = try TempDirectory("simlink")
        var spec = SimulatedHostSpec.standard()
        spec.pfs[0].initialVFs = 2
        host = try SimulatedHost.create(directory: dir.path + "/host", spec: spec)
    }

    @Test func igbRefusesLinkStateAndMinRate() async throws {
        let eno1 = InterfaceName("eno1")!
        await #expect { try await host.apply(.linkState(.enable), vf: 0, pf: eno1) } throws: { ($0 as? SRIOVError)?.errno == Errno.EOPNOTSUPP }
        await #expect { try await host.apply(.rate(min: 10, max: 0), vf: 0, pf: eno1) } throws: { ($0 as? SRIOVError)?.errno == Errno.EINVAL }
        try await host.apply(.rate(min: 0, max: 100), vf: 0, pf: eno1)
        #expect(try await host.readVFs(pf: eno1).vf(0)?.maxTxRate == 100)
        #expect(try await host.readVFs(pf: eno1).vf(0)?.linkState == nil)
    }

    @Test func mlx5AllowsEverything() async throws {
        let pf = InterfaceName("ens4f0np0")!
        let target = VFConfigurator.Target(interface: pf, label: "ens4f0np0", driver: "mlx5_core")
        let settings = VFSettings(mac: try MACAddress(parsing: "02:aa:00:00:00:01"), vlan: try VLAN(id: 7, qos: 1, proto: .dot1AD),
                                  spoofCheck: false, trust: true, linkState: .enable, minTxRate: 10, maxTxRate: 100, queryRSS: true)
        let after = try await VFConfigurator(link: host).apply(settings, vf: 3, on: target)
        #expect(after.vf(3)?.vlan.proto == .dot1AD && after.vf(3)?.linkState == .enable)
    }

    @Test func settingsPersistAcrossProcessesAndVanishWithTheVF() async throws {
        let pf = InterfaceName("ens1f0")!
        try await host.apply(.trust(true), vf: 5, pf: pf)
        let reopened = try SimulatedHost.open(directory: host.directory)
        #expect(try await reopened.readVFs(pf: pf).vf(5)?.trust == true)
        try reopened.writeNumVFs(0, pf: PCIAddress("0000:3b:00.0")!)
        try reopened.writeNumVFs(8, pf: PCIAddress("0000:3b:00.0")!)
        #expect(try await reopened.readVFs(pf: pf).vf(5)?.trust == false)
    }
}
