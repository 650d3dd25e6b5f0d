import Synchronization
import SRIOVConfig
import SRIOVCore
import SRIOVFakeHost
import SRIOVLeasing
import SRIOVTestSupport

final class ManualWallClock: WallClock {
    let time = Mutex<Double>(1_800_000_000)
    func now() -> Double { time.withLock { $0 } }
    func advance(_ seconds: Double) { time.withLock { $0 += seconds } }
}

/// An in-memory fake host, a config over it, and an engine on a temp state directory (the journal is
/// the only thing on disk).
struct LeaseFixture {
    static let yaml = """
        protected_pfs: [eno1]
        pools:
          - name: uplink
            selectors:
              - vfs: "ens1f0#0-3"
              - vfs: "ens4f0np0#0-3"
            policy:
              vlans: ["100", "200-299"]
              max_leases_per_owner: 3
          - name: open
            selectors:
              - pf: ens1f1
                range: 0-7
            policy:
              allow_trust: true
              allow_spoofchk_off: true
              mac_prefixes: ["52:54:00"]
            on_release: rebind-host-driver
        """

    let dir: TempDirectory
    let fake: FakeHost
    let config: SRIOVConfig
    let clock = ManualWallClock()

    init(spec: FakeHost.Spec = .standard(), yaml: String = LeaseFixture.yaml) throws {
        dir = try TempDirectory("lease")
        fake = try FakeHost(spec: spec)
        config = try SRIOVConfig.parse(yaml: yaml, source: "test.yaml")
    }

    var stateDirectory: String { dir.path + "/state" }

    var host: LeaseEngine.Host {
        LeaseEngine.Host(source: fake, control: fake, link: fake, nodes: fake)
    }

    func engine(reconcile: Bool = true) async throws -> LeaseEngine {
        try await LeaseEngine.start(stateDirectory: stateDirectory, config: config, host: host, clock: clock, fsync: false,
                                    reconcile: reconcile)
    }

    func vf(_ address: PCIAddress) throws -> VirtualFunction {
        try #require(try fake.inventory().allVFs.first { $0.pciAddress == address })
    }

    func state(_ vf: LeasedVF) async throws -> VFState {
        let pf = try #require(vf.pfInterface)
        let readout = try await fake.readVFs(pf: pf)
        return try #require(readout.vf(vf.index))
    }

    func invariants(_ engine: LeaseEngine) async throws -> [String] {
        let inventory = try fake.inventory()
        var readouts: [InterfaceName: VFReadout] = [:]
        for pf in inventory.pfs where !pf.vfs.isEmpty {
            if let i = pf.interfaces.first { readouts[i] = try await fake.readVFs(pf: i) }
        }
        return Invariants.check(book: await engine.currentBook, plan: await engine.plan, inventory: inventory, readouts: readouts)
    }
}

import Testing
