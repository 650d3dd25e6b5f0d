// sriov-bench journal-replay: start-up time of the lease journal (see Docs/Journal.md).
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SRIOVCore
import SRIOVJournal

/// A lease step as the leasing engine records it (~200 bytes of JSON).
private struct BenchLeaseStep: Codable, Sendable {
    struct VF: Codable, Sendable {
        var pci: String
        var pf: String
        var index: Int
        var iommuGroup: Int
    }
    var lease: String
    var owner: String
    var pool: String
    var step: String
    var vfs: [VF]
    var requestID: String
    var expires: Double

    init(_ n: Int) {
        func hex(_ v: Int, _ width: Int) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        lease = "\(hex(n, 8))-5b1d-4c2a-9e0f-\(hex(n &* 2_654_435_761 & 0xffff_ffff_ffff, 12))"
        owner = "vnf-\(n % 500)"
        pool = "uplink"
        step = ["reserved", "settings-saved", "settings-applied", "unbound", "vfio-bound", "active"][n % 6]
        vfs = [VF(pci: "0000:3b:\(hex(2 + n % 16, 2)).\(n % 8)", pf: "ens1f\(n % 2)", index: n % 128, iommuGroup: 40 + n % 128)]
        requestID = "req-\(hex(n, 10))"
        expires = 1_764_000_000 + Double(n)
    }
}

private struct ReplayOptions {
    var records = 1_000_000
    var dir = "/dev/shm/sriov-bench-journal"
    var iterations = 3
    var live = 1000
    var tail = 10
}

private func replayUsage() -> Never {
    print("""
    USAGE: sriov-bench journal-replay [--records N] [--dir DIR] [--iterations N] [--live N] [--tail N]

    Writes N lease-step records (~200-byte payloads; fsync off for the setup, 64 concurrent appenders),
    then times Journal.open replaying all of them against a baseline that only reads the file and
    splits lines (no JSON, no crc). Then snapshots the state of --live leases, leaving --tail records
    after it, and times start-up from the snapshot. Default: 1,000,000 records on /dev/shm (tmpfs, so
    the disk does not dominate). Target: replay of 1M records <= 2 s.
    """)
    exit(64)
}


private func fmt(_ v: Double) -> String { String(Double(Int(v * 10)) / 10) }

/// The I/O floor: read(2) in 4 MiB chunks and find every newline.
private func rawLineSplit(_ path: String) -> Int {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return -1 }
    defer { close(fd) }
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 16)
    defer { buffer.deallocate() }
    guard let base = buffer.baseAddress else { return -1 }
    var lines = 0
    while true {
        let n = read(fd, base, buffer.count)
        if n <= 0 { return lines }
        var p = base
        var left = n
        while left > 0, let nl = memchr(p, 0x0a, left) {
            lines += 1
            let next = UnsafeMutableRawPointer(nl) + 1
            left -= p.distance(to: next)
            p = next
        }
    }
}

/// Times `Journal.open` alone (the close and `inspect` are outside the timing).
private func measureOpen(_ iterations: Int, _ options: JournalOptions,
                         _ inspect: (JournalRecovery) -> Void) async throws -> Stats {
    var samples: [Double] = []
    for _ in 0..<iterations {
        let start = ContinuousClock.now
        let (journal, recovery) = try Journal.open(options)
        samples.append(ms(ContinuousClock.now - start))
        inspect(recovery)
        await journal.close()
    }
    return Stats(samples: samples)
}

