#if canImport(Glibc)
import Glibc
#endif
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
}
