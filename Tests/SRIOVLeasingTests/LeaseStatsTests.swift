import Testing
import SRIOVCore
import SRIOVFakeHost
import SRIOVLeasing

/// A lease's VF counters through the engine, on the in-memory fake host: one RTM_GETLINK per PF, each VF's
/// counters as the kernel gave them, and every reason a counter is not reported.
@Suite("Lease VF counters")
struct LeaseStatsTests {
    @Test func aSpreadLeaseReadsEachOfItsPFsOnce() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vnf-7", count: 2, placement: .spread), requestedBy: "test")
        #expect(Set(lease.vfs.compactMap(\.pfInterface)).count == 2)
        for (n, vf) in lease.vfs.enumerated() {
            f.fake.setVFStats(VFCounters(rxPackets: UInt64(100 + n), txPackets: 5, rxBytes: 6_400, txBytes: 320, broadcast: 0,
                                         multicast: 1, rxDropped: 0, txDropped: 0), vf: vf.index, pf: try #require(vf.pfInterface))
        }
        let before = lease.vfs.compactMap(\.pfInterface).map { f.fake.statsReads($0) }
        let stats = try await engine.leaseStats(lease.id)
        #expect(lease.vfs.compactMap(\.pfInterface).map { f.fake.statsReads($0) } == before.map { $0 + 1 })
        #expect(stats.lease == lease.id && stats.owner == "vnf-7" && stats.pool == "uplink")
        #expect(stats.readAt == f.clock.now())
        #expect(stats.vfs.map(\.pciAddress) == lease.vfs.map(\.pciAddress))
        #expect(stats.vfs.map { $0.counters.rxPackets } == [100, 101])
        #expect(stats.vfs.allSatisfy { $0.note == nil && $0.counters.rxBytes == 6_400 })
        await #expect(throws: SRIOVError.self) { try await engine.leaseStats(LeaseID(parsing: "l-0123456789abcdef")) }
        await engine.close()
    }

    @Test func everyCounterTheKernelDidNotGiveIsNotReportedWithTheReason() throws {
        let pf = InterfaceName("ens1f0")!
        func vf(_ index: Int, netdev: Bool = true) -> LeasedVF {
            LeasedVF(pciAddress: PCIAddress("0000:3b:02.\(index)")!, pf: PCIAddress("0000:3b:00.0")!, pfInterface: netdev ? pf : nil,
                     index: index, iommuGroup: nil, numaNode: nil, vfioDevice: nil, settings: VFSettings(), saved: nil,
                     previousDriver: nil, stage: .active)
        }
        let readout = VFStatsReadout(interface: pf, numVFs: 5,
                                     counters: [0: .zero, 1: .unreported, 2: VFCounters(rxPackets: 1, txPackets: 2, rxBytes: 3, txBytes: 4,
                                                                                        broadcast: 5, multicast: 6)],
                                     missing: [3, 4], recoveredPastTruncatedLength: true)
        let ok: LeaseStatsReader.Readouts = [pf: .success(readout)]
        #expect(LeaseStatsReader.counters(of: vf(0), in: ok) == (.zero, nil))
        #expect(LeaseStatsReader.counters(of: vf(1), in: ok) == (.unreported, "the kernel sent no IFLA_VF_STATS for this VF"))
        #expect(LeaseStatsReader.counters(of: vf(2), in: ok).note == "the kernel did not report rx dropped, tx dropped")
        #expect(LeaseStatsReader.counters(of: vf(3), in: ok)
                == (.unreported, "the kernel's RTM_GETLINK reply for ens1f0 left VF 3 out (3 of 5 VFs reported)"))
        #expect(LeaseStatsReader.counters(of: vf(7), in: ok).note == "ens1f0 has no VF 7 now (IFLA_NUM_VF 5)")
        #expect(LeaseStatsReader.counters(of: vf(0, netdev: false), in: ok)
                == (.unreported, "its PF 0000:3b:00.0 has no network interface: no netlink counters"))
        let failed: LeaseStatsReader.Readouts = [pf: .failure(SRIOVError(.kernelRefused, "ens1f0: EOPNOTSUPP"))]
        #expect(LeaseStatsReader.counters(of: vf(0), in: failed) == (.unreported, "reading ens1f0 failed: ens1f0: EOPNOTSUPP"))
    }
}
