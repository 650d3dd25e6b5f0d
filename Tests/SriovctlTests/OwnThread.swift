import Dispatch
import Testing

/// Runs a suite's tests on a thread of their own instead of one of the cooperative pool's (2 on this
/// 2-core machine). Tests that wait on other processes synchronously (`Process.waitUntilExit`, a CLI
/// run after another) otherwise hold a pool thread for minutes, and every async test beside them stalls:
/// the whole suite, run five times in a row on a loaded machine, failed three times because an event
/// stream's 50 ms heartbeat was not sent for 10 s. Task-locals (Swift Testing's current test) stay.
struct OwnThreadTrait: SuiteTrait, TestTrait, TestScoping {
    var isRecursive: Bool { true }

    func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        guard testCase != nil else { return try await function() }
        try await withTaskExecutorPreference(BlockingTestExecutor(), operation: function)
    }
}

extension Trait where Self == OwnThreadTrait {
    /// The suite's tests run on their own thread (see `OwnThreadTrait`).
    static var ownThread: Self { OwnThreadTrait() }
}

/// A task executor on a serial dispatch queue of its own: an overcommitting queue, which gets a thread
/// even while the cooperative pool's are busy or blocked.
final class BlockingTestExecutor: TaskExecutor, @unchecked Sendable {
    private let queue = DispatchQueue(label: "sriovd-test-own-thread")

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }
}
