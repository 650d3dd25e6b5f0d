#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
import SRIOVCore

@Suite("Background work")
struct BackgroundWorkTests {
    /// Every job runs on the one background thread, in turn, and hands back its result.
    @Test func runsEveryJobOnItsOneThreadAndReturnsTheResult() async {
        let results = await withTaskGroup(of: (Int, UInt).self) { group in
            for n in 1...50 { group.addTask { await BackgroundWork.run { ((1...n).reduce(0, +), UInt(pthread_self())) } } }
            return await group.reduce(into: [(Int, UInt)]()) { $0.append($1) }
        }
        #expect(results.map(\.0).sorted() == (1...50).map { $0 * ($0 + 1) / 2 }.sorted())
        #expect(Set(results.map(\.1)).count == 1)
    }

    /// The threads of our own carry their names where the kernel shows them (`/proc/<pid>/task/*/comm`,
    /// what `ps -L`, `top -H`, perf and gdb print): a name over 15 bytes is refused there, and the
    /// thread then showed its creator's (`com.apple.root.default-qos`, cut to 15).
    @Test func ourThreadsAreNamedWhereTheKernelShowsThem() async throws {
        _ = await BackgroundWork.run { 0 }
        // Host-step threads start as jobs find none idle: four jobs that hold their threads until all
        // four run start all four.
        final class Count: Sendable { let value = Atomic<Int>(0) }
        let count = Count()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    await HostStepThreads.run { () async -> Void in
                        count.value.add(1, ordering: .relaxed)
                        for _ in 0..<10_000 where count.value.load(ordering: .relaxed) < 4 { usleep(1_000) }
                    }
                }
            }
        }
        #expect(count.value.load(ordering: .relaxed) == 4)
        let expected = [BackgroundWork.threadName] + (0..<4).map { "\(HostStepThreads.threadName).\($0)" }
        func names() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").compactMap { task in
                try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8).trimmingCharacters(in: .newlines)
            }
        }
        // A thread names itself when it first runs: the host-step threads that ran no job yet may not
        // have, so wait (up to 10 s) for all of them.
        for _ in 0..<1_000 where !Set(expected).isSubset(of: try names()) { try await Task.sleep(for: .milliseconds(10)) }
        let names = try names()
        #expect(names.contains(BackgroundWork.threadName), "threads: \(names)")
        for n in 0..<4 { #expect(names.contains("\(HostStepThreads.threadName).\(n)"), "threads: \(names)") }
    }
}
