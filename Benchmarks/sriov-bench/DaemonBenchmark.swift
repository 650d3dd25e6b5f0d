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

/// Creates a generated simulated host (PFs x VFs) for `sriovd --simulated` and a configuration with
/// one pool over every VF of the generated PFs. The host's sysfs-shaped tree goes to `--host-dir`
/// (tmpfs by default: sysfs lives in memory, and a disk file system's inode, symlink and rename costs
/// would be the simulator's, not sriovd's), linked from `<state-dir>/simulated-host`, where sriovd
/// looks for it. `--host-dir <state-dir>/simulated-host` keeps it on the state directory's disk.
func daemonPrepare(_ arguments: ArraySlice<String>) {
    var stateDir = "/var/tmp/sriov-bench-daemon"
    var hostDir = "/dev/shm/sriov-bench-daemon-host"
    var pfs = 16
    var vfs = 256
    var args = arguments
    while let flag = args.first, let value = args.dropFirst().first {
        args = args.dropFirst(2)
        switch flag {
        case "--state-dir": stateDir = value
        case "--host-dir": hostDir = value
        case "--pfs": pfs = Int(value) ?? pfs
        case "--vfs": vfs = Int(value) ?? vfs
        default: print("daemon-prepare: unknown option \(flag)"); exit(64)
        }
    }
    if let extra = args.first {
        print("daemon-prepare: option \(extra) needs a value")
        exit(64)
    }
    do {
        let linkPath = SimulatedHost.directory(inStateDirectory: stateDir)
        let separateHost = hostDir != linkPath
        try? FileManager.default.removeItem(atPath: stateDir)
        if separateHost { try? FileManager.default.removeItem(atPath: hostDir) }
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
        let spec = SimulatedHostSpec.generated(pfCount: pfs, vfsPerPF: vfs)
        _ = try SimulatedHost.create(directory: hostDir, spec: spec)
        if separateHost { try FileManager.default.createSymbolicLink(atPath: linkPath, withDestinationPath: hostDir) }
        let selectors = spec.pfs.dropFirst().map { "      - vfs: \"\($0.interface)#0-\(vfs - 1)\"\n" }.joined()
        let yaml = "protected_pfs: [eno1]\npools:\n  - name: bench\n    selectors:\n" + selectors
        _ = try SRIOVConfig.parse(yaml: yaml, source: "bench")
        try yaml.write(toFile: stateDir + "/bench.yaml", atomically: true, encoding: .utf8)
        print("daemon-prepare: simulated host with \(pfs) PFs x \(vfs) VFs in \(hostDir)\(separateHost ? " (linked from \(linkPath))" : ""); config \(stateDir)/bench.yaml")
        print("daemon-prepare: " + fsyncProbeLine(directory: stateDir).text)
        print("daemon-prepare: " + MachineProbe.measure().text)
    } catch let error as SRIOVError {
        print("daemon-prepare: error: \(error.message)")
        exit(1)
    } catch {
        print("daemon-prepare: error: \(error)")
        exit(1)
    }
}

