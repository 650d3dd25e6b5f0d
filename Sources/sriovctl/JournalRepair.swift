import ArgumentParser
import SRIOVCore
import SRIOVJournal
import SRIOVLeasing

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
