#if canImport(Glibc)
import Glibc
#endif
import Testing
import SRIOVCore
import SRIOVSysfs
import SRIOVTestSupport
@testable import SRIOVSimulator

/// The simulated host's events: every mutation appends to `events.log`, and a follower (another
/// process in real use: here another `SimulatedHost` value opened on the same folder) reads them.
@Suite(.timeLimit(.minutes(1))) struct SimulatedEventTests {
    /// The next `count` events of `stream`.
    func next(_ count: Int, of stream: AsyncStream<HostEvent>) async -> [HostEvent] {
        var got: [HostEvent] = []
        for await event in stream {
            got.append(event)
            if got.count == count { break }
        }
        return got
    }

    @Test func mutationsByAnotherWriterAreFollowed() async throws {
        let dir = try TempDirectory("simevents")
        let path = dir.path + "/host"
        _ = try SimulatedHost.create(directory: path, spec: .standard())
        let stream = try SimulatedEventSource(directory: path).events()
        // Another writer of the same host (as `sriovctl --simulated` would be).
        let other = try SimulatedHost.open(directory: path)
        let pf = PCIAddress("0000:af:00.1")!  // ens4f1np1: 0 VFs at start
        try other.writeNumVFs(2, pf: pf)
        let vf0 = SimulatedHostSpec.vfAddress(other.spec.pfs.first { $0.address == pf }!, index: 0)
        let vf1 = SimulatedHostSpec.vfAddress(other.spec.pfs.first { $0.address == pf }!, index: 1)
        let added = await next(5, of: stream)
        #expect(added == [
            .pci(PCIDeviceEvent(action: .add, address: vf0)), .pci(PCIDeviceEvent(action: .bind, address: vf0, driver: "mlx5_core")),
            .pci(PCIDeviceEvent(action: .add, address: vf1)), .pci(PCIDeviceEvent(action: .bind, address: vf1, driver: "mlx5_core")),
            .link(LinkEvent(kind: .changed, interface: InterfaceName("ens4f1np1"), ifindex: 0, vfInfo: true)),
        ])
        try other.rebind(vf0, override: "vfio-pci")
        try await other.apply(.vlan(try VLAN(id: 7)), vf: 0, pf: InterfaceName("ens4f1np1")!)
        #expect(await next(3, of: stream) == [
            .pci(PCIDeviceEvent(action: .unbind, address: vf0, driver: "mlx5_core")),
            .pci(PCIDeviceEvent(action: .bind, address: vf0, driver: "vfio-pci")),
            .link(LinkEvent(kind: .changed, interface: InterfaceName("ens4f1np1"), ifindex: 0, vfInfo: true)),
        ])
        try other.writeNumVFs(0, pf: pf)
        let removed = await next(5, of: stream)
        #expect(removed.filter { if case .pci(let e) = $0 { return e.action == .remove } else { return false } }.count == 2)
    }

    @Test func logLines() {
        #expect(SimulatedEventLog.parse("pci bind 0000:3b:02.0 vfio-pci") == .pci(PCIDeviceEvent(action: .bind, address: PCIAddress("0000:3b:02.0")!, driver: "vfio-pci")))
        #expect(SimulatedEventLog.parse("pci remove 0000:3b:02.0") == .pci(PCIDeviceEvent(action: .remove, address: PCIAddress("0000:3b:02.0")!)))
        #expect(SimulatedEventLog.parse("link down ens1f0") == .link(LinkEvent(kind: .changed, interface: InterfaceName("ens1f0"), ifindex: 0, operState: .down, carrier: false)))
        #expect(SimulatedEventLog.parse("link up ens1f0") == .link(LinkEvent(kind: .changed, interface: InterfaceName("ens1f0"), ifindex: 0, operState: .up, carrier: true)))
        #expect(SimulatedEventLog.parse("overflow") == .overflow)
        #expect(SimulatedEventLog.parse("pci explode 0000:3b:02.0") == nil)
        #expect(SimulatedEventLog.parse("gpu add 1") == nil)
        #expect(SimulatedEventLog.parse("") == nil)
    }

    @Test func aTruncatedLogIsAnOverflow() async throws {
        let dir = try TempDirectory("simevents")
        let path = dir.path + "/host"
        let host = try SimulatedHost.create(directory: path, spec: .standard())
        let stream = try SimulatedEventSource(directory: path).events()
        let log = SimulatedEventLog.path(path)
        #expect(truncate(log, 0) == 0)
        SimulatedEventLog.append(path, ["pci change 0000:3b:02.0"])
        _ = host
        #expect(await next(2, of: stream) == [.overflow, .pci(PCIDeviceEvent(action: .change, address: PCIAddress("0000:3b:02.0")!))])
    }
}
