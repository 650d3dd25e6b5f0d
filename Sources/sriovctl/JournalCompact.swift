import ArgumentParser
import SRIOVCore
import SRIOVJournal
import SRIOVLeasing

struct JournalCompact: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Write a snapshot of the lease state and shrink the journal to what follows it."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var leaseOptions: LeaseOptions

    func run() async throws {
        try await ErrorReporting.run {
            let (engine, _) = try await LeaseContext.engine(global, leaseOptions)
            try await engine.snapshot()
            let seq = await engine.currentBook.seq
            await engine.close()
            Output.line("snapshot written at seq \(seq); journal compacted")
        }
    }
}
