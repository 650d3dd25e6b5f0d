import Testing
import SRIOVConfig
import SRIOVCore
@testable import SRIOVLeasing
import SRIOVFakeHost
import SRIOVSimulator
import SRIOVTestSupport

/// Whole-device passthrough (issue 14, item 5): `devices:` pools lease PCI functions as they are.
@Suite("Whole-device leases")
struct WholeDeviceTests {
    static func a(_ text: String) -> PCIAddress { PCIAddress(text)! }

    /// The standard host plus a two-function ConnectX at d8:00.0/.1 in one IOMMU group (no ACS
    /// between them), and a device at e1:00.0 whose group also holds a host device at e2:00.0 (mlx5_core).
    static func spec() -> FakeHost.Spec {
        var spec = FakeHost.Spec.standard()
        spec.pfs += [
            FakeHost.PF(address: a("0000:d8:00.0"), profile: "mlx5-cx5", interface: "ens5f0np0", numaNode: 1, totalVFs: 16,
                        firstVFOffset: 0x02),
            FakeHost.PF(address: a("0000:d8:00.1"), profile: "mlx5-cx5", interface: "ens5f1np1", numaNode: 1, totalVFs: 16,
                        firstVFOffset: 0x11, iommuGroupWith: a("0000:d8:00.0")),
            FakeHost.PF(address: a("0000:e1:00.0"), profile: "mlx5-cx5", interface: "ens6f0np0", numaNode: 1, totalVFs: 16,
                        firstVFOffset: 0x02),
            FakeHost.PF(address: a("0000:e2:00.0"), profile: "mlx5-cx5", interface: "ens7f0np0", numaNode: 1, totalVFs: 16,
                        firstVFOffset: 0x02, iommuGroupWith: a("0000:e1:00.0")),
        ]
        return spec
    }

    static let yaml = """
        protected_pfs: [eno1]
        pools:
          - name: uplink
            selectors:
              - vfs: "ens1f0#0-3"
          - name: whole
            selectors:
              - devices: ["0000:af:00.1"]
          - name: multi
            selectors:
              - devices: ["0000:d8:00.0"]
          - name: shared
            selectors:
              - devices: ["0000:e1:00.0"]
          - name: withvfs
            selectors:
              - devices: ["0000:af:00.0"]
        """

    static func fixture() throws -> LeaseFixture { try LeaseFixture(spec: spec(), yaml: yaml) }

    func device(_ f: LeaseFixture, _ address: PCIAddress) throws -> DeviceStatus {
        try #require(try f.fake.device(address))
    }

    func pf(_ f: LeaseFixture, _ address: PCIAddress) throws -> PhysicalFunction {
        try #require(try f.fake.inventory().pfs.first { $0.pciAddress == address })
    }

