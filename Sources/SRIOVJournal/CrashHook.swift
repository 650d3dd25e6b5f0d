#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// Test-only crash injection: with `SRIOVD_TEST_CRASH_AFTER_APPEND=k` (k >= 1) in the environment, the
/// process sends itself SIGKILL right after its k-th append is written to the file (what a killed
/// process leaves behind: written bytes survive it in the page cache, fsync'd or not), before the
/// caller hears of it.
/// The crash-injection harness uses it to stop a leasing operation after each journal step in turn.
enum CrashHook {
    static let variable = "SRIOVD_TEST_CRASH_AFTER_APPEND"

    /// k from the variable's value; nil when unset, empty, not a decimal number, or below 1.
    static func parse(_ value: String?) -> Int? {
        guard let value, !value.isEmpty, value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let k = Int(value), k >= 1 else { return nil }
        return k
    }

    /// k for this process, read once.
    static let limit: Int? = {
        guard let raw = getenv(variable) else { return nil }
        return parse(String(cString: raw))
    }()

    /// Written appends in this process, across every `Journal` it opens.
    static let writtenAppends = Atomic<Int>(0)

    /// When the k-th record falls inside a batch of `records` records (`bytes`, one line each), the
    /// length of the batch up to and including it: only that much is written before the kill, so
    /// the crash falls between two records of one batch.
    static func cut(_ bytes: [UInt8], records: Int) -> Int? {
        guard let k = limit else { return nil }
        let keep = k - writtenAppends.load(ordering: .relaxed)
        guard keep >= 1, keep < records else { return nil }
        var seen = 0
        for (offset, byte) in bytes.enumerated() where byte == 0x0a {
            seen += 1
            if seen == keep { return offset + 1 }
        }
        return nil
    }

    /// Counts `count` newly written appends and kills the process if the k-th is among them.
    static func appendsWereWritten(_ count: Int) {
        guard let k = limit else { return }
        let total = writtenAppends.add(count, ordering: .relaxed).newValue
        if total >= k { kill(getpid(), SIGKILL) }
    }
}
