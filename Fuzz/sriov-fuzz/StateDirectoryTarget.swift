#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Dispatch
import Foundation
import Logging
import SRIOVCore
import SRIOVJournal

/// A whole state directory: the input up to its first NUL byte is `journal.jsonl`, the rest (if there is a
/// NUL) `snapshot.json`. Start-up (`Journal.open`) and `sriovctl journal verify` must agree.
///
/// Properties: `verify` says ok exactly when start-up accepts the directory, with the same last seq and
/// snapshot seq; start-up replays the records after the snapshot with no gap (snapshot seq + 1, + 2, ...);
/// once start-up has dropped a torn tail, verify finds nothing wrong and a second start-up recovers the same;
/// a refusal is `.corrupt` or `.unsupported` and explains itself.
enum StateDirectoryTarget {
    static let directory: String = {
        let dir = NSTemporaryDirectory() + "sriov-fuzz-state-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // libFuzzer ends with exit(): remove the directory then.
        atexit { try? FileManager.default.removeItem(atPath: StateDirectoryTarget.directory) }
        return dir
    }()
    static let logger = Logger(label: "sriov-fuzz", factory: { _ in SwiftLogNoOpLogHandler() })

    static func write(_ name: String, _ bytes: [UInt8]?) {
        let path = directory + "/" + name
        unlink(path)
        guard let bytes else { return }
        precondition(FileManager.default.createFile(atPath: path, contents: Data(bytes)), "sriov-fuzz: cannot write \(path)")
    }

    static func open() -> Result<JournalRecovery, SRIOVError> {
        switch attempt({ () throws(SRIOVError) in try Journal.open(JournalOptions(directory: directory, fsync: false), logger: logger) }) {
        case .success(let (journal, recovery)):
            let done = DispatchSemaphore(value: 0)
            Task {
                await journal.close()
                done.signal()
            }
            done.wait()
            return .success(recovery)
        case .failure(let e):
            return .failure(e)
        }
    }

    /// `journal verify` throws only when the directory or a file cannot be read: never here.
    static func verify() throws(FuzzFailure) -> JournalReport {
        do throws(SRIOVError) {
            return try JournalMaintenance.verify(directory: directory)
        } catch {
            throw FuzzFailure(description: "journal verify could not read the state directory: \(error.message)")
        }
    }

    static func run(_ bytes: [UInt8]) throws(FuzzFailure) {
        let split = bytes.firstIndex(of: 0)
        write("journal.jsonl", Array(bytes[..<(split ?? bytes.endIndex)]))
        write("snapshot.json", split.map { Array(bytes[($0 + 1)...]) })
        let report = try verify()
        for p in report.problems { try require(!p.isEmpty, "verify lists an empty problem") }
        switch open() {
        case .failure(let e):
            try requireExplained(e, "start-up")
            try require(e.code == .corrupt || e.code == .unsupported, "start-up refused with \(e.code): \(e.message)")
            try require(!report.ok, "start-up refuses what verify calls ok: \(e.message)")
        case .success(let recovery):
            Tally.accepted = true
            try require(report.ok, "start-up accepts what verify refuses: \(report.problems)")
            try require(recovery.lastSeq == report.lastSeq && recovery.snapshot?.seq == report.snapshotSeq,
                        "start-up recovers up to seq \(recovery.lastSeq) (snapshot \(String(describing: recovery.snapshot?.seq))), verify says \(report.lastSeq) (snapshot \(String(describing: report.snapshotSeq)))")
            var expected = (recovery.snapshot?.seq ?? 0) + 1
            for entry in recovery.entries {
                try require(entry.seq == expected, "replay has seq \(entry.seq) where \(expected) comes next")
                expected += 1
            }
            try require(recovery.entries.isEmpty || recovery.entries.last?.seq == recovery.lastSeq,
                        "the last replayed record is not the last seq \(recovery.lastSeq)")
            let after = try verify()
            try require(after.ok && after.problems.isEmpty && after.lastSeq == report.lastSeq,
                        "after start-up, verify finds \(after.problems) (last seq \(after.lastSeq))")
            switch open() {
            case .success(let again):
                try require(again.entries == recovery.entries && again.snapshot == recovery.snapshot && again.lastSeq == recovery.lastSeq
                                && again.droppedTornTail == nil,
                            "a second start-up recovers something else")
            case .failure(let e):
                throw FuzzFailure(description: "a second start-up fails: \(e.message)")
            }
        }
    }
}
