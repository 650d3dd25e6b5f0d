import Foundation
import SRIOVCore
import SRIOVLeasing
import Synchronization

/// The per-step profile of `lease-floor` and `lease-engine` (`--profile`): every host operation the
/// cycles make, timed by kind through `HostProfile` (the same wrapper and the same names as sriovd's
/// `sriovd_host_operation_duration_seconds{op}`), so the floor's steps and the engine's can be set
/// side by side, and what a cycle spends outside them is the rest: for the engine, its journal
/// (write and fsync), its book and checks, and the hand-offs between its threads.
final class StepProfile: Sendable {
    private let steps = Mutex<[String: (count: Int, milliseconds: Double)]>([:])

    /// `host` with each operation recorded here.
    func wrap(_ host: LeaseEngine.Host) -> LeaseEngine.Host {
        HostProfile.wrap(host) { [self] operation, duration in
            steps.withLock { $0[operation, default: (0, 0)].count += 1; $0[operation, default: (0, 0)].milliseconds += ms(duration) }
        }
    }

    /// Forgets what was recorded (the warm-up cycle's steps).
    func reset() { steps.withLock { $0 = [:] } }

    /// Milliseconds per cycle in host operations.
    func hostMilliseconds(cycles: Int) -> Double {
        steps.withLock { $0.values.reduce(0) { $0 + $1.milliseconds } } / Double(max(1, cycles))
    }

    /// One line per kind of step: calls per cycle, mean, milliseconds per cycle.
    func lines(cycles: Int) -> [String] {
        let n = Double(max(1, cycles))
        return steps.withLock { $0 }.sorted { $0.key < $1.key }.map { op, s in
            "step \(op): \(f2(Double(s.count) / n)) per cycle, mean \(f2(s.milliseconds / Double(max(1, s.count)))) ms, \(f2(s.milliseconds / n)) ms per cycle"
        }
    }
}

/// Two decimals, as the other benchmarks print their milliseconds.
func f2(_ v: Double) -> String { String(format: "%.2f", v) }
