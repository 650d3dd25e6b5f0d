// sriov-bench daemon-prepare / daemon-load: sriovd under 64 concurrent API clients on its Unix socket.
// Benchmarks/daemon-load.sh runs the whole thing (prepare, start sriovd, load, idle RSS, stop).
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SRIOVClient
import SRIOVConfig
import SRIOVCore
import SRIOVLeasing
import SRIOVSimulator

/// Creates a generated simulated host (PFs x VFs) in the state directory where `sriovd --simulated`
/// looks for it, and a configuration with one pool over every VF of the generated PFs.
func daemonPrepare(_ arguments: ArraySlice<String>) {
    var stateDir = "/var/tmp/sriov-bench-daemon"
    var pfs = 16
    var vfs = 256
    var args = arguments
    while let flag = args.first, let value = args.dropFirst().first {
        args = args.dropFirst(2)
        switch flag {
        case "--state-dir": stateDir = value
        case "--pfs": pfs = Int(value) ?? pfs
        case "--vfs": vfs = Int(value) ?? vfs
        default: print("daemon-prepare: unknown option \(flag)"); exit(64)
        }
    }
    do {
        try? FileManager.default.removeItem(atPath: stateDir)
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
        let spec = SimulatedHostSpec.generated(pfCount: pfs, vfsPerPF: vfs)
        _ = try SimulatedHost.create(directory: SimulatedHost.directory(inStateDirectory: stateDir), spec: spec)
        let selectors = spec.pfs.dropFirst().map { "      - vfs: \"\($0.interface)#0-\(vfs - 1)\"\n" }.joined()
        let yaml = "protected_pfs: [eno1]\npools:\n  - name: bench\n    selectors:\n" + selectors
        _ = try SRIOVConfig.parse(yaml: yaml, source: "bench")
        try yaml.write(toFile: stateDir + "/bench.yaml", atomically: true, encoding: .utf8)
        print("daemon-prepare: simulated host with \(pfs) PFs x \(vfs) VFs in \(stateDir); config \(stateDir)/bench.yaml")
    } catch let error as SRIOVError {
        print("daemon-prepare: error: \(error.message)")
        exit(1)
    } catch {
        print("daemon-prepare: error: \(error)")
        exit(1)
    }
}

/// N client threads, each its own connection per request (as `sriovctl` does), looping:
/// POST /v1/leases, GET /v1/leases?owner=, DELETE /v1/leases/{id}. Reports cycles/s and the latency of
/// whole cycles and of each call.
func daemonLoad(_ arguments: ArraySlice<String>) {
    var socket = "/var/tmp/sriov-bench-daemon/sriovd.sock"
    var clients = 64
    var cycles = 6400
    var args = arguments
    while let flag = args.first, let value = args.dropFirst().first {
        args = args.dropFirst(2)
        switch flag {
        case "--socket": socket = value
        case "--clients": clients = Int(value) ?? clients
        case "--cycles": cycles = Int(value) ?? cycles
        default: print("daemon-load: unknown option \(flag)"); exit(64)
        }
    }
    let perClient = max(1, cycles / clients)
    let client = DaemonClient(socketPath: socket, timeoutSeconds: 60)
    // Warm-up: one cycle, so the first connection's costs stay out of the numbers.
    do {
        let lease = try client.acquire(LeaseRequest(pool: "bench", owner: "warm-up"))
        _ = try client.release(lease.id)
    } catch {
        print("daemon-load: error: \(error.message)")
        exit(1)
    }
    final class Results: @unchecked Sendable {
        let lock = NSLock()
        var cycle: [Double] = []
        var acquire: [Double] = []
        var list: [Double] = []
        var release: [Double] = []
        var errors: [String] = []
    }
    let results = Results()
    let clock = ContinuousClock()
    @Sendable func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }
    let start = clock.now
    let group = DispatchGroup()
    for t in 0..<clients {
        group.enter()
        let thread = Thread {
            var cycle: [Double] = [], acquire: [Double] = [], list: [Double] = [], release: [Double] = []
            var errors: [String] = []
            for _ in 0..<perClient {
                let c0 = clock.now
                do throws(SRIOVError) {
                    let lease = try client.acquire(LeaseRequest(pool: "bench", owner: "vm-\(t)"))
                    let c1 = clock.now
                    _ = try client.leases(owner: "vm-\(t)")
                    let c2 = clock.now
                    _ = try client.release(lease.id)
                    let c3 = clock.now
                    acquire.append(ms(c1 - c0)); list.append(ms(c2 - c1)); release.append(ms(c3 - c2)); cycle.append(ms(c3 - c0))
                } catch {
                    errors.append(error.message)
                }
            }
            results.lock.lock()
            results.cycle += cycle; results.acquire += acquire; results.list += list; results.release += release
            results.errors += errors
            results.lock.unlock()
            group.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    group.wait()
    let seconds = ms(clock.now - start) / 1000
    func p(_ values: [Double], _ q: Double) -> String {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return "-" }
        return String(format: "%.2f", sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * q))])
    }
    print(String(format: "daemon-load: %d clients, %d cycles in %.2f s: %.0f cycles/s (acquire + GET /v1/leases + release)",
                 clients, results.cycle.count, seconds, Double(results.cycle.count) / seconds))
    for (name, values) in [("cycle", results.cycle), ("POST /v1/leases", results.acquire), ("GET /v1/leases", results.list),
                           ("DELETE /v1/leases/{id}", results.release)] {
        print("daemon-load:   \(name): p50 \(p(values, 0.5)) ms  p99 \(p(values, 0.99)) ms")
    }
    if !results.errors.isEmpty {
        print("daemon-load: \(results.errors.count) failed cycles; first: \(results.errors[0])")
        exit(1)
    }
}