/// N client threads, each looping POST /v1/leases, GET /v1/leases?owner=, DELETE /v1/leases/{id}, on
/// one kept-alive connection per client (`--connection per-request`: a connection per request, as a
/// `sriovctl` process does). Each client runs one cycle outside the numbers first (its connection and
/// the first requests' one-time costs), then all start together. Reports cycles/s and the latency
/// (p50, p99, max) of whole cycles and of each call; `--samples FILE` writes every cycle's intended
/// start and latency, to see when slow cycles happen.
///
/// Closed loop (default): each client starts its next cycle when the last one ends, so the numbers
/// are the daemon's capacity with N requests in flight.
///
/// Open loop (`--rate R`): R cycles/s offered in total, spread evenly over the clients (client t starts
/// cycle k at start + t/R + k*N/R). A client that falls behind starts late, and the latency of a cycle
/// (and of its POST) is measured from the time it was *meant* to start, so queueing shows in the
/// numbers instead of silently lowering the offered load (coordinated omission).
func daemonLoad(_ arguments: ArraySlice<String>) {
    var socketOption = "/var/tmp/sriov-bench-daemon/sriovd.sock"
    var clients = 64
    var cycles = 6400
    var rateOption: Double?
    var keepAliveOption = true
    var typedOption = false
    var samplesPath: String?
    func usage(_ why: String) -> Never {
        usageError("daemon-load", "sriov-bench daemon-load [--socket PATH] [--clients N] [--cycles N] [--rate CYCLES_PER_S] "
                   + "[--connection keep-alive|per-request] [--client raw|typed] [--samples FILE]", why)
    }
    for (flag, value) in optionPairs(arguments, usage: usage) {
        switch flag {
        case "--socket": socketOption = value
        case "--clients": clients = Int(value) ?? 0
        case "--cycles": cycles = Int(value) ?? 0
        case "--rate":
            guard let r = Double(value), r > 0, r.isFinite else { usage("invalid --rate \(value): give cycles per second, > 0") }
            rateOption = r
        case "--connection":
            switch value {
            case "keep-alive": keepAliveOption = true
            case "per-request": keepAliveOption = false
            default: usage("invalid --connection \(value): use keep-alive or per-request")
            }
        case "--client":
            switch value {
            case "raw": typedOption = false
            case "typed": typedOption = true
            default: usage("invalid --client \(value): use raw or typed")
            }
        case "--samples": samplesPath = value
        default: usage("unknown option \(flag)")
        }
    }
    guard clients > 0, cycles > 0 else { usage("--clients and --cycles must be positive whole numbers") }
    let (socketPath, rate, keepAlive, typed) = (socketOption, rateOption, keepAliveOption, typedOption)
    let perClient = max(1, cycles / clients)
    final class Results: @unchecked Sendable {
        let lock = NSLock()
        var cycle: [Double] = []
        var acquire: [Double] = []
        var list: [Double] = []
        var release: [Double] = []
        var lag: [Double] = []
        var samples: [(Double, Double)] = []
        var errors: [String] = []
        var lastEnd: ContinuousClock.Instant?
    }
    let results = Results()
    let clock = ContinuousClock()
    /// Sleeps the calling thread until `deadline` (nanosleep: client threads are plain threads).
    @Sendable func sleep(until deadline: ContinuousClock.Instant) {
        let wait = clock.now.duration(to: deadline)
        guard wait > .zero else { return }
        let (seconds, attoseconds) = wait.components
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
    let period: Duration? = rate.map { .nanoseconds(Int64(1e9 * Double(clients) / $0)) }
    // Every client first runs one cycle outside the numbers (its connection, the first requests'
    // one-time costs), then waits; all start together at `start`, which the main thread sets once
    // every client is ready.
    final class StartLine: @unchecked Sendable {
        let ready = DispatchGroup()
        let go = DispatchSemaphore(value: 0)
        var start: ContinuousClock.Instant?
        var failure: String?
    }
    let line = StartLine()
    let group = DispatchGroup()
    for t in 0..<clients {
        group.enter()
        line.ready.enter()
        let thread = Thread {
            let client = BenchClient(socketPath: socketPath, keepAlive: keepAlive, typed: typed, owner: "vm-\(t)")
            do throws(SRIOVError) {
                try client.release(try client.acquire())
            } catch {
                results.lock.withLock { line.failure = line.failure ?? error.message }
            }
            line.ready.leave()
            line.go.wait()
            guard let start = results.lock.withLock({ line.start }) else { return }
            var cycle: [Double] = [], acquire: [Double] = [], list: [Double] = [], release: [Double] = [], lag: [Double] = []
            var errors: [String] = []
            var samples: [(Double, Double)] = []
            let offset: Duration = rate.map { .nanoseconds(Int64(1e9 * Double(t) / $0)) } ?? .zero
            for k in 0..<perClient {
                var c0 = clock.now
                var intended = c0
                if let period {
                    intended = start + offset + period * k
                    sleep(until: intended)
                    c0 = clock.now
                    lag.append(max(0, ms(c0 - intended)))
                }
                do throws(SRIOVError) {
                    let id = try client.acquire()
                    let c1 = clock.now
                    try client.list(expecting: id)
                    let c2 = clock.now
                    try client.release(id)
                    let c3 = clock.now
                    acquire.append(ms(c1 - intended)); list.append(ms(c2 - c1)); release.append(ms(c3 - c2)); cycle.append(ms(c3 - intended))
                    samples.append((ms(intended - start), ms(c3 - intended)))
                } catch {
                    errors.append(error.message)
                }
            }
            client.close()
            let end = clock.now
            results.lock.lock()
            results.cycle += cycle; results.acquire += acquire; results.list += list; results.release += release
            results.lag += lag
            results.samples += samples
            results.errors += errors
            if results.lastEnd.map({ $0 < end }) ?? true { results.lastEnd = end }
            results.lock.unlock()
            group.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    line.ready.wait()
    if let failure = line.failure {
        print("daemon-load: error in a warm-up cycle: \(failure)")
        exit(1)
    }
    let start = clock.now + .milliseconds(rate == nil ? 0 : 20)
    results.lock.withLock { line.start = start }
    for _ in 0..<clients { line.go.signal() }
    group.wait()
    let seconds = ms((results.lastEnd ?? clock.now) - start) / 1000
    func p(_ values: [Double], _ q: Double) -> String {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return "-" }
        return String(format: "%.2f", sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * q))])
    }
    let achieved = Double(results.cycle.count) / seconds
    let connection = (keepAlive ? "one kept-alive connection per client" : "a connection per request")
        + (typed ? ", DaemonClient decoding every lease" : "")
    if let rate {
        print(String(format: "daemon-load: open loop, %d clients (%@), %d cycles in %.2f s: offered %.0f cycles/s, achieved %.0f cycles/s (acquire + GET /v1/leases + release)",
                     clients, connection, results.cycle.count, seconds, rate, achieved))
        print("daemon-load:   latency from each cycle's intended start; start lag p50 \(p(results.lag, 0.5)) ms  p99 \(p(results.lag, 0.99)) ms  max \(p(results.lag, 1))")
    } else {
        print(String(format: "daemon-load: closed loop, %d clients (%@), %d cycles in %.2f s: %.0f cycles/s (acquire + GET /v1/leases + release)",
                     clients, connection, results.cycle.count, seconds, achieved))
    }
    for (name, values) in [("cycle", results.cycle), ("POST /v1/leases", results.acquire), ("GET /v1/leases", results.list),
                           ("DELETE /v1/leases/{id}", results.release)] {
        print("daemon-load:   \(name): p50 \(p(values, 0.5)) ms  p99 \(p(values, 0.99)) ms  max \(p(values, 1)) ms")
    }
    if let samplesPath {
        // One line per cycle, by intended start: "<ms since the start> <cycle latency ms>".
        let text = results.samples.sorted { $0.0 < $1.0 }.map { String(format: "%.3f %.3f\n", $0.0, $0.1) }.joined()
        do { try text.write(toFile: samplesPath, atomically: true, encoding: .utf8) } catch {
            print("daemon-load: cannot write \(samplesPath): \(error)")
        }
    }
    if !results.errors.isEmpty {
        print("daemon-load: \(results.errors.count) failed cycles; first: \(results.errors[0])")
        exit(1)
    }
}

