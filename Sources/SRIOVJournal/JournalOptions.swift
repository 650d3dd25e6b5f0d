/// Where the journal lives and whether writes are made durable.
public struct JournalOptions: Sendable {
    /// The state directory: holds `lock`, `journal.jsonl` and `snapshot.json`.
    public var directory: String
    /// `false` skips every fsync (records still reach the page cache in order). Only for tests and
    /// benchmarks that say so: without it a power loss can lose acknowledged records.
    public var fsync: Bool = true

    public init(directory: String, fsync: Bool = true) {
        self.directory = directory
        self.fsync = fsync
    }
}
