import Foundation
import Logging
import SRIOVCore
import SRIOVLeasing
import SRIOVService
import SRIOVSimulator
import Testing

/// sriovd with its host watcher on the simulated host: a change made by another writer of that host
/// (as `sriovctl --simulated` or an operator's tool would be) reaches the engine through the event
/// log, and the lease's drift is restored, as the sample configuration's `on_drift: restore` says.
@Suite(.timeLimit(.minutes(1))) struct HostWatcherDaemonTests {
    @Test func driftMadeByAnotherWriterIsRestored() async throws {
        let daemon = try await TestDaemon.start("watcher")
        let engine = try #require(daemon.daemon.slot.engine)
        let events = engine.eventFeed.subscribe()
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm", settings: VFSettings(vlan: try VLAN(id: 100))))
        let vf = try #require(lease.vfs.first)
        let pf = try #require(vf.pfInterface)
        let directory = SimulatedHost.directory(inStateDirectory: daemon.options.stateDirectory)
        let other = try SimulatedHost.open(directory: directory)
        let hostEvents = try SimulatedEventSource(directory: directory).events()
        try await other.apply(.vlan(try VLAN(id: 7)), vf: vf.index, pf: pf)
        var drift: EngineEvent?
        for await event in events.events where event.kind == .leaseDrift {
            drift = event
            break
        }
        guard case .drift(let record)? = drift?.payload else {
            Issue.record("no lease.drift with a drift record: \(String(describing: drift))")
            return
        }
        #expect(record.lease == lease.id && record.action == .restore)
        #expect(record.changes == [DriftChange(field: "vlan", wanted: "100", actual: "7")])
        // The drift is journaled before the restore runs: wait for the restore's own write (the
        // second change of the PF's VF settings after the tamper).
        var changes = 0
        for await event in hostEvents {
            if case .link(let link) = event, link.interface == pf, link.vfInfo { changes += 1 }
            if changes == 2 { break }
        }
        #expect(try await other.readVFs(pf: pf).vf(vf.index)?.vlan.id == 100)
        try await daemon.stop()
    }

    @Test func theWatcherCanBeTurnedOff() async throws {
        let daemon = try await TestDaemon.start("nowatcher") { $0.hostEvents = false }
        let engine = try #require(daemon.daemon.slot.engine)
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm", settings: VFSettings(vlan: try VLAN(id: 100))))
        let vf = try #require(lease.vfs.first)
        let pf = try #require(vf.pfInterface)
        let other = try SimulatedHost.open(directory: SimulatedHost.directory(inStateDirectory: daemon.options.stateDirectory))
        try await other.apply(.vlan(try VLAN(id: 7)), vf: vf.index, pf: pf)
        // Nothing follows the host: `lease check` still finds it, and the host keeps VLAN 7.
        let report = try await engine.check()
        #expect(report.broken.contains { $0.contains("vlan is 7, the lease promised 100") })
        #expect(engine.eventFeed.count(.leaseDrift) == 0)
        #expect(try await other.readVFs(pf: pf).vf(vf.index)?.vlan.id == 7)
        try await daemon.stop()
    }
}
