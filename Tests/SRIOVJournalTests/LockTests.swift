#if canImport(Glibc)
import Glibc
#endif
import Testing
import SRIOVCore
@testable import SRIOVJournal

@Suite("State directory lock")
struct LockTests {
    /// flock belongs to the open file description, so a second open in the same process conflicts too.
    @Test func secondOpenIsBusyAndNamesTheOwner() async throws {
        let f = try JournalFixture()
        let (journal, _) = try f.open()
        let error = #expect(throws: SRIOVError.self) { _ = try f.open() }
        #expect(error?.code == .busy)
        #expect(error?.message.hasPrefix("state directory \(f.dir) is in use by another process (pid \(getpid())): ") == true)
        await journal.close()
        let (again, _) = try f.open()
        await again.close()
    }

    @Test func aRefusedOpenReleasesTheLock() async throws {
        let f = try JournalFixture()
        try f.temp.dir("state")
        try f.setLines([JournalFixture.line(seq: 1), "garbage", JournalFixture.line(seq: 3)])
        #expect(throws: SRIOVError.self) { _ = try f.open() }
        let lock = try StateLock.acquire(directory: f.dir)
        lock.release()
    }

    @Test func verifyWorksWhileTheJournalIsOpen() async throws {
        let f = try JournalFixture()
        let (journal, _) = try f.open()
        _ = try await journal.append(type: "lease.reserved", step(1))
        let report = try JournalMaintenance.verify(directory: f.dir)
        #expect(report.ok && report.records == 1)
        await journal.close()
    }
}
