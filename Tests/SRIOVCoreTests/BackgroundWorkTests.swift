#if canImport(Glibc)
import Glibc
#endif
import Testing
import SRIOVCore

@Suite("Background work")
struct BackgroundWorkTests {
    @Test func runsOnAThreadOfLowerPriorityAndReturnsTheResult() async {
        let which = __priority_which_t(PRIO_PROCESS.rawValue)
        let here = getpriority(which, 0)
        let there = await BackgroundWork.run { getpriority(which, 0) }
        #expect(there == min(19, here + BackgroundWork.niceness))
        let sums = await withTaskGroup(of: Int.self) { group in
            for n in 1...50 { group.addTask { await BackgroundWork.run { (1...n).reduce(0, +) } } }
            return await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(sums.sorted() == (1...50).map { $0 * ($0 + 1) / 2 }.sorted())
    }
}
