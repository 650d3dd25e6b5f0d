import Testing
import SRIOVConfig
import SRIOVCore
@testable import SRIOVLeasing
import SRIOVFakeHost
import SRIOVSimulator
import SRIOVTestSupport

/// NICs without SR-IOV leased whole (issue 14, item 5): the same path as a PF with no VFs (group
/// check, all functions together, host driver journaled and rebound, /dev/vfio), with no VF count.
@Suite("Whole-device leases of NICs without SR-IOV")
struct WholeFunctionTests {
    static func a(_ text: String) -> PCIAddress { PCIAddress(text)! }

    /// The standard host (its 82574L `enp94s0` at 5e:00.0, e1000e, has no SR-IOV), plus a two-port
    /// NIC without SR-IOV at 5f:00.0/.1 (igb, one IOMMU group: no ACS between its functions).
    static func spec() -> FakeHost.Spec {
        var spec = FakeHost.Spec.standard()
        spec.devices += [
            .init(address: a("0000:5f:00.0"), deviceID: "1533", driver: "igb", interface: "enp95s0f0", numaNode: 0),
            .init(address: a("0000:5f:00.1"), deviceID: "1533", driver: "igb", interface: "enp95s0f1", numaNode: 0,
                  iommuGroupWith: a("0000:5f:00.0")),
        ]
        return spec
    }

    static let yaml = """
        protected_pfs: [eno1]
        pools:
          - name: uplink
            selectors:
              - vfs: "ens1f0#0-3"
          - name: nic
            selectors:
              - devices: ["0000:5e:00.0"]
          - name: dual
            selectors:
              - devices: ["0000:5f:00.0"]
        """

    static func fixture() throws -> LeaseFixture { try LeaseFixture(spec: spec(), yaml: yaml) }

    func device(_ f: LeaseFixture, _ address: PCIAddress) throws -> DeviceStatus {
        try #require(try f.fake.device(address))
    }

    func function(_ f: LeaseFixture, _ address: PCIAddress) throws -> PCIFunction {
        try #require(try f.fake.inventory().function(at: address))
    }

    @Test func theFakeHostListsItLikeDiscovery() throws {
        let inventory = try FakeHost(spec: Self.spec()).inventory()
        #expect(inventory.functions.map(\.pciAddress) == [Self.a("0000:5e:00.0"), Self.a("0000:5f:00.0"), Self.a("0000:5f:00.1")])
        #expect(!inventory.pfs.contains { $0.totalVFs == 0 })
        let nic = try #require(inventory.function(at: Self.a("0000:5e:00.0")))
        #expect(nic.driver == "e1000e" && nic.interfaces.map(\.name) == ["enp94s0"] && !nic.isManagement)
        #expect(inventory.host.bridges == [Self.a("0000:00:00.0")])
        // The simulator builds the same host: the same functions, groups and netdevs.
        let dir = try TempDirectory("whole-function")
        let simulated = try SimulatedHost.create(directory: dir.path + "/host", spec: Self.spec()).inventory()
        #expect(simulated.functions == inventory.functions)
    }