/// One load client's calls. Raw (default): the requests `DaemonClient` sends, checked by status and
/// lease id without decoding the documents (the load generator shares the daemon's two cores, so it
/// should cost little). Typed (`--client typed`): `DaemonClient`, decoding every lease as sriovctl does.
struct BenchClient {
    let typed: DaemonClient
    let decode: Bool
    let connection: UnixHTTPConnection?
    let owner: String
    let acquireBody: [UInt8]

    init(socketPath: String, keepAlive: Bool, typed decode: Bool, owner: String) {
        typed = DaemonClient(socketPath: socketPath, timeoutSeconds: 60, keepAlive: keepAlive && decode)
        self.decode = decode
        connection = keepAlive && !decode ? UnixHTTPConnection(socketPath: socketPath, timeoutSeconds: 60) : nil
        self.owner = owner
        acquireBody = Array("{\"owner\":\"\(owner)\",\"pool\":\"bench\"}".utf8)
    }

    func close() {
        typed.close()
        connection?.close()
    }

    func exchange(_ method: String, _ target: String, body: [UInt8]? = nil, expect status: Int) throws(SRIOVError) -> [UInt8] {
        let response: UnixHTTPClient.Response
        let headers: [(String, String)] = body == nil ? [] : [("Content-Type", "application/json")]
        do {
            response = try connection?.send(method, target, headers: headers, body: body)
                ?? typed.http.send(method, target, headers: headers, body: body)
        } catch let error as SRIOVError {
            throw error
        } catch {
            throw SRIOVError(.io, "\(method) \(target): \(error)")
        }
        guard response.status == status else { throw DaemonClient.error(from: response) }
        return response.body
    }

    /// The new lease's id.
    func acquire() throws(SRIOVError) -> String {
        if decode { return try typed.acquire(LeaseRequest(pool: "bench", owner: owner)).id.value }
        let body = try exchange("POST", "/v1/leases", body: acquireBody, expect: 201)
        guard let id = BenchClient.leaseID(in: body) else {
            throw SRIOVError(.io, "POST /v1/leases answered without a lease id: \(String(decoding: body.prefix(200), as: UTF8.self))")
        }
        return id
    }

    func list(expecting id: String) throws(SRIOVError) {
        if decode {
            guard try typed.leases(owner: owner).contains(where: { $0.id.value == id }) else {
                throw SRIOVError(.io, "GET /v1/leases?owner=\(owner) does not list \(id)")
            }
            return
        }
        let body = try exchange("GET", "/v1/leases?owner=" + owner, expect: 200)
        guard BenchClient.contains(body, Array("\"id\":\"\(id)\"".utf8)) else {
            throw SRIOVError(.io, "GET /v1/leases?owner=\(owner) does not list \(id)")
        }
    }

    func release(_ id: String) throws(SRIOVError) {
        if decode {
            _ = try typed.release(try LeaseID(parsing: id))
            return
        }
        _ = try exchange("DELETE", "/v1/leases/" + id, expect: 200)
    }

    /// The value of the document's `"id":"..."` (the lease's; nested ids are numbers).
    static func leaseID(in body: [UInt8]) -> String? {
        let key = Array("\"id\":\"".utf8)
        guard let start = find(key, in: body) else { return nil }
        let valueStart = start + key.count
        guard let end = body[valueStart...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
        return String(decoding: body[valueStart..<end], as: UTF8.self)
    }

    static func contains(_ body: [UInt8], _ needle: [UInt8]) -> Bool { find(needle, in: body) != nil }

    static func find(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard let first = needle.first, hay.count >= needle.count else { return nil }
        var i = 0
        while i <= hay.count - needle.count {
            if hay[i] == first && hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
