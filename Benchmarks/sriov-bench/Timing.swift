/// A duration in milliseconds, as every benchmark here reports them.
func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }

#if canImport(Glibc)
import Glibc
#endif

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
        guard written == line.count, fsync(fd) == 0 else { return nil }
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
    return (String(format: "fsync on this disk (%@, idle, before the run): median %.3f ms, p90 %.3f ms (100 appends of 160 bytes, each fsync'd)",
                   directory, probe.median, probe.p90), probe.median)
}
