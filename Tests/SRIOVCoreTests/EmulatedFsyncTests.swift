import Testing
@testable import SRIOVCore

@Suite("Emulated fsync (benchmarks only)")
struct EmulatedFsyncTests {
    @Test func onlyAWholeNumberOfMicrosecondsInRangeTurnsItOn() {
        #expect(EmulatedFsync.nanoseconds("300") == 300_000)
        #expect(EmulatedFsync.nanoseconds("1") == 1_000)
        #expect(EmulatedFsync.nanoseconds("1000000") == 1_000_000_000)
        for off in [nil, "", "0", "1000001", "-5", "0.3", "3e2", " 300", "300us", "99999999999999999999"] as [String?] {
            #expect(EmulatedFsync.nanoseconds(off) == nil, "\(off ?? "unset")")
        }
    }

    /// The test process has no such variable: nothing is padded, and `start` reads no clock.
    @Test func unsetPadsNothing() {
        #expect(EmulatedFsync.minimumNanoseconds == nil)
        #expect(EmulatedFsync.start() == 0)
        EmulatedFsync.pad(since: 0)
    }
}
