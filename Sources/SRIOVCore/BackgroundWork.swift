#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Work that may take a while and that nobody waits on urgently (a full rediscovery of the host, the
/// encoding of a snapshot), run on one thread of its own at a lower CPU priority (nice +5): when the
/// cores are busy with lease steps, the scheduler gives those the CPU first. On the cooperative pool,
/// a 100 ms job would hold one of its threads (on two cores, half the capacity) for its whole run.
public enum BackgroundWork {
    /// The niceness of the background thread, relative to the process (0 = same as the rest).
    public static let niceness: Int32 = 5

    /// Runs `work` on the background thread and resumes with its result.
    public static func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            worker.enqueue { continuation.resume(returning: work()) }
        }
    }

    private static let worker = Worker()

    private final class Worker: @unchecked Sendable {
        private let condition = NSCondition()
        private var jobs: [() -> Void] = []

        init() {
            let thread = Thread { [self] in
                // On Linux the nice value is per thread, and `who` 0 is the calling thread (an error
                // leaves it at the normal priority).
                let which = __priority_which_t(PRIO_PROCESS.rawValue)
                _ = setpriority(which, 0, getpriority(which, 0) + BackgroundWork.niceness)
                loop()
            }
            thread.name = "sriovd.background"
            thread.start()
        }

        func enqueue(_ job: @escaping () -> Void) {
            condition.lock()
            jobs.append(job)
            condition.signal()
            condition.unlock()
        }

        private func loop() -> Never {
            while true {
                condition.lock()
                while jobs.isEmpty { condition.wait() }
                let batch = jobs
                jobs = []
                condition.unlock()
                for job in batch { job() }
            }
        }
    }
}
