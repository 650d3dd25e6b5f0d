import ArgumentParser
import SRIOVCore
import SRIOVJournal
import SRIOVLeasing

struct JournalVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every journal record's checksum and sequence (safe while sriovd runs); exit 65 on damage."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var leaseOptions: LeaseOptions

    @Flag(name: .customLong("json"), help: "Print the report as JSON.")
    var json = false

    func run() async throws {
        let report = JournalMaintenance.verify(directory: global.stateDir)
        if json { try JSONOutput.print(report) } else {
            Output.line("journal in \(global.stateDir): \(report.records) records, last seq \(report.lastSeq)" + (report.snapshotSeq.map { ", snapshot at seq \($0)" } ?? ""))
            for p in report.problems { Output.line("problem: \(p)") }
            Output.line(report.ok ? "ok" : "damaged: `sriovctl journal repair --state-dir \(global.stateDir)` keeps every record before the damage")
        }
        if !report.ok { throw ExitCode(65) }
    }
}

struct JournalRepair: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Keep every valid record before the first damaged one; the damaged file is moved aside, never deleted.",
        discussion: "On the next start, reconciliation checks every lease against the host and quarantines what it cannot prove."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var leaseOptions: LeaseOptions

    func run() throws {
        try ErrorReporting.run {
            let report = try JournalMaintenance.repair(directory: global.stateDir)
            Output.line("kept \(report.kept) records, dropped \(report.dropped)" + (report.movedAside.map { "; damaged journal saved as \($0)" } ?? ""))
        }
    }
}

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
