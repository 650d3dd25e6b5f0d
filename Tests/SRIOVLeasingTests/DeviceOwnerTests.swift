import Foundation
import Synchronization
import Testing
import SRIOVConfig
import SRIOVCore
@testable import SRIOVLeasing
import SRIOVFakeHost
import SRIOVTestSupport

/// The fake host's `/dev/vfio` nodes, with a log of every change (what release and recovery put back).
final class RecordingNodes: VFIONodeControl {
    let inner: FakeHost
    let log = Mutex<[(group: Int, ownership: VFIONodeOwnership)]>([])

    init(_ inner: FakeHost) { self.inner = inner }

    func vfioNodeOwnership(_ group: Int) throws(SRIOVError) -> VFIONodeOwnership? { try inner.vfioNodeOwnership(group) }

    func setVFIONodeOwnership(_ ownership: VFIONodeOwnership, group: Int) throws(SRIOVError) {
        try inner.setVFIONodeOwnership(ownership, group: group)
        log.withLock { $0.append((group, ownership)) }
    }

    var changes: [(group: Int, ownership: VFIONodeOwnership)] { log.withLock { $0 } }
}

/// `/dev/vfio/<group>` given to the VM's user/group (issue 14, item 3).
@Suite("Device node ownership")
struct DeviceOwnerTests {
    static let root = VFIONodeOwnership(uid: 0, gid: 0, mode: 0o600)

    func engine(_ f: LeaseFixture, _ nodes: RecordingNodes, reconcile: Bool = true) async throws -> LeaseEngine {
        try await LeaseEngine.start(stateDirectory: f.stateDirectory, config: f.config,
                                    host: LeaseEngine.Host(source: f.fake, control: f.fake, link: f.fake, nodes: nodes),
                                    clock: f.clock, fsync: false, reconcile: reconcile)
    }

