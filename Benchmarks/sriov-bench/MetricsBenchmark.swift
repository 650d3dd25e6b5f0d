// sriov-bench metrics-scrape: `/metrics` with every leased VF's counters, against today's scrape
// (pool gauges and journal counters only) in the same run.
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import SRIOVConfig
import SRIOVCore
import SRIOVLeasing
import SRIOVService
import SRIOVSimulator

/// Options: --pfs N --vfs N (default 16 x 256 = 4,096 VFs), --leases N (default 1,000, one VF each),
/// --iterations N (default 50 scrapes of each kind, interleaved), --host DIR (tmpfs), --state DIR.
///
/// Each iteration times, in turn: `baseline` (ServiceMetrics without VF counters: the scrape before
/// VF counters existed), `uncached` (VF counters read at every scrape: one RTM_GETLINK per PF, here the
/// simulator's table + counters file, then 8 samples per leased VF rendered), `cached` (within the
/// 5 s interval: the last read's text reused), and `read-only` (the PF reads alone, no rendering).
func metricsScrape(_ arguments: ArraySlice<String>) async {
    var pfCount = 16
    var vfsPerPF = 256
    var leaseCount = 1000
    var iterations = 50
    var hostDir = "/dev/shm/sriov-bench-metrics-host"
    var state = "/dev/shm/sriov-bench-metrics-state"
    var args = arguments
    while let flag = args.first, let value = args.dropFirst().first {
        args = args.dropFirst(2)
        switch flag {
        case "--pfs": pfCount = max(1, Int(value) ?? pfCount)
        case "--vfs": vfsPerPF = max(1, Int(value) ?? vfsPerPF)
        case "--leases": leaseCount = max(1, Int(value) ?? leaseCount)
        case "--iterations": iterations = max(1, Int(value) ?? iterations)
        case "--host": hostDir = value
        case "--state": state = value
        default: print("metrics-scrape: unknown option \(flag)"); exit(64)
        }
    }
    do {
        try? FileManager.default.removeItem(atPath: hostDir)
        try? FileManager.default.removeItem(atPath: state)
        let spec = SimulatedHostSpec.generated(pfCount: pfCount, vfsPerPF: vfsPerPF)
        let sim = try SimulatedHost.create(directory: hostDir, spec: spec)
        let names = spec.pfs.dropFirst().map(\.interface)
        // One pool per PF, leases dealt over them in turn: every PF has leased VFs, so a scrape reads all
        // of them (one pool over every PF would pack 1,000 leases onto 4 PFs).
        let yaml = "pools:\n" + names.enumerated().map { i, name in
            "  - name: bench\(i)\n    selectors:\n      - vfs: \"\(name)#0-\(vfsPerPF - 1)\"\n"
        }.joined()
        let poolCount = names.count
        let config = try SRIOVConfig.parse(yaml: yaml, source: "bench")
        let host = LeaseEngine.Host(source: sim, control: sim, link: sim)
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let engine = try await LeaseEngine.start(stateDirectory: state, config: config, host: host, fsync: false, logger: logger)
        let setupStart = ContinuousClock.now
        // 1,000 leases, acquired 8 at a time; each VF then gets distinct counters, as traffic would.
        let level = 8
        let total = leaseCount
        let leases = try await withThrowingTaskGroup(of: [Lease].self) { group in
            for t in 0..<level {
                group.addTask {
                    var out: [Lease] = []
                    for k in stride(from: t, to: total, by: level) {
                        out.append(try await engine.acquire(LeaseRequest(pool: "bench\(k % poolCount)", owner: "vm-\(k)")))
                    }
                    return out
                }
            }
            var all: [Lease] = []
            for try await part in group { all += part }
            return all
        }
        for (n, lease) in leases.enumerated() {
            for vf in lease.vfs {
                guard let pf = vf.pfInterface else { continue }
                let k = UInt64(n + 1)
                try sim.setVFStats(VFCounters(rxPackets: k * 1_000, txPackets: k * 900, rxBytes: k * 1_500_000, txBytes: k * 1_300_000,
                                              broadcast: k, multicast: k * 3, rxDropped: k % 7, txDropped: 0), vf: vf.index, pf: pf)
            }
        }
        print("metrics-scrape: simulated host with \(names.count) PFs x \(vfsPerPF) VFs (\(names.count * vfsPerPF) VFs) at \(hostDir); \(leases.count) leases (set up in \(String(format: "%.1f", ms(setupStart.duration(to: .now)) / 1000)) s)")

        let baseline = ServiceMetrics(vfStatsInterval: nil)
        let uncached = ServiceMetrics(vfStatsInterval: .zero)
        let cached = ServiceMetrics(vfStatsInterval: .seconds(3600))
        // Warm-up, outside the numbers: instruments made, tables mapped, the cached text read once.
        var sizes: [String: (bytes: Int, vfSamples: Int)] = [:]
        for (name, m) in [("baseline", baseline), ("uncached", uncached), ("cached", cached)] {
            let text = try await m.scrape(engine: engine)
            sizes[name] = (text.utf8.count, text.split(separator: "\n").filter { $0.hasPrefix("sriovd_vf_") }.count)
        }
        let link = host.link
        var times: [String: [Double]] = ["baseline": [], "uncached": [], "cached": [], "read-only": []]
        let clock = ContinuousClock()
        for _ in 0..<iterations {
            for (name, m) in [("baseline", baseline), ("uncached", uncached), ("cached", cached)] {
                let start = clock.now
                _ = try await m.scrape(engine: engine)
                times[name, default: []].append(ms(start.duration(to: clock.now)))
            }
            let start = clock.now
            let readouts = await LeaseStatsReader.read(LeaseStatsReader.interfaces(of: leases), link: link)
            times["read-only", default: []].append(ms(start.duration(to: clock.now)))
            guard readouts.count == names.count || readouts.count == Set(leases.flatMap { $0.vfs.compactMap(\.pfInterface) }).count else {
                print("metrics-scrape: read \(readouts.count) PFs"); exit(1)
            }
        }
        // 16 scrapes at once with the 5 s interval: how many reads of the PFs they cost.
        let burst = ServiceMetrics()
        let burstStart = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<16 { group.addTask { _ = try await burst.scrape(engine: engine) } }
            try await group.waitForAll()
        }
        let burstMs = ms(burstStart.duration(to: clock.now))
        let burstReads = await burst.vfStats?.reads ?? -1
        await engine.close()

        func p(_ values: [Double], _ q: Double) -> String {
            let v = values.sorted()
            return String(format: "%.2f", v[min(v.count - 1, Int(Double(v.count - 1) * q))])
        }
        print("  \(iterations) scrapes of each kind, interleaved; ms")
        print("  kind        median    p90     p99     max     body bytes  VF samples")
        for name in ["baseline", "uncached", "cached", "read-only"] {
            let t = times[name] ?? []
            let size = sizes[name].map { String($0.bytes) } ?? "-"
            let samples = sizes[name].map { String($0.vfSamples) } ?? "-"
            print("  " + [name.padding(toLength: 10, withPad: " ", startingAt: 0), p(t, 0.5), p(t, 0.9), p(t, 0.99), p(t, 1.0), size, samples]
                .map { $0.padding(toLength: max(8, $0.count + 2), withPad: " ", startingAt: 0) }.joined())
        }
        print("  16 concurrent scrapes (5 s interval): \(String(format: "%.1f", burstMs)) ms in all, \(burstReads) read of the \(Set(leases.flatMap { $0.vfs.compactMap(\.pfInterface) }).count) PFs")
    } catch let error as SRIOVError {
        print("sriov-bench: error: \(error.message)")
        exit(1)
    } catch {
        print("sriov-bench: error: \(error)")
        exit(1)
    }
}

