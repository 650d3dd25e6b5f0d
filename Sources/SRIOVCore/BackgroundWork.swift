import Foundation

/// Work that may take a while and that nobody waits on urgently (encoding a snapshot of megabytes,
/// writing it, scanning the journal to compact it), run on one thread of its own instead of the
/// cooperative pool: there, a 20-50 ms job holds one of the pool's threads (on two cores, half the
/// capacity) for its whole run, and every lease step queues behind it.
///
/// The thread runs at the process's priority. A lower one (nice +5) was measured and dropped: the
/// lease cycles around each snapshot stalled longer, as the thread was preempted while holding
/// something the others needed (allocations of megabytes take the process's memory-map lock).
public enum BackgroundWork {
    /// At most 15 bytes: the kernel keeps 15 (TASK_COMM_LEN), and a longer name is refused, leaving
    /// the thread with its creator's (a pool thread's) name in `ps -L`, `top -H`, perf and gdb.
    public static let threadName = "sriovd.bgwork"

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
                ThreadName.setCurrent(BackgroundWork.threadName)
                loop()
            }
            thread.name = BackgroundWork.threadName
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
