import Testing
@testable import SRIOVJournal

@Suite("Crash-injection hook")
struct CrashHookTests {
    @Test(arguments: [
        ("1", 1), ("3", 3), ("250", 250),
        ("0", nil), ("-1", nil), ("", nil), ("abc", nil), (" 2", nil), ("2 ", nil), ("+2", nil), ("99999999999999999999", nil),
    ] as [(String, Int?)])
    func parsesThePositiveCount(_ value: String, _ expected: Int?) {
        #expect(CrashHook.parse(value) == expected)
    }

    @Test func unsetMeansOff() {
        #expect(CrashHook.parse(nil) == nil)
        #expect(CrashHook.variable == "SRIOVD_TEST_CRASH_AFTER_APPEND")
    }
}
