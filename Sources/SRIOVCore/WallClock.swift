/// Wall-clock time as Unix seconds, for lease expiry that must survive restarts (a `Clock<Duration>`
/// instant cannot be persisted). Injected so tests can move time.
public protocol WallClock: Sendable {
    func now() -> Double
}

#if canImport(Glibc)
import Glibc
#endif

public struct SystemWallClock: WallClock {
    public init() {}
    public func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
