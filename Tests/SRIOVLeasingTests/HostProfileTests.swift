import Synchronization
import Testing
import SRIOVCore
import SRIOVLeasing

/// The per-step profile: every host operation of a lease step reaches the recorder, by kind, and the
/// engine behaves exactly as without the wrapper.
@Suite("Host operation profile")
struct HostProfileTests {
    final class Recorded: Sendable {
        let ops = Mutex<[String]>([])
        func record(_ op: String, _ duration: Duration) {
            #expect(duration >= .zero)
            ops.withLock { $0.append(op) }
        }
        var all: [String] { ops.withLock { $0 } }
    }

    @Test func acquireAndReleaseStepsAreTimedOneByOne() async throws {
        let f = try LeaseFixture()
        let recorded = Recorded()
        let host = HostProfile.wrap(f.host) { recorded.record($0, $1) }
        let engine = try await LeaseEngine.start(stateDirectory: f.stateDirectory, config: f.config, host: host, clock: f.clock, fsync: false)
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-p", settings: VFSettings(vlan: try VLAN(id: 100))))
        let afterAcquire = recorded.all
        // The fake host binds with the protocol's three writes, so each is its own step.
        for op in ["netlink.getlink", "sysfs.unbind", "sysfs.driver_override", "sysfs.drivers_probe", "sysfs.read_device"] {
            #expect(afterAcquire.contains(op), "acquire: \(op) in \(afterAcquire)")
        }
        #expect(afterAcquire.contains { $0.hasPrefix("netlink.setlink") }, "the lease's VLAN and MAC are set over netlink")
        #expect(!afterAcquire.contains("sysfs.rebind"))
        _ = try await engine.release(lease.id)
        let releaseOps = Array(recorded.all.dropFirst(afterAcquire.count))
        #expect(releaseOps.filter { $0 == "sysfs.unbind" }.count == 1 && releaseOps.contains("sysfs.driver_override"), "\(releaseOps)")
        #expect(try await f.invariants(engine).isEmpty, "the wrapper changes nothing the engine does")
        await engine.close()
    }
}
