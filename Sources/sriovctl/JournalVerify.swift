import ArgumentParser
import SRIOVCore
import SRIOVJournal
import SRIOVLeasing

struct JournalVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Run start-up's checks on the state directory (safe while sriovd runs); exit 65 exactly when start-up would refuse it.",
        discussion: "Checks every journal record's checksum and sequence, that the snapshot a compacted journal names is there and is that snapshot, and that the snapshot and every record after it decode as start-up decodes them. Suggests `sriovctl journal repair` only when repair would fix what it found. A missing state directory exits 66, an unreadable file 74 or 77, as for any other command."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var leaseOptions: LeaseOptions

    @Flag(name: .customLong("json"), help: "Print the report as JSON.")
    var json = false

    func run() throws {
        try ErrorReporting.run {
            let directory = global.stateDir
            let report = try JournalMaintenance.verify(directory: directory, replay: LeaseReplay.problems(directory: directory))
            if json { try JSONOutput.print(report) } else {
                Output.line("journal in \(directory): \(report.records) records, last seq \(report.lastSeq)"
                            + (report.snapshotSeq.map { ", snapshot at seq \($0)" } ?? "")
                            + (report.requiresSnapshotSeq.map { " (the journal continues from the snapshot at seq \($0))" } ?? ""))
                for p in report.problems { Output.line("problem: \(p)") }
                if report.ok {
                    Output.line("ok")
                } else if report.repairable {
                    Output.line("damaged: `sriovctl journal repair --state-dir \(directory)` keeps every record before the damage (stop sriovd first)")
                } else {
                    Output.line("damaged: `sriovctl journal repair` cannot fix this; each problem above says what to do")
                }
            }
            if !report.ok { throw ExitCode(65) }
        }
    }
}
