import Testing
import SRIOVConfig
import SRIOVCore
@testable import SRIOVLeasing
import SRIOVFakeHost
import SRIOVSimulator
import SRIOVTestSupport

/// Whole-device passthrough (issue 14, item 5): `devices:` pools lease PCI functions as they are.
/// The lease cycle, multi-function devices and crash recovery run once for an SR-IOV PF with no VFs
/// and once for a NIC without SR-IOV (`WholeLeaseCase`); the rest is about PFs.
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

    static let yaml = LeaseFixture.wholeDeviceYAML([
        "whole": "0000:af:00.1", "multi": "0000:d8:00.0", "shared": "0000:e1:00.0", "withvfs": "0000:af:00.0",
    ])

    static func fixture() throws -> LeaseFixture { try LeaseFixture(spec: spec(), yaml: yaml) }

    func device(_ f: LeaseFixture, _ address: PCIAddress) throws -> DeviceStatus { try f.device(address) }

    /// Expects `engine` to refuse `request` with `code` and a message that contains each of `parts`.
    func expectRefusal(_ engine: LeaseEngine, _ request: LeaseRequest, _ code: SRIOVError.Code, _ parts: String...,
                       sourceLocation: SourceLocation = #_sourceLocation) async {
        await #expect(sourceLocation: sourceLocation) {
            _ = try await engine.acquire(request)
        } throws: { e in
            let e = e as! SRIOVError
            return e.code == code && parts.allSatisfy { e.message.contains($0) }
        }
    }

    /// Expects `c`'s device to be free in its pool again: a new lease gets it.
    func expectLeasableAgain(_ engine: LeaseEngine, _ c: WholeLeaseCase) async throws {
        let again = try await engine.acquire(LeaseRequest(pool: c.pool, owner: "vm-2"))
        #expect(again.vfs.map(\.pciAddress) == [c.address])
    }

    @Test(arguments: WholeLeaseCase.all)
    func leaseBindsTheWholeDeviceAndReleaseRestoresItsHostDriver(_ c: WholeLeaseCase) async throws {
        let f = try c.fixture()
        let engine = try await f.engine()
        let address = c.address
        #expect(try c.interfaces(f, address) == [c.interface])
        let lease = try await engine.acquire(LeaseRequest(pool: c.pool, owner: "vm-1"))
        #expect(lease.vfs.map(\.pciAddress) == [address])
        let held = try #require(lease.vfs.first)
        #expect(held.isWholeDevice && held.previousDriver == c.hostDriver && held.settings.isEmpty && held.pfInterface == nil)
        let status = try device(f, address)
        #expect(status.driver == "vfio-pci")
        let group = try #require(status.iommuGroup?.id)
        #expect(f.fake.vfioNodeExists(group))
        #expect(held.vfioDevice == "/dev/vfio/\(group)")
        // The host driver let go of it: its netdev is gone while the VM has it.
        #expect(try c.interfaces(f, address).isEmpty)
        // No VF count was written: a PF leased whole keeps the 0 it has, a NIC without SR-IOV has none.
        #expect(!f.fake.writes.contains { if case .numVFs = $0 { true } else { false } })
        #expect(AttachSpec.render(lease, format: .qemu) == "-device vfio-pci,host=\(address),id=sriov0")
        #expect(AttachSpec.render(lease, format: .proxmox) == "hostpci0: \(address),pcie=1")
        #expect(AttachSpec.render(lease, format: .dpdk) == "--allow \(address)")
        #expect(AttachSpec.render(lease, format: .cloudHypervisor) == "--device path=/sys/bus/pci/devices/\(address)/,id=sriov0")
        #expect(AttachSpec.render(lease, format: .libvirt).contains(c.libvirtAddress))
        #expect(try await f.invariants(engine) == [])
        let pools = try await engine.pools()
        #expect(pools.first { $0.name == c.pool }.map { ($0.total, $0.leased, $0.free) } ?? (0, 0, 0) == (1, 1, 0))
        // The pool has one device: a second request is refused with the reason.
        await expectRefusal(engine, LeaseRequest(pool: c.pool, owner: "vm-2"), .busy, "1 leased (\(lease.id))", "whole device")
        _ = try await engine.release(lease.id)
        let after = try device(f, address)
        #expect(after.driver == c.hostDriver && after.driverOverride == nil)
        #expect(try c.interfaces(f, address) == [c.interface])
        #expect(!f.fake.vfioNodeExists(group))
        #expect(try await f.invariants(engine) == [])
        #expect(try await engine.pools().first { $0.name == c.pool }?.free == 1)
        try await expectLeasableAgain(engine, c)
        await engine.close()
    }

    @Test(arguments: WholeLeaseCase.all)
    func everyFunctionOfAMultiFunctionDeviceIsBoundTogether(_ c: WholeLeaseCase) async throws {
        let f = try c.fixture()
        let engine = try await f.engine()
        let (f0, f1) = (c.multiFunctions[0], c.multiFunctions[1])
        #expect(try device(f, f0).iommuGroup?.id == device(f, f1).iommuGroup?.id)
        let lease = try await engine.acquire(LeaseRequest(pool: c.multiPool, owner: "vm-1"))
        #expect(lease.vfs.map(\.pciAddress) == [f0, f1])
        #expect(lease.vfs.allSatisfy { $0.isWholeDevice })
        #expect(try device(f, f0).driver == "vfio-pci" && device(f, f1).driver == "vfio-pci")
        // Proxmox names the device without its function ("All Functions"); QEMU gets each function.
        #expect(AttachSpec.render(lease, format: .proxmox) == "hostpci0: \(f0.description.dropLast(2)),pcie=1")
        #expect(AttachSpec.render(lease, format: .qemu) == "-device vfio-pci,host=\(f0),id=sriov0\n-device vfio-pci,host=\(f1),id=sriov1")
        #expect(try await f.invariants(engine) == [])
        _ = try await engine.release(lease.id)
        #expect(try device(f, f0).driver == c.multiDriver && device(f, f1).driver == c.multiDriver)
        #expect(try c.interfaces(f, f1) == [c.multiInterfaces[1]])
        #expect(try await f.invariants(engine) == [])
        await engine.close()
    }

    @Test(arguments: WholeLeaseCase.all)
    func aDeviceAlreadyOnVFIOIsRefusedAndNothingChanges(_ c: WholeLeaseCase) async throws {
        let f = try c.fixture()
        let engine = try await f.engine()
        try f.fake.unbind(c.address)
        try f.fake.writeDriverOverride("vfio-pci", device: c.address)
        try f.fake.probe(c.address)
        await expectRefusal(engine, LeaseRequest(pool: c.pool, owner: "vm-1"), .busy, "already bound to vfio-pci outside sriovd")
        #expect(await engine.leases().isEmpty)
        await engine.close()
    }

    /// A crash after the host driver let go and before vfio-pci took the device: the driver to restore
    /// was journaled (`lease.saved`) before the unbind, so recovery rebinds it and its netdev returns.
    @Test(arguments: WholeLeaseCase.all)
    func recoveryRestoresTheHostDriverAfterACrashMidBind(_ c: WholeLeaseCase) async throws {
        let f = try c.fixture()
        let address = c.address
        let id = try await c.crashMidBind(f, probed: false)
        #expect(try c.interfaces(f, address).isEmpty)

        let engine = try await f.engine(reconcile: false)
        let report = await engine.reconcile()
        #expect(report.rolledBack == [id] && report.errors == [])
        let status = try device(f, address)
        #expect(status.driver == c.hostDriver && status.driverOverride == nil)
        #expect(try c.interfaces(f, address) == [c.interface])
        #expect(await engine.leases().isEmpty)
        #expect(!(await engine.currentBook.isQuarantined(address)))
        #expect(try await f.invariants(engine) == [])
        try await expectLeasableAgain(engine, c)
        await engine.close()
    }

    /// A crash once vfio-pci had it, before the lease was recorded active: every step ran, so
    /// recovery rolls the lease forward; its release then gives the device back to its host driver.
    @Test(arguments: WholeLeaseCase.all)
    func recoveryRollsForwardADeviceAlreadyOnVFIO(_ c: WholeLeaseCase) async throws {
        let f = try c.fixture()
        let address = c.address
        let group = try #require(try device(f, address).iommuGroup?.id)
        let id = try await c.crashMidBind(f, probed: true)

        let engine = try await f.engine(reconcile: false)
        let report = await engine.reconcile()
        #expect(report.rolledForward == [id] && report.errors == [])
        let recovered = try await engine.lease(id)
        #expect(recovered.state == .active && recovered.vfs.first?.vfioDevice == "/dev/vfio/\(group)")
        #expect(try device(f, address).driver == "vfio-pci" && f.fake.vfioNodeExists(group))
        #expect(try await f.invariants(engine) == [])
        _ = try await engine.release(id)
        #expect(try device(f, address).driver == c.hostDriver)
        #expect(try c.interfaces(f, address) == [c.interface])
        #expect(!f.fake.vfioNodeExists(group))
        #expect(try await f.invariants(engine) == [])
        await engine.close()
    }

    @Test func refusesAGroupSharedWithAHostDevice() async throws {
        let f = try Self.fixture()
        let engine = try await f.engine()
        await expectRefusal(engine, LeaseRequest(pool: "shared", owner: "vm-1"), .busy,
                            "0000:e2:00.0 (driver mlx5_core), used by the host")
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
        await expectRefusal(engine, LeaseRequest(pool: "withvfs", owner: "vm-1"), .busy, "a PF whose VFs exist", "set-numvfs ens4f0np0 0")
        #expect(try device(f, Self.a("0000:af:00.0")).driver == "mlx5_core")
        await engine.close()
    }

    @Test func refusesVFSettings() async throws {
        let f = try Self.fixture()
        let engine = try await f.engine()
        let vlan = try VLAN(id: 100)
        await expectRefusal(engine, LeaseRequest(pool: "whole", owner: "vm-1", settings: VFSettings(vlan: vlan)), .invalidArgument,
                            "holds whole devices", "do not apply")
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
}
