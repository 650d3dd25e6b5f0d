/// A duration in milliseconds, as every benchmark here reports them.
func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SRIOVCore

/// What one journal append costs on this disk, idle, before a run: `count` appends of a 160-byte line
/// to a file in `directory` (where the journal goes), each followed by fsync(2) as the journal does.
/// Returns the median and p90 in ms, nil when the directory cannot be written. Printed beside every
/// run's latencies: a p99 means little without the fsync it is made of.
func fsyncProbe(directory: String, count: Int = 100) -> (median: Double, p90: Double)? {
    _ = mkdir(directory, 0o755)
    let path = directory + "/fsync-probe.tmp"
    let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0o600)
    guard fd >= 0 else { return nil }
    defer { close(fd); unlink(path) }
    let line = [UInt8](repeating: 0x61, count: 159) + [0x0a]
    let clock = ContinuousClock()
    var samples: [Double] = []
    for _ in 0..<count {
        let start = clock.now
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let fsyncStart = EmulatedFsync.start()
        guard written == line.count, fsync(fd) == 0 else { return nil }
        EmulatedFsync.pad(since: fsyncStart)
        samples.append(ms(start.duration(to: clock.now)))
    }
    samples.sort()
    return (samples[samples.count / 2], samples[min(samples.count - 1, samples.count * 9 / 10)])
}

/// "fsync on this disk: median X ms, p90 Y ms (...)" for a benchmark's header.
func fsyncProbeLine(directory: String) -> (text: String, median: Double?) {
    guard let probe = fsyncProbe(directory: directory) else {
        return ("fsync on this disk: cannot probe \(directory)", nil)
    }
    let emulated = EmulatedFsync.minimumNanoseconds.map { String(format: "; a slower disk emulated: each fsync padded to at least %.3f ms (%@)", Double($0) / 1e6, EmulatedFsync.variable) } ?? ""
    return (String(format: "fsync on this disk (%@, idle, before the run): median %.3f ms, p90 %.3f ms (100 appends of 160 bytes, each fsync'd)%@",
                   directory, probe.median, probe.p90, emulated), probe.median)
}

/// What this machine's CPU does with the three kinds of work a lease cycle is made of, measured before
/// a run so that figures from different days (or machines) can be compared: this VM's speed moves
/// from day to day (the same build's CPU per cycle was 0.43-0.48 ms on 2026-11-26 and 0.75 ms on
/// 2026-12-06), and a p99 means little without it, as without the fsync.
/// - `work`: a fixed piece of user-space work of the engine's kind (PCI addresses formatted, a
///   dictionary filled, JSON written), the fastest and the median of 7 runs, in ms (the fastest is
///   the machine; the distance to the median, how busy its neighbours are);
/// - `syscall`: one system call that does nothing (getppid), in µs;
/// - `handOff`: one thread waking another and going to sleep (half a ping-pong between two threads
///   on semaphores), in µs: what each hop between the engine's threads costs.
struct MachineProbe {
    var work: Double
    var workMedian: Double
    var syscall: Double
    var handOff: Double

    static func measure() -> MachineProbe {
        let clock = ContinuousClock()
        var runs: [Double] = []
        var sink = 0
        for _ in 0..<7 {
            let start = clock.now
            var index: [String: Int] = [:]
            var writer = JSONWriter(capacity: 1 << 16)
            for n in 0..<20_000 {
                let address = PCIAddress(domain: 0, routingID: UInt16(truncatingIfNeeded: n * 7))
                let text = address.description
                index[text, default: 0] += n
                writer.object { w in
                    w.member("vf", text)
                    w.member("index", n)
                    w.member("trusted", n % 2 == 0)
                }
                if n % 512 == 511 { sink &+= writer.bytes.count; writer = JSONWriter(capacity: 1 << 16) }
            }
            sink &+= index.count
            runs.append(ms(start.duration(to: clock.now)))
        }
        runs.sort()
        let calls = 200_000
        let syscallStart = clock.now
        for _ in 0..<calls { sink &+= Int(getppid()) }
        let syscall = ms(syscallStart.duration(to: clock.now)) * 1000 / Double(calls)
        let rounds = 5_000
        let ping = DispatchSemaphore(value: 0), pong = DispatchSemaphore(value: 0)
        let partner = Thread {
            for _ in 0..<rounds { ping.wait(); pong.signal() }
        }
        partner.start()
        let handOffStart = clock.now
        for _ in 0..<rounds { ping.signal(); pong.wait() }
        let handOff = ms(handOffStart.duration(to: clock.now)) * 1000 / Double(2 * rounds)
        if sink == 42 { print("") }   // keeps the work from being optimized away
        return MachineProbe(work: runs[0], workMedian: runs[runs.count / 2], syscall: syscall, handOff: handOff)
    }

    var text: String {
        String(format: "this machine's CPU: fixed work %.2f ms (median %.2f of 7), a system call %.2f µs, a thread hand-off %.1f µs",
               work, workMedian, syscall, handOff)
    }
}

/// A benchmark's `--flag value` options in order, for its own `switch`; `usage` ends the process (exit
/// 64) when a flag has no value.
func optionPairs(_ arguments: ArraySlice<String>, usage: (String) -> Never) -> [(flag: String, value: String)] {
    var pairs: [(flag: String, value: String)] = []
    var args = arguments
    while let flag = args.first {
        guard let value = args.dropFirst().first else { usage("option \(flag) needs a value") }
        pairs.append((flag, value))
        args = args.dropFirst(2)
    }
    return pairs
}

/// `<benchmark>: <why>` and its usage line, then exit 64 (a usage error).
func usageError(_ benchmark: String, _ usage: String, _ why: String) -> Never {
    print("\(benchmark): \(why)")
    print("usage: \(usage)")
    exit(64)
}
