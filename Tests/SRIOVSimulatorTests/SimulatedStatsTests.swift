import Foundation
import Testing
import SRIOVCore
import SRIOVTestSupport
@testable import SRIOVSimulator

/// The simulated kernel's VF counters (IFLA_VF_STATS): zero until set, seen by every process, reset
/// when the VFs are made again.
@Suite("Simulated VF counters")
struct SimulatedStatsTests {
    let dir: TempDirectory
    let host: SimulatedHost
    let pf = InterfaceName("ens1f0")!

    init() throws {
        dir = try TempDirectory("simstats")
        host = try SimulatedHost.create(directory: dir.path + "/host", spec: .standard())
    }

    @Test func everyVFReadsZeroUntilItsCountersAreSet() async throws {
        let numVFs = try await host.readVFs(pf: pf).numVFs
        let r = try await host.readVFStats(pf: pf)
        #expect(r.interface == pf && r.numVFs == numVFs && r.counters.count == numVFs && r.missing.isEmpty)
        #expect(r.counters.values.allSatisfy { $0 == .zero })
    }

    @Test func setCountersAreWhatEveryProcessReads() async throws {
        let other = try SimulatedHost.open(directory: host.directory)
        let c = VFCounters(rxPackets: 10, txPackets: 20, rxBytes: 12_345_678_901, txBytes: 40, broadcast: 1, multicast: 2,
                           rxDropped: nil, txDropped: 3)
        try host.setVFStats(c, vf: 2, pf: pf)
        let r = try await other.readVFStats(pf: pf)
        #expect(r.counters[2] == c)
        #expect(r.counters[2]?.rxDropped == nil, "a counter set as not reported stays not reported")
        #expect(r.counters[1] == .zero)
        try host.setVFStats(VFCounters.zero, vf: 2, pf: pf)
        #expect(try await other.readVFStats(pf: pf).counters[2] == .zero)
    }

    @Test func refusesAVFOrPFThatDoesNotExist() throws {
        #expect(throws: SRIOVError.self) { try host.setVFStats(.zero, vf: 999, pf: pf) }
        #expect(throws: SRIOVError.self) { try host.setVFStats(.zero, vf: 0, pf: InterfaceName("nosuch0")!) }
    }

    @Test func newVFsStartFromZero() async throws {
        try host.setVFStats(VFCounters(rxPackets: 99), vf: 1, pf: pf)
        let address = PCIAddress("0000:3b:00.0")!
        let count = try await host.readVFs(pf: pf).numVFs
        try host.writeNumVFs(0, pf: address)
        try host.writeNumVFs(count, pf: address)
        #expect(try await host.readVFStats(pf: pf).counters[1] == .zero)
    }

    @Test func aDamagedCountersFileIsReportedNotGuessed() async throws {
        try "vf 1 x\n".write(toFile: host.statsPath(pf.name), atomically: true, encoding: .utf8)
        await #expect(throws: SRIOVError.self) { try await host.readVFStats(pf: pf) }
    }
}
