#if canImport(Glibc)
import Glibc
#endif
import Logging
import SRIOVAPI
import SRIOVConfig
import SRIOVCore
import SRIOVLeasing
import SRIOVRuntime

/// `sriov-bench lease-engine --config <yaml> --state-dir <dir> --pool <name> [--iterations N]`: the
/// lease engine in this process on the real host (as `sriovctl --direct` opens it, and as sriovd
/// runs it, without the API around it): acquire + release of one VF of `pool`, N cycles after one
/// outside the numbers. Beside `lease-floor` (the same host operations, no bookkeeping) and
/// `daemon-load` (the same through sriovd), it splits the API's cycle into the kernel's cost, the
/// engine's (journal, book, checks) and the service's (Docs/Performance.md). The state directory is
/// created if missing; the pool's VFs must be free. Needs root. `--profile`: the host operations by
/// kind (as `lease-floor --profile` prints the floor's) and the journal's fsyncs; the rest of a cycle
/// is the engine's own work and the hand-offs between its threads.
func leaseEngine(_ arguments: ArraySlice<String>) async {
    var config: String?, state: String?, pool: String?, iterations = 9, profiled = false
    var args = arguments
    while let flag = args.popFirst() {
        if flag == "--profile" {
            profiled = true
            continue
        }
        guard let value = args.popFirst() else { engineUsage() }
        switch flag {
        case "--config": config = value
        case "--state-dir": state = value
        case "--pool": pool = value
        case "--iterations": guard let n = Int(value) else { engineUsage() }; iterations = n
        default: engineUsage()
        }
    }
    guard let config, let state, let pool, iterations > 0 else { engineUsage() }
    do throws(SRIOVError) {
        try Directories.ensure(state, mode: 0o750, what: "state directory")
        let parsed = try ConfigLoading.load(path: config, simulated: false)
        // sriovd's host is wrapped the same way (`HostProfile`, for /metrics).
        let profile = StepProfile()
        let opened = try HostSelection.open(simulated: false, stateDirectory: state)
        let host = profiled ? profile.wrap(opened) : opened
        var logger = Logger(label: "sriov-bench")
        logger.logLevel = .warning
        let engine = try await LeaseEngine.start(stateDirectory: state, config: parsed, host: host, logger: logger)
        let request = LeaseRequest(pool: pool, owner: "sriov-bench-engine")
        func cycle() async throws(SRIOVError) -> (Double, Double) {
            let clock = ContinuousClock()
            let t0 = clock.now
            let lease = try await engine.acquire(request, requestedBy: "sriov-bench")
            let t1 = clock.now
            _ = try await engine.release(lease.id, requestedBy: "sriov-bench")
            let t2 = clock.now
            return (ms(t1 - t0), ms(t2 - t1))
        }
        _ = try await cycle()
        profile.reset()
        let journalBefore = await engine.journalStatistics
        var acquires: [Double] = [], releases: [Double] = [], cycles: [Double] = []
        for _ in 0..<iterations {
            let (a, r) = try await cycle()
            acquires.append(a); releases.append(r); cycles.append(a + r)
        }
        let journal = await engine.journalStatistics
        await engine.close()
        print("lease-engine: pool \(pool) (\(config)), acquire + release of one VF, \(iterations) cycles, the engine in this process, fsync'd journal in \(state)")
        print("lease-engine: cycle: \(Stats(samples: cycles).summary)")
        print("lease-engine: acquire: \(Stats(samples: acquires).summary)")
        print("lease-engine: release: \(Stats(samples: releases).summary)")
        if profiled {
            for line in profile.lines(cycles: iterations) { print("lease-engine: \(line)") }
            let n = Double(iterations)
            let fsyncs = Double(journal.fsyncs - journalBefore.fsyncs) / n
            let fsyncMs = (journal.fsyncSeconds - journalBefore.fsyncSeconds) * 1000 / n
            print("lease-engine: journal: \(f2(fsyncs)) fsyncs per cycle, \(f2(fsyncMs)) ms per cycle")
            let total = cycles.reduce(0, +) / n
            let steps = profile.hostMilliseconds(cycles: iterations)
            print("lease-engine: per cycle (mean): \(f2(total)) ms, host operations \(f2(steps)) ms, journal fsyncs \(f2(fsyncMs)) ms, the rest (the engine's own work and hand-offs) \(f2(total - steps - fsyncMs)) ms")
        }
    } catch {
        print("sriov-bench lease-engine: error: \(error.message)")
        exit(1)
    }
}

func engineUsage() -> Never {
    print("USAGE: sriov-bench lease-engine --config <sriovd.yaml> --state-dir <dir> --pool <name> [--iterations N] [--profile]")
    exit(64)
}
