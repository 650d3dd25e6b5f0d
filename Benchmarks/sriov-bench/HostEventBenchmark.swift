// sriov-bench host-events: how long a host event takes to reach the engine's view, and the lease-cycle
// benchmark with the host watch on and off, side by side in one run.
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import SRIOVConfig
import SRIOVCore
import SRIOVLeasing
import SRIOVSimulator

/// Options: --pfs N --vfs N (default 16 x 256), --iterations N (events timed, default 200),
/// --coalescing-ms N (the watch's batching window, default 50 as in sriovd), --cycles N (lease cycles
/// per side, default 1000), --concurrency 1,32, --fsync on|off, --host DIR, --state DIR.
///
/// Latency: another writer of the simulated host (as `sriovctl --simulated` would be) unbinds or
/// probes a free VF; the time is from just before that write until the engine's cached view shows the
/// VF's new driver (the batch that carried it was observed). The cycles: acquire+release in a closed
/// loop, first with no watch, then with the watch following the host's event log (every cycle's binds
/// and settings are events it handles).
func hostEvents(_ arguments: ArraySlice<String>) async {
    var pfCount = 16, vfsPerPF = 256, iterations = 200, coalescingMS = 50, cycles = 1000
    var levels = [1, 32]
    var fsync = true
    var hostDir = "/dev/shm/sriov-bench-events-host"
    var state = "/var/tmp/sriov-bench-events"
    var args = arguments
    while let flag = args.first, let value = args.dropFirst().first {
        args = args.dropFirst(2)
        switch flag {
        case "--pfs": pfCount = max(1, Int(value) ?? pfCount)
        case "--vfs": vfsPerPF = max(1, Int(value) ?? vfsPerPF)
        case "--iterations": iterations = max(1, Int(value) ?? iterations)
        case "--coalescing-ms": coalescingMS = max(0, Int(value) ?? coalescingMS)
        case "--cycles": cycles = max(1, Int(value) ?? cycles)
        case "--concurrency": levels = value.split(separator: ",").compactMap { Int($0) }
        case "--fsync": fsync = value != "off"
        case "--host": hostDir = value
        case "--state": state = value
        default: print("host-events: unknown option \(flag)"); exit(64)
        }
    }
    var logger = Logger(label: "bench")
    logger.logLevel = .error
    let settings = HostWatchSettings(coalescing: .milliseconds(coalescingMS), fullPassInterval: .seconds(3600))
    let log = logger
    do {
        let spec = SimulatedHostSpec.generated(pfCount: pfCount, vfsPerPF: vfsPerPF)
        let clock = ContinuousClock()
        var sim: SimulatedHost! = nil
        let built = try clock.measure {
            if let existing = try? SimulatedHost.open(directory: hostDir), existing.spec == spec { sim = existing } else {
                sim = try SimulatedHost.create(directory: hostDir, spec: spec)
            }
        }
        let dir = hostDir
        let names = spec.pfs.dropFirst().map(\.interface)
        let yaml = "pools:\n  - name: bench\n    selectors:\n" + names.map { "      - vfs: \"\($0)#0-\(vfsPerPF - 1)\"\n" }.joined()
        let config = try SRIOVConfig.parse(yaml: yaml, source: "bench")
        let host = LeaseEngine.Host(source: sim, control: sim, link: sim)
        print("host-events: simulated host \(pfCount) x \(vfsPerPF) VFs at \(hostDir) (ready in \(built)); coalescing \(coalescingMS) ms; journal in \(state)")

        // 1. Event -> updated view.
        try? FileManager.default.removeItem(atPath: state)
        let engine = try await LeaseEngine.start(stateDirectory: state, config: config, host: host, fsync: fsync, logger: logger)
        _ = await engine.observe(HostEventBatch([.overflow]))  // the engine's view, read once
        let (observed, yield) = AsyncStream.makeStream(of: HostEventBatch.self)
        let watch = HostWatch(engine: engine, source: SimulatedEventSource(directory: hostDir), settings: settings, logger: logger) { batch, _ in
            yield.yield(batch)
        }
        let watching = Task { await watch.run() }
        // Another writer of the same host, as another process would be.
        let writer = try SimulatedHost.open(directory: hostDir)
        let targets = try writer.inventory().allVFs.filter { config.pools.isEmpty || $0.pf != spec.pfs[0].address }.map(\.pciAddress)
        var iterator = observed.makeAsyncIterator()
        // The watch opens its source when it starts: one warm-up event until it is seen.
        var warm = false
        var warmups = 0
        while !warm && warmups < 100 {
            warmups += 1
            let vf = targets[0]
            if (try writer.device(vf))?.driver == nil { try writer.probe(vf) } else { try writer.unbind(vf) }
            let deadline = clock.now.advanced(by: .milliseconds(200))
            while clock.now < deadline, let batch = await iterator.next() {
                if batch.devices[vf] != nil { warm = true; break }
            }
        }
        var samples: [Double] = []
        for i in 0..<iterations {
            let vf = targets[(i * 37) % targets.count]
            let bound = (try writer.device(vf))?.driver != nil
            let start = clock.now
            if bound { try writer.unbind(vf) } else { try writer.probe(vf) }
            while let batch = await iterator.next() {
                guard batch.devices[vf] != nil else { continue }
                let seen = await engine.cachedVF(vf)?.driver
                if (seen == nil) == bound { break }
            }
            samples.append(ms(start.duration(to: clock.now)))
        }
        watching.cancel()
        await watching.value
        await engine.close()
        let sorted = samples.sorted()
        func p(_ q: Double, _ v: [Double]) -> String { String(format: "%.2f", v[min(v.count - 1, Int(Double(v.count - 1) * q))]) }
        print("host-events: event -> updated view (\(iterations) unbind/probe by another writer): p50 \(p(0.5, sorted)) ms  p99 \(p(0.99, sorted)) ms  max \(p(1, sorted)) ms")

        // 2. Lease cycles, watch off then on.
        for level in levels {
            var line: [String] = []
            for on in [false, true] {
                try? FileManager.default.removeItem(atPath: state)
                let engine = try await LeaseEngine.start(stateDirectory: state, config: config, host: host, fsync: fsync, logger: logger)
                let batches = Counter()
                let watching: Task<Void, Never>? = on ? Task {
                    await HostWatch(engine: engine, source: SimulatedEventSource(directory: dir), settings: settings, logger: log) { _, _ in
                        batches.add()
                    }.run()
                } : nil
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for t in 0..<level {
                        group.addTask { _ = try await engine.release(try await engine.acquire(LeaseRequest(pool: "bench", owner: "vm-\(t)")).id) }
                    }
                    try await group.waitForAll()
                }
                let perTask = max(1, cycles / level)
                let start = clock.now
                let cpuStart = processCPUSeconds()
                let timings = try await withThrowingTaskGroup(of: [Double].self) { group in
                    for t in 0..<level {
                        group.addTask {
                            var out: [Double] = []
                            for _ in 0..<perTask {
                                let begin = clock.now
                                _ = try await engine.release(try await engine.acquire(LeaseRequest(pool: "bench", owner: "vm-\(t)")).id)
                                out.append(ms(begin.duration(to: clock.now)))
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
                watching?.cancel()
                await watching?.value
                await engine.close()
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                let s = timings.sorted()
                line.append(String(format: "watch %@: %6.0f cycles/s p50 %@ ms p99 %@ ms CPU %.3f ms/cycle%@", on ? "on " : "off",
                                   Double(s.count) / seconds, p(0.5, s), p(0.99, s), cpu * 1000 / Double(s.count),
                                   on ? " (\(batches.value) batches)" : ""))
            }
            print("host-events: lease cycles, fsync \(fsync ? "on" : "off"), \(level) concurrent: " + line.joined(separator: "  |  "))
        }
    } catch let error as SRIOVError {
        print("host-events: error: \(error.message)")
        exit(1)
    } catch {
        print("host-events: error: \(error)")
        exit(1)
    }
}

/// A count shared with the watch's callback.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
