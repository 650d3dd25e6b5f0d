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