    @Test func leaseUnbindsTheHostDriverAndReleaseRestoresIt() async throws {
        let f = try Self.fixture()
        let engine = try await f.engine()
        let address = Self.a("0000:5e:00.0")
        let lease = try await engine.acquire(LeaseRequest(pool: "nic", owner: "vm-1"))
        #expect(lease.vfs.map(\.pciAddress) == [address])
        let held = try #require(lease.vfs.first)
        #expect(held.isWholeDevice && held.previousDriver == "e1000e" && held.settings.isEmpty && held.pfInterface == nil)
        let status = try device(f, address)
        #expect(status.driver == "vfio-pci")
        let group = try #require(status.iommuGroup?.id)
        #expect(f.fake.vfioNodeExists(group) && held.vfioDevice == "/dev/vfio/\(group)")
        // e1000e let go of it: its netdev is gone while the VM has it.
        #expect(try function(f, address).interfaces.isEmpty)
        // No VF count was read or written: it has no SR-IOV.
        #expect(!f.fake.writes.contains { if case .numVFs = $0 { true } else { false } })
        #expect(AttachSpec.render(lease, format: .qemu) == "-device vfio-pci,host=0000:5e:00.0,id=sriov0")
        #expect(AttachSpec.render(lease, format: .proxmox) == "hostpci0: 0000:5e:00.0,pcie=1")
        #expect(AttachSpec.render(lease, format: .dpdk) == "--allow 0000:5e:00.0")
        #expect(AttachSpec.render(lease, format: .cloudHypervisor) == "--device path=/sys/bus/pci/devices/0000:5e:00.0/,id=sriov0")
        #expect(AttachSpec.render(lease, format: .libvirt).contains("<address domain='0x0000' bus='0x5e' slot='0x00' function='0x0'/>"))
        #expect(try await f.invariants(engine) == [])
        let pools = try await engine.pools()
        #expect(pools.first { $0.name == "nic" }.map { ($0.total, $0.leased, $0.free) } ?? (0, 0, 0) == (1, 1, 0))
        await #expect {
            _ = try await engine.acquire(LeaseRequest(pool: "nic", owner: "vm-2"))
        } throws: { e in
            let e = e as! SRIOVError
            return e.code == .busy && e.message.contains("1 leased (\(lease.id))")
        }
        _ = try await engine.release(lease.id)
        let after = try device(f, address)
        #expect(after.driver == "e1000e" && after.driverOverride == nil)
        #expect(try function(f, address).interfaces.map(\.name) == ["enp94s0"])
        #expect(!f.fake.vfioNodeExists(group))
        #expect(try await f.invariants(engine) == [])
        #expect(try await engine.pools().first { $0.name == "nic" }?.free == 1)
        await engine.close()
    }

    @Test func everyFunctionOfTheNICIsBoundTogether() async throws {
        let f = try Self.fixture()
        let engine = try await f.engine()
        let (f0, f1) = (Self.a("0000:5f:00.0"), Self.a("0000:5f:00.1"))
        let lease = try await engine.acquire(LeaseRequest(pool: "dual", owner: "vm-1"))
        #expect(lease.vfs.map(\.pciAddress) == [f0, f1] && lease.vfs.allSatisfy { $0.isWholeDevice })
        #expect(try device(f, f0).driver == "vfio-pci" && device(f, f1).driver == "vfio-pci")
        #expect(AttachSpec.render(lease, format: .proxmox) == "hostpci0: 0000:5f:00,pcie=1")
        #expect(try await f.invariants(engine) == [])
        _ = try await engine.release(lease.id)
        #expect(try device(f, f0).driver == "igb" && device(f, f1).driver == "igb")
        #expect(try function(f, f1).interfaces.map(\.name) == ["enp95s0f1"])
        #expect(try await f.invariants(engine) == [])
        await engine.close()
    }

    @Test func aFunctionAlreadyOnVFIOIsRefusedAndNothingChanges() async throws {
        let f = try Self.fixture()
        let engine = try await f.engine()
        let address = Self.a("0000:5e:00.0")
        try f.fake.unbind(address)
        try f.fake.writeDriverOverride("vfio-pci", device: address)
        try f.fake.probe(address)
        await #expect {
            _ = try await engine.acquire(LeaseRequest(pool: "nic", owner: "vm-1"))
        } throws: { e in
            let e = e as! SRIOVError
            return e.code == .busy && e.message.contains("already bound to vfio-pci outside sriovd")
        }
        #expect(await engine.leases().isEmpty)
        await engine.close()
    }

    /// A crash after e1000e let go and before vfio-pci took the NIC: the driver to restore was
    /// journaled (`lease.saved`) before the unbind, so recovery rebinds e1000e and its netdev returns.
    @Test func recoveryRestoresTheDriverAfterACrashMidAcquire() async throws {
        let f = try Self.fixture()
        var engine = try await f.engine()
        let address = Self.a("0000:5e:00.0")
        let group = try device(f, address).iommuGroup?.id
        let id = LeaseID.random()
        let held = LeasedVF(pciAddress: address, pf: address, pfInterface: nil, index: 0, iommuGroup: group, numaNode: 0,
                            vfioDevice: nil, settings: VFSettings(), saved: nil, previousDriver: "e1000e", stage: .reserved)
        let lease = Lease(id: id, owner: "vm-1", pool: "nic", request: LeaseRequest(pool: "nic", owner: "vm-1"), vfs: [held],
                          state: .acquiring, createdAt: f.clock.now(), expiresAt: nil, requestedBy: "test", problems: [])
        try await engine.record([.reserved(lease), .saved(lease: id, vf: address, state: VFState(index: 0), driver: "e1000e"),
                                 .binding(lease: id, vf: address)])
        try f.fake.unbind(address)
        try f.fake.writeDriverOverride("vfio-pci", device: address)
        await engine.close()
        #expect(try function(f, address).interfaces.isEmpty)

        engine = try await f.engine(reconcile: false)
        let report = await engine.reconcile()
        #expect(report.rolledBack == [id] && report.errors == [])
        let status = try device(f, address)
        #expect(status.driver == "e1000e" && status.driverOverride == nil)
        #expect(try function(f, address).interfaces.map(\.name) == ["enp94s0"])
        #expect(await engine.leases().isEmpty)
        #expect(!(await engine.currentBook.isQuarantined(address)))
        #expect(try await f.invariants(engine) == [])
        // Leasable again.
        let again = try await engine.acquire(LeaseRequest(pool: "nic", owner: "vm-2"))
        #expect(again.vfs.map(\.pciAddress) == [address])
        await engine.close()
    }

    /// A crash once vfio-pci had it, before the lease was recorded active: every step ran, so
    /// recovery rolls the lease forward; its release then gives the NIC back to e1000e.
    @Test func recoveryRollsForwardAFunctionAlreadyOnVFIO() async throws {
        let f = try Self.fixture()
        var engine = try await f.engine()
        let address = Self.a("0000:5e:00.0")
        let group = try #require(try device(f, address).iommuGroup?.id)
        let id = LeaseID.random()
        let held = LeasedVF(pciAddress: address, pf: address, pfInterface: nil, index: 0, iommuGroup: group, numaNode: 0,
                            vfioDevice: nil, settings: VFSettings(), saved: nil, previousDriver: "e1000e", stage: .reserved)
        let lease = Lease(id: id, owner: "vm-1", pool: "nic", request: LeaseRequest(pool: "nic", owner: "vm-1"), vfs: [held],
                          state: .acquiring, createdAt: f.clock.now(), expiresAt: nil, requestedBy: "test", problems: [])
        try await engine.record([.reserved(lease), .saved(lease: id, vf: address, state: VFState(index: 0), driver: "e1000e"),
                                 .binding(lease: id, vf: address)])
        try f.fake.unbind(address)
        try f.fake.writeDriverOverride("vfio-pci", device: address)
        try f.fake.probe(address)
        await engine.close()

        engine = try await f.engine(reconcile: false)
        let report = await engine.reconcile()
        #expect(report.rolledForward == [id] && report.errors == [])
        let recovered = try await engine.lease(id)
        #expect(recovered.state == .active && recovered.vfs.first?.vfioDevice == "/dev/vfio/\(group)")
        #expect(try device(f, address).driver == "vfio-pci" && f.fake.vfioNodeExists(group))
        #expect(try await f.invariants(engine) == [])
        _ = try await engine.release(id)
        #expect(try device(f, address).driver == "e1000e")
        #expect(try function(f, address).interfaces.map(\.name) == ["enp94s0"])
        #expect(!f.fake.vfioNodeExists(group))
        #expect(try await f.invariants(engine) == [])
        await engine.close()
    }
}
