import ArgumentParser
import SRIOVClient
import SRIOVCore

/// `sriovctl doctor`: is this host ready for SR-IOV passthrough, and if not, what to do.
struct DoctorRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check the host's prerequisites for SR-IOV passthrough, each with its remedy.",
        discussion: "Exits 0 when no check FAILs (WARNs allowed), 1 otherwise."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var reader: HostReadOptions

    @Flag(name: .customLong("json"), help: "Print the checks as JSON.")
    var json = false

    /// Prints the guide's table of every WARN/FAIL and its fix (from `DoctorFinding`, the doctor's own
    /// remedies) and exits; `Tests/Guide/guide.py --regenerate-doctor-table` splices it into
    /// Docs/guide/01-prerequisites.md.
    @Flag(name: .customLong("remedies-markdown"), help: .hidden)
    var remediesMarkdown = false

    struct Report: Codable {
        var host: String
        var checks: [DoctorCheck]
        var failed: Int
        var warned: Int
    }

    func validate() throws { try reader.check(global) }

    func run() throws {
        if remediesMarkdown {
            print(Doctor.remediesMarkdown(), terminator: "")
            return
        }
        var failed = 0
        try ErrorReporting.run {
            let checks: [DoctorCheck]
            let described: String
            if let client = reader.client {
                checks = try client.doctor()
                described = "the host of sriovd on \(client.http.socketPath)"
            } else {
                let host = try global.host()
                checks = Doctor.run(try host.source.inventory())
                described = host.description
            }
            failed = checks.filter { $0.status == .fail }.count
            let warned = checks.filter { $0.status == .warn }.count
            if json {
                try JSONOutput.print(Report(host: described, checks: checks, failed: failed, warned: warned))
            } else {
                Output.line(DoctorRun.render(checks, host: described))
            }
        }
        if failed > 0 { throw ExitCode(1) }
    }

    static func render(_ checks: [DoctorCheck], host: String) -> String {
        var lines = ["sriovctl doctor: \(host)"]
        for check in checks {
            lines.append("\(check.status.rawValue)  \(check.title): \(check.detail)")
            if let remedy = check.remedy, check.status != .pass {
                lines.append("      fix: \(remedy)")
            }
        }
        let count = { (s: DoctorCheck.Status) in checks.filter { $0.status == s }.count }
        lines.append("summary: \(count(.pass)) PASS, \(count(.warn)) WARN, \(count(.fail)) FAIL")
        return lines.joined(separator: "\n")
    }
}
