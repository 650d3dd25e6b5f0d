#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SRIOVCore
import SRIOVTestSupport
import Synchronization
import Testing
@testable import SRIOVJournal

/// A power-loss file layer in the spirit of SQLite's crash VFS and LazyFS, over the journal and the
/// snapshot code: it follows every create, fsync, directory fsync, rename and unlink in one state
/// directory (`DurableFile.observer`), keeps what a power cut would leave (per file: its content as
/// of its last fsync; per directory: its entries as of its last fsync; every write not yet fsync'd
/// dropped), and at every point where that changes, writes that image to a fresh directory, recovers
/// it there (`Journal.open`) and checks it: no error, and every append acknowledged by then is in it
/// (in the snapshot or in the journal), in order, nothing invented. Each image is also recovered with
/// the journal's not-yet-fsync'd tail cut at several byte positions (ext4 may keep part of it).
final class PowerLossLayer: DurabilityObserver, @unchecked Sendable {
    let directory: String
    let images: String
    /// Called with each image's directory; returns problems.
    let check: @Sendable (_ image: String, _ point: String) -> [String]

    private struct State {
        var nextInode = 0
        /// Names in the directory now, and as of its last fsync.
        var entries: [String: Int] = [:]
        var durableEntries: [String: Int] = [:]
        /// Per inode: its content as of its last fsync.
        var durableContent: [Int: [UInt8]] = [:]
        var points = 0
        var problems: [String] = []
    }
    private let state = Mutex(State())

    init(directory: String, images: String, check: @escaping @Sendable (String, String) -> [String]) throws {
        self.directory = directory
        self.images = images
        self.check = check
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        // What is there already counts as durable.
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        state.withLock { s in
            for name in names {
                let inode = s.nextInode
                s.nextInode += 1
                s.entries[name] = inode
                s.durableEntries[name] = inode
                s.durableContent[inode] = Array((try? Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))) ?? Data())
            }
        }
    }

    var points: Int { state.withLock { $0.points } }
    var problems: [String] { state.withLock { $0.problems } }

    /// The file's name when it is in the watched directory.
    private func name(_ path: String) -> String? {
        guard path.hasPrefix(directory + "/") else { return nil }
        let rest = String(path.dropFirst(directory.count + 1))
        return rest.contains("/") ? nil : rest
    }

    func created(_ path: String) {
        guard let name = name(path) else { return }
        state.withLock { s in
            guard s.entries[name] == nil else { return }
            s.entries[name] = s.nextInode
            s.durableContent[s.nextInode] = []
            s.nextInode += 1
        }
    }

    func synced(_ fd: Int32, path: String) {
        guard let name = name(path) else { return }
        // Through /proc: the descriptor may be write-only, and the file is read as it is now.
        guard let data = FileManager.default.contents(atPath: "/proc/self/fd/\(fd)") else {
            state.withLock { $0.problems.append("the layer could not read \(path) at its fsync") }
            return
        }
        let bytes = Array(data)
        state.withLock { s in
            if let inode = s.entries[name] { s.durableContent[inode] = bytes }
        }
        crashPoint("fsync \(name)")
    }

    func syncedDirectory(_ directory: String) {
        guard directory == self.directory else { return }
        state.withLock { $0.durableEntries = $0.entries }
        crashPoint("fsync of the directory")
    }

    func renamed(_ from: String, to: String) {
        guard let source = name(from), let target = name(to) else { return }
        state.withLock { s in
            s.entries[target] = s.entries.removeValue(forKey: source)
        }
    }

    func unlinked(_ path: String) {
        guard let name = name(path) else { return }
        _ = state.withLock { $0.entries.removeValue(forKey: name) }
    }

    /// The image a power cut now would leave, recovered and checked; with the journal's volatile tail
    /// (bytes written after its last fsync) cut at the start, the middle and one byte short of the end.
    private func crashPoint(_ point: String) {
        let (files, volatileTail): ([String: [UInt8]], [UInt8]) = state.withLock { s in
            var files: [String: [UInt8]] = [:]
            for (name, inode) in s.durableEntries { files[name] = s.durableContent[inode] ?? [] }
            var tail: [UInt8] = []
            if let inode = s.entries["journal.jsonl"], s.durableEntries["journal.jsonl"] == inode,
               let current = try? Data(contentsOf: URL(fileURLWithPath: directory + "/journal.jsonl")),
               let durable = s.durableContent[inode], current.count > durable.count, current.prefix(durable.count) == Data(durable) {
                tail = Array(current.dropFirst(durable.count))
            }
            s.points += 1
            return (files, tail)
        }
        var cuts = [0]
        if volatileTail.count > 1 { cuts += [volatileTail.count / 2, volatileTail.count - 1] }
        for cut in cuts {
            var image = files
            if cut > 0, let journal = image["journal.jsonl"] { image["journal.jsonl"] = journal + volatileTail.prefix(cut) }
            let dir = images + "/image"
            try? FileManager.default.removeItem(atPath: dir)
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for (name, bytes) in image where !name.hasSuffix(".lock") {
                if !FileManager.default.createFile(atPath: dir + "/" + name, contents: Data(bytes)) {
                    state.withLock { $0.problems.append("\(point): cannot write \(dir)/\(name) to check the image") }
                }
            }
            let found = check(dir, point + (cut > 0 ? " (+\(cut) bytes of its unsynced tail)" : ""))
            if !found.isEmpty { state.withLock { $0.problems += found } }
        }
    }
}

