// sriov-bench lease-cycles: acquire+release cycles on the simulated host with the fsync'd journal.
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import SRIOVConfig
import SRIOVCore
import SRIOVLeasing
import SRIOVSimulator

/// Options: --cycles N (per concurrency level, default 2000), --concurrency 1,32, --state DIR (on a
/// real disk, so fsync costs what it costs), --host DIR (the simulated sysfs, on tmpfs like sysfs).
func leaseCycles(_ arguments: ArraySlice<String>) async {
    var cycles = 2000
    var levels = [1, 32]
    var state = "/var/tmp/sriov-bench-lease"
    var hostDir = "/dev/shm/sriov-bench-lease-host"
    var args = arguments
    while let flag = args.first, let value = args.dropFirst().first {
        args = args.dropFirst(2)
        switch flag {
        case "--cycles": cycles = Int(value) ?? cycles
        case "--concurrency": levels = value.split(separator: ",").compactMap { Int($0) }
        case "--state": state = value
        case "--host": hostDir = value
        default: print("lease-cycles: unknown option \(flag)"); exit(64)
        }
    }
    do {
        let spec = SimulatedHostSpec.generated(pfCount: 4, vfsPerPF: 64)
        let sim = try SimulatedHost.create(directory: hostDir, spec: spec)
        let names = spec.pfs.dropFirst().map(\.interface)
        let yaml = "pools:\n  - name: bench\n    selectors:\n" + names.map { "      - vfs: \"\($0)#0-63\"\n" }.joined()
        let config = try SRIOVConfig.parse(yaml: yaml, source: "bench")
        let host = LeaseEngine.Host(source: sim, control: sim, link: sim, paths: sim.paths)
        print("lease-cycles: simulated host with \(names.count) PFs x 64 VFs at \(hostDir); journal in \(state)")
        for fsync in [true, false] {
            for level in levels {
                try? FileManager.default.removeItem(atPath: state)
                var logger = Logger(label: "bench")
                logger.logLevel = .error
                let engine = try await LeaseEngine.start(stateDirectory: state, config: config, host: host, fsync: fsync, logger: logger)
                let perTask = max(1, cycles / level)
                let clock = ContinuousClock()
                let cpuStart = processCPUSeconds()
                let start = clock.now
                let samples = try await withThrowingTaskGroup(of: [Double].self) { group in
                    for t in 0..<level {
                        group.addTask {
                            var out: [Double] = []
                            for _ in 0..<perTask {
                                let d = try await clock.measure {
                                    let lease = try await engine.acquire(LeaseRequest(pool: "bench", owner: "vm-\(t)"))
                                    _ = try await engine.release(lease.id)
                                }
                                out.append(Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
                            }
                            return out
                        }
                    }
                    var all: [Double] = []
                    for try await s in group { all += s }
                    return all
                }
                let elapsed = start.duration(to: clock.now)
                let cpu = processCPUSeconds() - cpuStart
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                let stats = await engine.journalStatistics
                await engine.close()
                let sorted = samples.sorted()
                func p(_ q: Double) -> String { String(format: "%.2f", sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * q))]) }
                print(String(format: "lease-cycles: fsync %@, %2d concurrent: %7.0f cycles/s  p50 %@ ms  p99 %@ ms  CPU %.3f ms/cycle  (%d cycles, %d journal appends in %d fsyncs, %.2f ms each)",
                             fsync ? "on " : "off", level, Double(samples.count) / seconds, p(0.5), p(0.99),
                             cpu * 1000 / Double(samples.count), samples.count, stats.appends, stats.fsyncs,
                             stats.fsyncs > 0 ? stats.fsyncSeconds * 1000 / Double(stats.fsyncs) : 0))
            }
        }
    } catch let error as SRIOVError {
        print("lease-cycles: error: \(error.message)")
        exit(1)
    } catch {
        print("lease-cycles: error: \(error)")
        exit(1)
    }
}

/// User + system CPU time of this process so far (all threads), in seconds.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}
