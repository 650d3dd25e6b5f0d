import SRIOVCore
import SRIOVJournal

extension LeaseEngine {
    /// Records a request the API refused (another tenant's pool, a missing right, a quota), so the
    /// trail shows who tried what, next to what was done. Journaled like every audit record, but at
    /// most `RefusalBudget.perWindow` per caller per `RefusalBudget.window` seconds: a tenant that
    /// sends refused requests in a loop would otherwise fill the journal with fsync'd records. Those
    /// past the budget are counted, and the caller's next record says how many there were and when.
    public func auditRefusal(who: String, action: String, target: String, reason: String) async {
        let now = clock.now()
        guard let skipped = refusalBudget.admit(who, at: now) else { return }
        let note = skipped.count == 0 ? ""
            : "; and \(skipped.count) more refused request\(skipped.count == 1 ? "" : "s") of this caller from \(AuditTime.format(skipped.first)) to \(AuditTime.format(skipped.last)), counted, not recorded one by one"
        await audit(who, action, target, "refused: \(reason)" + note)
    }
}

/// Per caller: how many refusals were journaled in the current window, and those that were not.
struct RefusalBudget: Sendable {
    static let window = 60.0
    static let perWindow = 10

    struct Caller: Sendable {
        var windowStart: Double
        var recorded: Int
        var skipped: Int
        var firstSkipped: Double
        var lastSkipped: Double
    }

    private var callers: [String: Caller] = [:]

    /// nil: over the budget (counted). Otherwise the refusals skipped since the caller's last record.
    mutating func admit(_ who: String, at now: Double) -> (count: Int, first: Double, last: Double)? {
        if callers.count > 4_096 { callers = callers.filter { now - $0.value.windowStart < RefusalBudget.window || $0.value.skipped > 0 } }
        var caller = callers[who] ?? Caller(windowStart: now, recorded: 0, skipped: 0, firstSkipped: now, lastSkipped: now)
        if now - caller.windowStart >= RefusalBudget.window || now < caller.windowStart {
            caller.windowStart = now
            caller.recorded = 0
        }
        guard caller.recorded < RefusalBudget.perWindow else {
            if caller.skipped == 0 { caller.firstSkipped = now }
            caller.skipped += 1
            caller.lastSkipped = now
            callers[who] = caller
            return nil
        }
        let skipped = (caller.skipped, caller.firstSkipped, caller.lastSkipped)
        caller.recorded += 1
        caller.skipped = 0
        callers[who] = caller
        return skipped
    }
}

/// `audit-archive.jsonl` in the state directory: audit records older than the book's latest 10,000,
/// one JSON object per line, appended before the compaction that drops them from the journal and never
/// rewritten, so `GET /v1/audit` (and `sriovctl audit`) can still return them. It grows by about
/// 150 bytes per record; an operator may move old archives away (sriovd never needs them to start).
struct AuditArchive: Sendable {
    static let fileName = "audit-archive.jsonl"

    let directory: String
    let sync: Bool
    var path: String { directory + "/" + AuditArchive.fileName }

    func append(_ records: [AuditRecord]) async throws(SRIOVError) {
        let lines = records.map { record in
            var w = JSONWriter(capacity: 192)
            record.writeJSON(&w)
            return w.bytes
        }
        let (path, directory, sync) = (self.path, self.directory, self.sync)
        try await BackgroundWork.run { () -> Result<Void, SRIOVError> in
            do throws(SRIOVError) {
                try ArchiveFile.append(lines, path: path, directory: directory, sync: sync)
                return .success(())
            } catch {
                return .failure(error)
            }
        }.get()
    }

    /// The archived records at or after `since`, in file order. A line that does not decode (a torn
    /// line's remains) is skipped.
    func read(since: Double?) async throws(SRIOVError) -> [AuditRecord] {
        let path = self.path
        return try await BackgroundWork.run { () -> Result<[AuditRecord], SRIOVError> in
            do throws(SRIOVError) {
                let records = try ArchiveFile.read(path: path).compactMap { line in
                    try? JSONCoding.decode(AuditRecord.self, from: line, what: "audit archive record")
                }
                return .success(records.filter { record in since.map { record.time >= $0 } ?? true })
            } catch {
                return .failure(error)
            }
        }.get()
    }

    /// The archive's records, then the recent ones it does not hold already (a crash between archiving
    /// and the snapshot archives records twice, and leaves them in the book too), at or after `since`,
    /// oldest first (a stable sort by time).
    static func merge(archived: [AuditRecord], recent: [AuditRecord], since: Double?) -> [AuditRecord] {
        struct Key: Hashable {
            var time: UInt64
            var who: String
            var action: String
            var target: String
            var result: String
            init(_ r: AuditRecord) { (time, who, action, target, result) = (r.time.bitPattern, r.who, r.action, r.target, r.result) }
        }
        var seen = Set<Key>()
        var all: [AuditRecord] = []
        for record in archived + recent where since.map({ record.time >= $0 }) ?? true {
            if seen.insert(Key(record)).inserted { all.append(record) }
        }
        return all.enumerated().sorted { a, b in a.element.time != b.element.time ? a.element.time < b.element.time : a.offset < b.offset }
            .map(\.element)
    }
}
