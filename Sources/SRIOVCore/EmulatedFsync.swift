#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Benchmarks only: a slower disk, emulated. With `SRIOV_EMULATE_FSYNC_US=n` (1-1000000) every fsync
/// of the journal, its snapshot and its directory takes at least n µs: the caller sleeps out what the
/// disk did not take. Issue 17's tail targets are stated for a machine whose fsync takes >= 0.25 ms, and
/// this VM's disk is several times faster on some days; the benchmarks' fsync probe pads its own
/// fsyncs the same way, so the fsync time they print is the one the run had. Unset (always, outside
/// benchmarks), an fsync costs one load of a constant more.
public enum EmulatedFsync {
    public static let variable = "SRIOV_EMULATE_FSYNC_US"

    /// The minimum in nanoseconds; nil when the variable is unset or not a number in 1...1000000.
    public static let minimumNanoseconds: UInt64? = nanoseconds(getenv(variable).map { String(cString: $0) })

    /// The variable's value in nanoseconds; nil unless it is a decimal number of µs in 1...1000000.
    static func nanoseconds(_ text: String?) -> UInt64? {
        guard let text, !text.isEmpty, text.utf8.count <= 7, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let us = UInt64(text), (1...1_000_000).contains(us) else { return nil }
        return us * 1000
    }

    /// A timestamp to pass to `pad(since:)` (0 when not emulating).
    @inline(__always)
    public static func start() -> UInt64 {
        minimumNanoseconds == nil ? 0 : now()
    }

    /// Sleeps until the minimum has passed since `start`.
    public static func pad(since start: UInt64) {
        guard let minimum = minimumNanoseconds else { return }
        let elapsed = now() &- start
        guard elapsed < minimum else { return }
        let rest = minimum - elapsed
        var request = timespec(tv_sec: Int(rest / 1_000_000_000), tv_nsec: Int(rest % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0, errno == EINTR { request = remaining }
    }

    static func now() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }
}