func journalReplay(_ arguments: ArraySlice<String>) async -> Never {
    var o = ReplayOptions()
    var args = arguments
    while let flag = args.first {
        args = args.dropFirst()
        guard let value = args.first else { replayUsage() }
        args = args.dropFirst()
        switch flag {
        case "--records": o.records = Int(value) ?? { replayUsage() }()
        case "--dir": o.dir = value
        case "--iterations": o.iterations = Int(value) ?? { replayUsage() }()
        case "--live": o.live = Int(value) ?? { replayUsage() }()
        case "--tail": o.tail = Int(value) ?? { replayUsage() }()
        default: replayUsage()
        }
    }
    guard o.records > o.tail, o.iterations > 0, o.live >= 0, o.tail >= 0 else { replayUsage() }
    for name in ["journal.jsonl", "snapshot.json", "lock"] { unlink(o.dir + "/" + name) }
    do {
        let clock = ContinuousClock()
        let fast = JournalOptions(directory: o.dir, fsync: false)

        // Setup: the history to replay.
        let (writer, _) = try Journal.open(fast)
        let writers = 64
        let total = o.records
        let setup = try await clock.measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for w in 0..<writers {
                    group.addTask {
                        var n = w
                        while n < total {
                            _ = try await writer.append(type: "lease.step", BenchLeaseStep(n))
                            n += writers
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let written = await writer.statistics
        await writer.close()
        let path = o.dir + "/journal.jsonl"
        var st = stat()
        stat(path, &st)
        let bytes = Int(st.st_size)
        let payload = try JSONEncoder().encode(BenchLeaseStep(o.records / 2)).count
        print("journal-replay: \(o.records) records, \(bytes / 1_000_000) MB (\(bytes / o.records) bytes/line, payload \(payload) bytes) at \(path)")
        print("  setup: appended in \(fmt(ms(setup))) ms with fsync off, 64 concurrent appenders (\(Int(Double(o.records) / (ms(setup) / 1000))) records/s, \(written.fsyncs) batches)")

        // Replay of the whole history, against reading and splitting the file.
        var lines = 0
        let floor = measure(o.iterations) { lines = rawLineSplit(path) }
        var replayed = 0
        var firstEntries: [JournalEntry] = []
        let replay = try await measureOpen(o.iterations, fast) { recovery in
            replayed = recovery.entries.count
            if firstEntries.isEmpty { firstEntries = Array(recovery.entries.prefix(100_000)) }
        }
        guard replayed == o.records, lines == o.records else {
            print("sriov-bench: replayed \(replayed) and split \(lines) lines of \(o.records) records")
            exit(1)
        }
        print("  Journal.open, replay all \(o.records): \(replay.summary)")
        print("  baseline, read + split lines only: \(floor.summary)")
        let decodeSample = firstEntries.count
        let decode = try clock.measure {
            for entry in firstEntries { _ = try entry.decode(BenchLeaseStep.self) }
        }
        print("  (caller side) JSONDecoder of the payload: \(fmt(ms(decode) * 1000 / Double(max(decodeSample, 1)))) us/record over \(decodeSample) records")
        let median = replay.percentile(0.5)
        print("  target replay of 1M records <= 2000 ms: \(o.records >= 1_000_000 ? (median <= 2000 ? "met" : "NOT met") : "n/a (fewer records)") (median \(fmt(median)) ms)")

        // Start-up from a snapshot of the live state plus a few records.
        let live = (0..<o.live).map { BenchLeaseStep($0) }
        let state = try JSONEncoder().encode(["leases": live])
        let (compactor, _) = try Journal.open(JournalOptions(directory: o.dir, fsync: true))
        let snapSeq = UInt64(o.records - o.tail)
        let compaction = try await clock.measure { try await compactor.snapshot(seq: snapSeq, data: Array(state)) }
        await compactor.close()
        var tail = 0
        var snapshotBytes = 0
        let startup = try await measureOpen(o.iterations, fast) { recovery in
            tail = recovery.entries.count
            snapshotBytes = recovery.snapshot?.data.count ?? 0
        }
        print("  snapshot (\(o.live) leases, \(snapshotBytes / 1000) kB) + compaction of \(o.records) records, fsync on: \(fmt(ms(compaction))) ms")
        print("  Journal.open with the snapshot + \(tail) records: \(startup.summary)")
        exit(tail == o.tail ? 0 : 1)
    } catch let error as SRIOVError {
        print("sriov-bench: error: \(error.message)")
        exit(1)
    } catch {
        print("sriov-bench: error: \(error)")
        exit(1)
    }
}