@Suite("Power loss: every write not yet fsync'd dropped", .serialized)
struct PowerLossTests {
    /// Appends (single and batched), snapshots with compaction and a reopen, with the power-loss layer
    /// checking the image after every fsync.
    @Test func acknowledgedAppendsSurviveEveryPowerCut() async throws {
        let temp = try TempDirectory("power-loss")
        let dir = temp.path + "/state"
        // The records acknowledged so far, by seq: what every image must hold.
        let acknowledged = Mutex<[UInt64: Int]>([:])
        let layer = try PowerLossLayer(directory: dir, images: temp.path + "/images") { image, point in
            let expected = acknowledged.withLock { $0 }
            return PowerLossTests.problems(in: image, expected: expected, at: point)
        }
        DurableFile.observer.withLock { $0 = layer }
        defer { DurableFile.observer.withLock { $0 = nil } }

        var (journal, _) = try Journal.open(JournalOptions(directory: dir))
        var n = 0
        for round in 0..<3 {
            for _ in 0..<6 {
                n += 1
                let seq = try await journal.append(type: "lease.reserved", step(n))
                acknowledged.withLock { $0[seq] = n }
            }
            // A batch of three records, one durable wait.
            let first = n + 1
            n += 3
            let last = try await journal.append((first...n).map { (type: "vf.saved", payload: step($0) as any Encodable & Sendable) })
            acknowledged.withLock { a in for (i, k) in (first...n).enumerated() { a[last - UInt64(n - first - i)] = k } }
            // A snapshot of everything so far, then compaction.
            let upTo = acknowledged.withLock { a in a.keys.max() ?? 0 }
            let covered = acknowledged.withLock { a in a.filter { $0.key <= upTo }.sorted { $0.key < $1.key }.map(\.value) }
            try await journal.snapshot(seq: upTo, data: Array(try JSONEncoder().encode(covered)))
            if round == 1 {
                await journal.close()
                (journal, _) = try Journal.open(JournalOptions(directory: dir))
            }
        }
        await journal.close()
        #expect(layer.points >= 30, "the layer saw only \(layer.points) points")
        #expect(layer.problems == [])
        print("power loss: \(layer.points) crash points, each recovered with up to 3 cuts of the journal's unsynced tail")
    }

    /// Recovers `image` and compares it with the acknowledged records.
    static func problems(in image: String, expected: [UInt64: Int], at point: String) -> [String] {
        let recovery: JournalRecovery
        do {
            let (journal, r) = try Journal.open(JournalOptions(directory: image, fsync: false))
            recovery = r
            // This runs inside an fsync of the journal under test, so it cannot wait for the close.
            Task { await journal.close() }
        } catch {
            return ["power cut after \(point): recovery failed: \(error.message)"]
        }
        var found: [UInt64: Int] = [:]
        if let snapshot = recovery.snapshot {
            guard let covered = try? JSONDecoder().decode([Int].self, from: Data(snapshot.data)) else {
                return ["power cut after \(point): the snapshot does not decode"]
            }
            // The snapshot lists the steps of seqs 1...snapshot.seq in order.
            for (i, k) in covered.enumerated() { found[UInt64(i + 1)] = k }
        }
        for entry in recovery.entries {
            guard let payload = try? JSONDecoder().decode(LeaseStep.self, from: Data(entry.data)) else {
                return ["power cut after \(point): record \(entry.seq) does not decode"]
            }
            found[entry.seq] = payload.n
        }
        var problems: [String] = []
        for (seq, k) in expected.sorted(by: { $0.key < $1.key }) where found[seq] != k {
            problems.append("power cut after \(point): acknowledged record \(seq) (step \(k)) is \(found[seq].map { "step \($0)" } ?? "missing")")
        }
        let seqs = found.keys.sorted()
        if !seqs.isEmpty && seqs != Array(1...UInt64(seqs.count)) {
            problems.append("power cut after \(point): recovered seqs are not 1...n: \(seqs.prefix(20))")
        }
        return problems
    }
}