    @Test func leaseBindsTheWholeFunctionAndReleaseRestoresItsDriver() async throws {
        let f = try Self.fixture()
        let engine = try await f.engine()
        let address = Self.a("0000:af:00.1")
        #expect(try pf(f, address).interfaces.map(\.name) == ["ens4f1np1"])
        let lease = try await engine.acquire(LeaseRequest(pool: "whole", owner: "vm-1"))
        #expect(lease.vfs.map(\.pciAddress) == [address])
        let held = try #require(lease.vfs.first)
        #expect(held.isWholeDevice && held.previousDriver == "mlx5_core" && held.settings.isEmpty && held.pfInterface == nil)
        let status = try device(f, address)
        #expect(status.driver == "vfio-pci")
        let group = try #require(status.iommuGroup?.id)
        #expect(f.fake.vfioNodeExists(group))
        #expect(held.vfioDevice == "/dev/vfio/\(group)")
        // Unbound from mlx5_core: its netdev is gone while the VM has it.
        #expect(try pf(f, address).interfaces.isEmpty)
        #expect(AttachSpec.render(lease, format: .qemu) == "-device vfio-pci,host=0000:af:00.1,id=sriov0")
        #expect(AttachSpec.render(lease, format: .proxmox) == "hostpci0: 0000:af:00.1,pcie=1")
        #expect(AttachSpec.render(lease, format: .dpdk) == "--allow 0000:af:00.1")
        #expect(try await f.invariants(engine) == [])
        // The pool has one device: a second request is refused with the reason.
        await #expect {
            _ = try await engine.acquire(LeaseRequest(pool: "whole", owner: "vm-2"))
        } throws: { e in
            let e = e as! SRIOVError
            return e.code == .busy && e.message.contains("1 leased (\(lease.id))") && e.message.contains("whole device")
        }
        _ = try await engine.release(lease.id)
        let after = try device(f, address)
        #expect(after.driver == "mlx5_core" && after.driverOverride == nil)
        #expect(try pf(f, address).interfaces.map(\.name) == ["ens4f1np1"])
        #expect(!f.fake.vfioNodeExists(group))
        #expect(try await f.invariants(engine) == [])
        // Free again.
        let again = try await engine.acquire(LeaseRequest(pool: "whole", owner: "vm-2"))
        #expect(again.vfs.map(\.pciAddress) == [address])
        await engine.close()
    }

    @Test func everyFunctionOfAMultiFunctionDeviceIsBoundTogether() async throws {
        let f = try Self.fixture()
        let engine = try await f.engine()
        let (f0, f1) = (Self.a("0000:d8:00.0"), Self.a("0000:d8:00.1"))
        #expect(try device(f, f0).iommuGroup?.id == device(f, f1).iommuGroup?.id)
        let lease = try await engine.acquire(LeaseRequest(pool: "multi", owner: "vm-1"))
        #expect(lease.vfs.map(\.pciAddress) == [f0, f1])
        #expect(lease.vfs.allSatisfy { $0.isWholeDevice })
        #expect(try device(f, f0).driver == "vfio-pci" && device(f, f1).driver == "vfio-pci")
        // Proxmox names the device without its function ("All Functions"); QEMU gets each function.
        #expect(AttachSpec.render(lease, format: .proxmox) == "hostpci0: 0000:d8:00,pcie=1")
        #expect(AttachSpec.render(lease, format: .qemu) == "-device vfio-pci,host=0000:d8:00.0,id=sriov0\n-device vfio-pci,host=0000:d8:00.1,id=sriov1")
        #expect(try await f.invariants(engine) == [])
        _ = try await engine.release(lease.id)
        #expect(try device(f, f0).driver == "mlx5_core" && device(f, f1).driver == "mlx5_core")
        #expect(try await f.invariants(engine) == [])
        await engine.close()
    }

    @Test func refusesAGroupSharedWithAHostDevice() async throws {
        let f = try Self.fixture()
        let engine = try await f.engine()
        await #expect {
            _ = try await engine.acquire(LeaseRequest(pool: "shared", owner: "vm-1"))
        } throws: { e in
            let e = e as! SRIOVError
            return e.code == .busy && e.message.contains("0000:e2:00.0 (driver mlx5_core), used by the host")
        }
        // Nothing changed on the host.
        #expect(try device(f, Self.a("0000:e1:00.0")).driver == "mlx5_core")
        #expect(try device(f, Self.a("0000:e2:00.0")).driver == "mlx5_core")
        #expect(await engine.leases().isEmpty)
        await engine.close()
    }

    @Test func refusesAPFWhoseVFsExist() async throws {
        let f = try Self.fixture()
        let engine = try await f.engine()
        // af:00.0 has 4 VFs: the plan warns, the acquire is refused with the way out.
        #expect(await engine.plan.warnings.contains { $0.contains("0000:af:00.0") && $0.contains("has 4 VFs now") })
        await #expect {
            _ = try await engine.acquire(LeaseRequest(pool: "withvfs", owner: "vm-1"))
        } throws: { e in
            let e = e as! SRIOVError
            return e.code == .busy && e.message.contains("a PF whose VFs exist") && e.message.contains("set-numvfs ens4f0np0 0")
        }
        #expect(try device(f, Self.a("0000:af:00.0")).driver == "mlx5_core")
        await engine.close()
    }

    @Test func refusesVFSettings() async throws {
        let f = try Self.fixture()
        let engine = try await f.engine()
        await #expect {
            _ = try await engine.acquire(LeaseRequest(pool: "whole", owner: "vm-1", settings: VFSettings(vlan: try VLAN(id: 100))))
        } throws: { e in
            let e = e as! SRIOVError
            return e.code == .invalidArgument && e.message.contains("holds whole devices") && e.message.contains("do not apply")
        }
        #expect(try device(f, Self.a("0000:af:00.1")).driver == "mlx5_core")
        await engine.close()
    }

    @Test func setNumVFsOnAPFLeasedWholeIsRefusedEvenWithForce() async throws {
        let f = try Self.fixture()
        let engine = try await f.engine()
        let lease = try await engine.acquire(LeaseRequest(pool: "whole", owner: "vm-1"))
        for force in [false, true] {
            await #expect {
                _ = try await engine.setNumVFs(pf: "0000:af:00.1", to: 2, autoprobe: nil, force: force, requestedBy: "test")
            } throws: { e in
                let e = e as! SRIOVError
                return e.code == .busy && e.message.contains("leased whole to lease \(lease.id)")
            }
        }
        #expect(try device(f, Self.a("0000:af:00.1")).driver == "vfio-pci")
        #expect(try f.fake.readNumVFs(.pci(Self.a("0000:af:00.1"))) == 0)
        await engine.close()
    }

    /// A crash after the PF was unbound and before vfio-pci took it: the driver to restore was
    /// journaled (`lease.saved`) before the unbind, so recovery rebinds it.
    @Test func recoveryRestoresTheDriverAfterACrashMidBind() async throws {
        let f = try Self.fixture()
        var engine = try await f.engine()
        let address = Self.a("0000:af:00.1")
        let group = try device(f, address).iommuGroup?.id
        let id = LeaseID.random()
        let held = LeasedVF(pciAddress: address, pf: address, pfInterface: nil, index: 0, iommuGroup: group, numaNode: 1,
                            vfioDevice: nil, settings: VFSettings(), saved: nil, previousDriver: "mlx5_core", stage: .reserved)
        let lease = Lease(id: id, owner: "vm-1", pool: "whole", request: LeaseRequest(pool: "whole", owner: "vm-1"), vfs: [held],
                          state: .acquiring, createdAt: f.clock.now(), expiresAt: nil, requestedBy: "test", problems: [])
        try await engine.record([.reserved(lease), .saved(lease: id, vf: address, state: VFState(index: 0), driver: "mlx5_core"),
                                 .binding(lease: id, vf: address)])
        // The host steps that ran before the crash: unbind, driver_override (no probe yet).
        try f.fake.unbind(address)
        try f.fake.writeDriverOverride("vfio-pci", device: address)
        await engine.close()

        engine = try await f.engine(reconcile: false)
        let report = await engine.reconcile()
        #expect(report.rolledBack == [id] && report.errors == [])
        let status = try device(f, address)
        #expect(status.driver == "mlx5_core" && status.driverOverride == nil)
        #expect(try pf(f, address).interfaces.map(\.name) == ["ens4f1np1"])
        #expect(await engine.leases().isEmpty)
        #expect(!(await engine.currentBook.isQuarantined(address)))
        #expect(try await f.invariants(engine) == [])
        await engine.close()
    }
}