    @Test func setOnAcquireAndPutBackOnRelease() async throws {
        let f = try LeaseFixture()
        let nodes = RecordingNodes(f.fake)
        let engine = try await engine(f, nodes)
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-1", count: 2, placement: .spread,
                                                          deviceUser: "64055", deviceGroup: "107"))
        let groups = lease.vfs.compactMap(\.iommuGroup)
        #expect(groups.count == 2)
        let granted = VFIONodeOwnership(uid: 64055, gid: 107, mode: 0o660)
        #expect(lease.vfioGrants?.map(\.group).sorted() == groups.sorted())
        #expect(lease.vfioGrants?.allSatisfy { $0.granted == granted && $0.previous == Self.root && $0.node == "/dev/vfio/\($0.group)" } == true)
        for group in groups { #expect(try f.fake.vfioNodeOwnership(group) == granted) }
        // A user alone: mode 0600, the group unchanged.
        let solo = try await engine.acquire(LeaseRequest(pool: "open", owner: "vm-2", deviceUser: "1000"))
        let soloGroup = try #require(solo.vfs.first?.iommuGroup)
        #expect(try f.fake.vfioNodeOwnership(soloGroup) == VFIONodeOwnership(uid: 1000, gid: 0, mode: 0o600))

        _ = try await engine.release(lease.id)
        // Put back (while the node still existed), then the node went with vfio-pci.
        let restored = nodes.changes.filter { groups.contains($0.group) && $0.ownership == Self.root }
        #expect(restored.count == 2)
        for group in groups { #expect(try f.fake.vfioNodeOwnership(group) == nil) }
        #expect(try await f.invariants(engine) == [])
        await engine.close()
    }

    @Test func unknownNamesAndBadShapesAreRefusedBeforeAnythingIsReserved() async throws {
        let f = try LeaseFixture()
        let engine = try await engine(f, RecordingNodes(f.fake))
        await #expect {
            _ = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm", deviceUser: "no-such-user-sriovd"))
        } throws: { e in
            let e = e as! SRIOVError
            return e.code == .notFound && e.message.contains("no user named 'no-such-user-sriovd'")
        }
        await #expect {
            _ = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm", deviceGroup: "Root!"))
        } throws: { e in
            let e = e as! SRIOVError
            return e.code == .invalidArgument && e.message.contains("invalid device group")
        }
        #expect(await engine.leases().isEmpty)
        #expect(f.fake.writes.isEmpty)
        await engine.close()
    }

    /// A whole device whose IOMMU group also holds a device parked on vfio-pci outside sriovd: leased
    /// without a device owner (vfio allows the group), refused with one (the node would open that
    /// device too), and the refused acquire rolls back.
    @Test func refusedWhenTheGroupHoldsSomeoneElsesDevice() async throws {
        let f = try LeaseFixture(spec: WholeDeviceTests.spec(), yaml: WholeDeviceTests.yaml)
        let other = PCIAddress("0000:e2:00.0")!
        try f.fake.rebind(other, override: "vfio-pci")
        let nodes = RecordingNodes(f.fake)
        let engine = try await engine(f, nodes)
        await #expect {
            _ = try await engine.acquire(LeaseRequest(pool: "shared", owner: "vm-1", deviceUser: "64055"))
        } throws: { e in
            let e = e as! SRIOVError
            return e.code == .busy && e.message.contains("also holds 0000:e2:00.0 (driver vfio-pci)") && e.message.contains("cannot be given")
        }
        #expect(await engine.leases().isEmpty)
        #expect(try f.fake.device(PCIAddress("0000:e1:00.0")!)?.driver == "mlx5_core")
        #expect(nodes.changes.isEmpty)
        let group = try #require(try f.fake.device(other)?.iommuGroup?.id)
        #expect(try f.fake.vfioNodeOwnership(group) == Self.root)
        // Without a device owner the same group is fine.
        let lease = try await engine.acquire(LeaseRequest(pool: "shared", owner: "vm-1"))
        #expect(lease.vfioGrants == nil)
        await engine.close()
    }

    /// A crash while releasing a lease with granted nodes: recovery puts the nodes back before the
    /// devices leave vfio-pci.
    @Test func recoveryPutsTheNodesBack() async throws {
        let f = try LeaseFixture()
        let nodes = RecordingNodes(f.fake)
        var engine = try await engine(f, nodes)
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm", deviceUser: "64055"))
        let group = try #require(lease.vfs.first?.iommuGroup)
        #expect(try f.fake.vfioNodeOwnership(group) == VFIONodeOwnership(uid: 64055, gid: 0, mode: 0o600))
        try await engine.record(.releasing(lease: lease.id, cause: .requested, reason: "released by test"))
        await engine.close()

        engine = try await self.engine(f, nodes, reconcile: false)
        #expect(await engine.currentBook.lease(lease.id)?.vfioGrants?.first?.previous == Self.root)
        let report = await engine.reconcile()
        #expect(report.finishedReleases == [lease.id] && report.errors == [])
        #expect(nodes.changes.last.map { $0.group == group && $0.ownership == Self.root } == true)
        #expect(try f.fake.vfioNodeOwnership(group) == nil)
        #expect(await engine.leases().isEmpty)
        await engine.close()
    }

    /// An acquire interrupted after its grant was journaled but before the node was changed: recovery
    /// does not roll it forward (the VM's user could not open it), it rolls back.
    @Test func interruptedGrantIsRolledBack() async throws {
        let f = try LeaseFixture()
        let nodes = RecordingNodes(f.fake)
        var engine = try await engine(f, nodes)
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm", deviceUser: "64055"))
        let group = try #require(lease.vfs.first?.iommuGroup)
        await engine.close()
        // Rewind the host and the book to "grant journaled, node untouched, not yet active": the node back
        // to root, and a fresh state directory whose journal holds the acquire's records up to the grant.
        try f.fake.setVFIONodeOwnership(Self.root, group: group)
        var acquiring = lease
        acquiring.state = .acquiring
        acquiring.vfioGrants = nil
        for i in acquiring.vfs.indices { acquiring.vfs[i].stage = .reserved; acquiring.vfs[i].vfioDevice = nil }
        let state = f.dir.path + "/state2"
        engine = try await LeaseEngine.start(stateDirectory: state, config: f.config,
                                             host: LeaseEngine.Host(source: f.fake, control: f.fake, link: f.fake, nodes: nodes),
                                             clock: f.clock, fsync: false, reconcile: false)
        var records: [LeaseEvent] = [.reserved(acquiring)]
        for vf in acquiring.vfs {
            records.append(.saved(lease: lease.id, vf: vf.pciAddress, state: VFState(index: vf.index), driver: nil))
            records.append(.binding(lease: lease.id, vf: vf.pciAddress))
        }
        records.append(.vfioGranted(lease: lease.id, grant: try #require(lease.vfioGrants?.first)))
        try await engine.record(records)
        await engine.close()

        engine = try await LeaseEngine.start(stateDirectory: state, config: f.config,
                                             host: LeaseEngine.Host(source: f.fake, control: f.fake, link: f.fake, nodes: nodes),
                                             clock: f.clock, fsync: false, reconcile: false)
        let report = await engine.reconcile()
        #expect(report.rolledBack == [lease.id] && report.rolledForward.isEmpty)
        #expect(await engine.leases().isEmpty)
        #expect(try f.fake.vfioNodeOwnership(group) == nil)
        await engine.close()
    }

    /// After a reboot the kernel makes the node again as root's: `sriovd apply` binds the leased device
    /// to vfio-pci again and gives the node back to the VM's user, keeping the owner from before the lease.
    @Test func applyGivesTheNodeBackAfterAReboot() async throws {
        let f = try LeaseFixture(spec: WholeDeviceTests.spec(), yaml: WholeDeviceTests.yaml)
        let nodes = RecordingNodes(f.fake)
        var engine = try await engine(f, nodes)
        let address = PCIAddress("0000:af:00.1")!
        let lease = try await engine.acquire(LeaseRequest(pool: "whole", owner: "vm-1", deviceUser: "64055", deviceGroup: "107"))
        let group = try #require(lease.vfs.first?.iommuGroup)
        let granted = VFIONodeOwnership(uid: 64055, gid: 107, mode: 0o660)
        #expect(try f.fake.vfioNodeOwnership(group) == granted)
        await engine.close()
        // The reboot: the device comes up on its host driver, the node is gone.
        try f.fake.detach(address)
        try f.fake.probe(address)
        #expect(try f.fake.device(address)?.driver == "mlx5_core")
        #expect(try f.fake.vfioNodeOwnership(group) == nil)

        engine = try await self.engine(f, nodes, reconcile: false)
        let report = await engine.apply(dryRun: false)
        #expect(report.problems == [])
        #expect(try f.fake.device(address)?.driver == "vfio-pci")
        #expect(try f.fake.vfioNodeOwnership(group) == granted)
        #expect(await engine.currentBook.lease(lease.id)?.vfioGrants?.map(\.previous) == [Self.root])
        _ = try await engine.release(lease.id)
        #expect(try f.fake.device(address)?.driver == "mlx5_core")
        await engine.close()
    }

    @Test func acquireBodyCarriesTheDeviceOwnerStrictly() throws {
        let json = #"{"pool":"uplink","owner":"vm","deviceUser":"libvirt-qemu","deviceGroup":"107"}"#
        let body = try JSONDecoder().decode(AcquireBody.self, from: Data(json.utf8))
        let request = try body.request(idempotencyKey: nil)
        #expect(request.deviceUser == "libvirt-qemu" && request.deviceGroup == "107")
        let sent = AcquireBody(request)
        #expect(sent.deviceUser == "libvirt-qemu" && sent.deviceGroup == "107")
        #expect(throws: (any Error).self) {
            _ = try JSONDecoder().decode(AcquireBody.self, from: Data(#"{"pool":"p","owner":"o","deviceUser":107}"#.utf8))
        }
        let bad = try JSONDecoder().decode(AcquireBody.self, from: Data(#"{"pool":"p","owner":"o","deviceUser":"1234567890"}"#.utf8))
        #expect(throws: SRIOVError.self) { _ = try bad.request(idempotencyKey: nil) }
    }
}
