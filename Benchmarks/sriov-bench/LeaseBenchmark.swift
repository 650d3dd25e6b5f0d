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
/// real disk, so fsync costs what it costs), --host DIR (the simulated sysfs, on tmpfs like sysfs),
/// --rate N (open loop: N cycles/s offered in total, each requester's cycles scheduled at fixed
/// times and timed from when they were due, so queueing shows in the latency; without it, closed
/// loop: each requester starts its next cycle when the last one ends), --fsync on|off|both,
/// --samples FILE (every cycle of the last run: "<ms since the start, when due> <cycle latency ms>").
/// Each requester runs one cycle before the timed ones, not counted.
func leaseCycles(_ arguments: ArraySlice<String>) async {
    var cycles = 2000
    var levels = [1, 32]
    var rateOption: Double?
    var pfCount = 4
    var vfsPerPF = 64
    var fsyncModes = [true, false]
    var state = "/var/tmp/sriov-bench-lease"
    var hostDir = "/dev/shm/sriov-bench-lease-host"
    var samplesPath: String?
    var args = arguments
    while let flag = args.first, let value = args.dropFirst().first {
        args = args.dropFirst(2)
        switch flag {
        case "--cycles": cycles = Int(value) ?? cycles
        case "--concurrency": levels = value.split(separator: ",").compactMap { Int($0) }
        case "--state": state = value
        case "--host": hostDir = value
        case "--rate": rateOption = Double(value)
        case "--pfs": pfCount = max(1, Int(value) ?? pfCount)
        case "--vfs": vfsPerPF = max(1, Int(value) ?? vfsPerPF)
        case "--fsync": fsyncModes = value == "on" ? [true] : value == "off" ? [false] : [true, false]
        case "--samples": samplesPath = value
        default: print("lease-cycles: unknown option \(flag)"); exit(64)
        }
    }
    let rate = rateOption
    do {
        let spec = SimulatedHostSpec.generated(pfCount: pfCount, vfsPerPF: vfsPerPF)
        let sim = try SimulatedHost.create(directory: hostDir, spec: spec)
        let names = spec.pfs.dropFirst().map(\.interface)
        let yaml = "pools:\n  - name: bench\n    selectors:\n" + names.map { "      - vfs: \"\($0)#0-\(vfsPerPF - 1)\"\n" }.joined()
        let config = try SRIOVConfig.parse(yaml: yaml, source: "bench")
        let host = LeaseEngine.Host(source: sim, control: sim, link: sim)
        print("lease-cycles: simulated host with \(names.count) PFs x \(vfsPerPF) VFs at \(hostDir); journal in \(state)")
        try? FileManager.default.removeItem(atPath: state)
        let probe = fsyncProbeLine(directory: state)
        print("lease-cycles: " + probe.text)
        print("lease-cycles: " + MachineProbe.measure().text)
        for fsync in fsyncModes {
            for level in levels {
                try? FileManager.default.removeItem(atPath: state)
                var logger = Logger(label: "bench")
                logger.logLevel = .error
                let engine = try await LeaseEngine.start(stateDirectory: state, config: config, host: host, fsync: fsync, logger: logger)
                let perTask = max(1, cycles / level)
                // Each requester runs one cycle outside the numbers first (the engine's first inventory,
                // the pool's index, threads and caches warming up), as daemon-load's clients do.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for t in 0..<level {
                        group.addTask { _ = try await engine.release(try await engine.acquire(LeaseRequest(pool: "bench", owner: "vm-\(t)")).id) }
                    }
                    try await group.waitForAll()
                }
                let clock = ContinuousClock()
                let usageStart = ProcessUsage.now()
                let start = clock.now
                // Per cycle: (whole cycle from when it was due, acquire alone, release alone, when it was
                // due since the start), in ms.
                let timings = try await withThrowingTaskGroup(of: [(Double, Double, Double, Double)].self) { group in
                    for t in 0..<level {
                        group.addTask {
                            var out: [(Double, Double, Double, Double)] = []
                            for k in 0..<perTask {
                                // Open loop: cycle k of requester t is due at (k * level + t) / rate.
                                let due = rate.map { start.advanced(by: .seconds(Double(k * level + t) / $0)) }
                                if let due, clock.now < due { try await clock.sleep(until: due) }
                                let begin = due ?? clock.now
                                let acquireStart = clock.now
                                let lease = try await engine.acquire(LeaseRequest(pool: "bench", owner: "vm-\(t)"))
                                let releaseStart = clock.now
                                _ = try await engine.release(lease.id)
                                let end = clock.now
                                out.append((ms(begin.duration(to: end)), ms(acquireStart.duration(to: releaseStart)),
                                            ms(releaseStart.duration(to: end)), ms(start.duration(to: begin))))
                            }
                            return out
                        }
                    }
                    var all: [(Double, Double, Double, Double)] = []
                    for try await s in group { all += s }
                    return all
                }
                let samples = timings.map(\.0)
                let elapsed = start.duration(to: clock.now)
                let usage = ProcessUsage.now() - usageStart
                let cpu = usage.cpuSeconds
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                let stats = await engine.journalStatistics
                await engine.close()
                let sorted = samples.sorted()
                func p(_ q: Double, _ values: [Double]? = nil) -> String {
                    let v = values ?? sorted
                    return String(format: "%.2f", v[min(v.count - 1, Int(Double(v.count - 1) * q))])
                }
                let acquires = timings.map(\.1).sorted(), releases = timings.map(\.2).sorted()
                let mode = rate.map { String(format: "open loop, %.0f/s offered", $0) } ?? "closed loop"
                print(String(format: "lease-cycles: %@, fsync %@, %2d concurrent: %7.0f cycles/s  p50 %@ ms  p99 %@ ms  CPU %.3f ms/cycle  (%d cycles, %d journal appends in %d fsyncs, %.2f ms each)",
                             mode, fsync ? "on " : "off", level, Double(samples.count) / seconds, p(0.5), p(0.99),
                             cpu * 1000 / Double(samples.count), samples.count, stats.appends, stats.fsyncs,
                             stats.fsyncs > 0 ? stats.fsyncSeconds * 1000 / Double(stats.fsyncs) : 0))
                if let samplesPath {
                    let text = timings.sorted { $0.3 < $1.3 }.map { String(format: "%.3f %.3f\n", $0.3, $0.0) }.joined()
                    do { try text.write(toFile: samplesPath, atomically: true, encoding: .utf8) } catch {
                        print("lease-cycles: cannot write \(samplesPath): \(error)")
                    }
                }
                if fsync, let floor = probe.median, floor > 0, let p99 = Double(p(0.99)) {
                    print(String(format: "lease-cycles:   p99 / fsync median: %.1fx", p99 / floor))
                }
                print("lease-cycles:   " + usage.perCycle(samples.count))
                print("lease-cycles:   each operation alone: acquire p50 \(p(0.5, acquires)) ms  p99 \(p(0.99, acquires)) ms; release p50 \(p(0.5, releases)) ms  p99 \(p(0.99, releases)) ms")
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

/// What the process (all its threads) used so far: CPU in user and kernel mode, and how often its
/// threads were switched out: voluntarily (each sleep: a thread hand-off, a lock, I/O) or preempted.
struct ProcessUsage {
    var userSeconds = 0.0
    var systemSeconds = 0.0
    var voluntarySwitches = 0
    var involuntarySwitches = 0

    static func now() -> ProcessUsage {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return ProcessUsage(userSeconds: Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6,
                            systemSeconds: Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6,
                            voluntarySwitches: usage.ru_nvcsw, involuntarySwitches: usage.ru_nivcsw)
    }

    /// User + system.
    var cpuSeconds: Double { userSeconds + systemSeconds }

    static func - (a: ProcessUsage, b: ProcessUsage) -> ProcessUsage {
        ProcessUsage(userSeconds: a.userSeconds - b.userSeconds, systemSeconds: a.systemSeconds - b.systemSeconds,
                     voluntarySwitches: a.voluntarySwitches - b.voluntarySwitches,
                     involuntarySwitches: a.involuntarySwitches - b.involuntarySwitches)
    }

    /// "CPU per cycle: user U ms + system S ms; context switches per cycle: V voluntary, I involuntary".
    func perCycle(_ cycles: Int) -> String {
        let n = Double(max(1, cycles))
        return String(format: "CPU per cycle: user %.3f ms + system %.3f ms; context switches per cycle: %.1f voluntary, %.1f involuntary",
                      userSeconds * 1000 / n, systemSeconds * 1000 / n, Double(voluntarySwitches) / n, Double(involuntarySwitches) / n)
    }
}

/// User + system CPU time of this process so far (all threads), in seconds.
func processCPUSeconds() -> Double { ProcessUsage.now().cpuSeconds }

/// sriov-bench record-encode: the journal's record writer (and the generic compact encoder) against
/// Foundation's JSONEncoder, on a real lease.
func recordEncode(_ arguments: ArraySlice<String>) async {
    var iterations = 20_000
    if arguments.first == "--iterations", let n = arguments.dropFirst().first.flatMap({ Int($0) }) { iterations = n }
    do {
        let hostDir = "/dev/shm/sriov-bench-encode-host-\(getpid())"
        let state = "/dev/shm/sriov-bench-encode-state-\(getpid())"
        defer {
            try? FileManager.default.removeItem(atPath: hostDir)
            try? FileManager.default.removeItem(atPath: state)
        }
        let spec = SimulatedHostSpec.generated(pfCount: 2, vfsPerPF: 8)
        let sim = try SimulatedHost.create(directory: hostDir, spec: spec)
        let names = spec.pfs.dropFirst().map(\.interface)
        let yaml = "pools:\n  - name: bench\n    selectors:\n" + names.map { "      - vfs: \"\($0)#0-7\"\n" }.joined()
        let config = try SRIOVConfig.parse(yaml: yaml, source: "bench")
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let engine = try await LeaseEngine.start(stateDirectory: state, config: config,
                                                 host: LeaseEngine.Host(source: sim, control: sim, link: sim),
                                                 fsync: false, logger: logger)
        let lease = try await engine.acquire(LeaseRequest(pool: "bench", owner: "vnf-7", count: 2, placement: .spread,
                                                          settings: VFSettings(vlan: try VLAN(id: 100)), ttlSeconds: 3600,
                                                          requestID: "bench-1"), requestedBy: "uid 0 (root)")
        await engine.close()
        let foundation = JSONEncoder()
        foundation.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let compact = CompactJSONEncoder()
        let a = try compact.encode(lease)
        let b = Array(try foundation.encode(lease))
        print("record-encode: a lease.reserved payload of \(a.count) bytes; identical to JSONEncoder's: \(a == b && lease.json == b)")
        let clock = ContinuousClock()
        var sink = 0
        for (name, body) in [("JSONEncoder (baseline)", { Array(try foundation.encode(lease)).count }),
                             ("CompactJSONEncoder", { try compact.encode(lease).count }),
                             ("JSONWriter (the journal)", { lease.json.count })] as [(String, () throws -> Int)] {
            var best = Double.infinity
            for _ in 0..<3 {
                let d = try clock.measure { for _ in 0..<iterations { sink &+= try body() } }
                best = min(best, (Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18) / Double(iterations))
            }
            print(String(format: "record-encode: %-24@ %7.1f µs per record (best of 3 x %d)", name, best * 1e6, iterations))
        }
        if sink == 42 { print("") }
    } catch {
        print("record-encode: error: \(error)")
        exit(1)
    }
}
