import Foundation

/// Threads of their own for the host steps of lease operations (driver unbind and probe through sysfs,
/// netlink requests, reads of a device's sysfs files): those calls block their thread, for
/// milliseconds on a real kernel while a driver probes, and on the cooperative pool (two threads on a
/// two-core host) two steps in flight held every thread, so the engine's actor, the API and the
/// journal's answers queued behind whole host steps. Here they queue only for the CPU.
///
/// A `TaskExecutor`: `run` gives the host steps it wraps the preference for these threads, so the
/// nonisolated async code inside (netlink requests included) runs here; the engine's actor keeps its
/// own executor. Up to four threads: steps on different VFs go on together (on a real kernel most of a
/// step is spent asleep in the kernel; steps on one PF serialize on its lock there anyway). A thread is
/// started when a job finds none idle, so a short-lived `sriovctl --direct` command, whose steps come
/// one at a time, starts one instead of four.
public final class HostStepThreads: TaskExecutor, @unchecked Sendable {
    /// With the thread's number, at most 15 bytes (the kernel's limit; see `BackgroundWork.threadName`).
    public static let threadName = "sriovd.host"
    public static let shared = HostStepThreads(threads: 4)

    private let limit: Int
    private let condition = NSCondition()
    // Guarded by `condition`: a FIFO (`jobs[head...]`), compacted as it is consumed; the threads
    // started so far, and how many of them wait for a job.
    private var jobs: [UnownedJob] = []
    private var head = 0
    private var started = 0
    private var idle = 0

    init(threads: Int) {
        limit = max(1, threads)
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        // More jobs waiting than threads about to take them: one more thread, up to the limit.
        let spawn = jobs.count - head > idle && started < limit
        if spawn { started += 1 }
        let number = started - 1
        condition.signal()
        condition.unlock()
        if spawn { startThread(number) }
    }

    private func startThread(_ n: Int) {
        let name = "\(HostStepThreads.threadName).\(n)"
        let thread = Thread { [self] in
            ThreadName.setCurrent(name)
            loop()
        }
        thread.name = name
        thread.start()
    }

    private func loop() -> Never {
        let executor = asUnownedTaskExecutor()
        while true {
            condition.lock()
            while head == jobs.count {
                idle += 1
                condition.wait()
                idle -= 1
            }
            let job = jobs[head]
            head += 1
            if head == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 1_024 {
                jobs.removeFirst(head)
                head = 0
            }
            condition.unlock()
            job.runSynchronously(on: executor)
        }
    }

    /// Runs `body` with the preference for the host-step threads.
    public static func run<T, Failure: Error>(_ body: () async throws(Failure) -> T) async throws(Failure) -> T {
        try await withTaskExecutorPreference(shared, isolation: nil, operation: body)
    }
}
