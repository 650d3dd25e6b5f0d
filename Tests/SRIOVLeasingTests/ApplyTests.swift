import Foundation
import Testing
import SRIOVConfig
import SRIOVCore
import SRIOVLeasing
import SRIOVFakeHost
import SRIOVTestSupport

/// `sriovd apply` on the fake host: desired PF state, and leased VFs back on vfio-pci after a reboot.
@Suite("sriovd apply on the fake host")
struct ApplyTests {
    static let yaml = """
        protected_pfs: [eno1]
        pfs:
          - pf: ens1f0
            num_vfs: 8
            autoprobe: false
          - pf: ens1f1
            num_vfs: 4
            autoprobe: false
          - pf: ens4f1np1
            num_vfs: 2
        pools:
          - name: uplink
            selectors:
              - vfs: "ens1f0#0-3"
            policy:
              vlans: ["100"]
        """

    func pf(_ f: LeaseFixture, _ name: String) throws -> PhysicalFunction {
        try f.fake.inventory().pf(named: name)
    }

    @Test func createsTheConfiguredVFsAndIsIdempotent() async throws {
        let f = try LeaseFixture(yaml: Self.yaml)
        let engine = try await f.engine(reconcile: false)
        // The standard host starts with 8 VFs on ens1f0 and ens1f1 (autoprobe on), none on ens4f1np1.
        let dry = await engine.apply(dryRun: true)
        #expect(dry.problems == [])
        #expect(dry.changed == [
            "0000:3b:00.0 (ens1f0): would set autoprobe on -> off",
            "0000:3b:00.1 (ens1f1): would set autoprobe on -> off, VFs 8 -> 4",
            "0000:af:00.1 (ens4f1np1): would set VFs 0 -> 2",
        ])
        #expect(try pf(f, "ens1f1").numVFs == 8 && pf(f, "ens4f1np1").numVFs == 0 && pf(f, "ens1f0").driversAutoprobe == true)

        let applied = await engine.apply(dryRun: false)
        #expect(applied.problems == [])
        #expect(applied.changed == [
            "0000:3b:00.0 (ens1f0): set autoprobe on -> off",
            "0000:3b:00.1 (ens1f1): set autoprobe on -> off, VFs 8 -> 4",
            "0000:af:00.1 (ens4f1np1): set VFs 0 -> 2",
        ])
        let ens1f1 = try pf(f, "ens1f1")
        #expect(ens1f1.numVFs == 4 && ens1f1.vfs.count == 4 && ens1f1.driversAutoprobe == false)
        #expect(ens1f1.vfs.allSatisfy { $0.driver == nil }, "born unbound with autoprobe off")
        #expect(try pf(f, "ens4f1np1").vfs.count == 2)
        #expect(try pf(f, "ens1f0").numVFs == 8 && pf(f, "ens1f0").driversAutoprobe == false)

        let again = await engine.apply(dryRun: false)
        #expect(again.changed == [] && again.problems == [])
        #expect(again.unchanged == [
            "0000:3b:00.0 (ens1f0): 8 VFs, autoprobe off, as configured",
            "0000:3b:00.1 (ens1f1): 4 VFs, autoprobe off, as configured",
            "0000:af:00.1 (ens4f1np1): 2 VFs, as configured",
        ])
        await engine.close()
    }

    @Test func afterARebootLeasedVFsAreBoundAgainAndReconcileFindsNoDrift() async throws {
        let f = try LeaseFixture(yaml: Self.yaml)
        var engine = try await f.engine(reconcile: false)
        #expect(await engine.apply(dryRun: false).problems == [])
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-1", count: 2,
                                                          settings: VFSettings(vlan: try VLAN(id: 100))))
        await engine.close()

        // A reboot: the VFs are gone, then the PF's VFs come back (autoprobe off: unbound, settings reset).
        let ens1f0 = try pf(f, "ens1f0").pciAddress
        try f.fake.writeNumVFs(0, pf: ens1f0)
        try f.fake.writeNumVFs(8, pf: ens1f0)
        for vf in lease.vfs { #expect(try f.vf(vf.pciAddress).driver == nil) }

        engine = try await f.engine(reconcile: false)
        let dry = await engine.apply(dryRun: true)
        #expect(dry.changed.count == 2 && dry.changed.allSatisfy { $0.contains("would be ") && $0.contains("bound to vfio-pci (was unbound)") })
        for vf in lease.vfs { #expect(try f.vf(vf.pciAddress).driver == nil, "a dry run changes nothing") }

        let report = await engine.apply(dryRun: false)
        #expect(report.problems == [])
        #expect(report.changed.count == 2)
        #expect(report.changed.allSatisfy { $0.hasPrefix("lease \(lease.id) VF ") && $0.contains("bound to vfio-pci (was unbound)") }, "\(report.changed)")
        for vf in lease.vfs {
            let now = try f.vf(vf.pciAddress)
            #expect(now.driver == "vfio-pci" && now.driverOverride == "vfio-pci")
            #expect(f.fake.vfioNodeExists(try #require(now.iommuGroup)))
            let state = try await f.state(vf)
            #expect(state.vlan.id == 100 && state.mac == vf.settings.mac)
        }
        #expect(await engine.auditLog().contains { $0.action == "lease.restore" && $0.target == "\(lease.id)" && $0.result == "ok" })

        // Idempotent, and the start-up reconcile of sriovd finds nothing to quarantine.
        let again = await engine.apply(dryRun: false)
        #expect(again.changed == [] && again.problems == [])
        let reconciled = await engine.reconcile()
        #expect(reconciled.drift == [] && reconciled.errors == [] && reconciled.rolledBack == [])
        #expect(await engine.currentBook.quarantine.isEmpty)
        #expect(try await engine.lease(lease.id).state == .active)
        #expect(try await f.invariants(engine) == [])
        await engine.close()
    }

    @Test func refusesToRemoveLeasedVFs() async throws {
        let f = try LeaseFixture(yaml: Self.yaml)
        var engine = try await f.engine(reconcile: false)
        _ = await engine.apply(dryRun: false)
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-1"))
        await engine.close()

        let fewer = try SRIOVConfig.parse(yaml: Self.yaml.replacingOccurrences(of: "num_vfs: 8", with: "num_vfs: 6"), source: "fewer.yaml")
        engine = try await LeaseEngine.start(stateDirectory: f.stateDirectory, config: fewer, host: f.host, clock: f.clock,
                                             fsync: false, reconcile: false)
        let report = await engine.apply(dryRun: false)
        #expect(report.problems == [
            "0000:3b:00.0 (ens1f0): cannot change sriov_numvfs from 8 to 6: 1 leased VF would vanish (\(lease.vfs[0].pciAddress), lease \(lease.id)); release it first (`sriovctl lease release`), then run apply again",
        ])
        #expect(try pf(f, "ens1f0").numVFs == 8)
        #expect(try f.vf(lease.vfs[0].pciAddress).driver == "vfio-pci")
        await engine.close()
    }
}
