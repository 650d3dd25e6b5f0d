import ArgumentParser
import SRIOVCore
import SRIOVLeasing

/// `sriovctl audit`: who asked for what, from the audit records in the journal.
struct AuditList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Show the audit trail: who asked for what (leases, VF changes, refused requests), oldest first.",
        discussion: "WHO is the caller as sriovd saw it: `tenant nfv (uid 1000)` on the socket, `tenant orch (token orch-1)` on TCP, `cli uid 0` for sriovctl in-process, `sriovd` for expiry. The trail keeps the latest 10,000 records (older ones stay in the journal). Asks sriovd over its socket (admin callers only); --direct reads the state directory in this process."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var leaseOptions: LeaseOptions
    @OptionGroup var connect: ConnectOptions

    @Option(name: .customLong("since"), help: ArgumentHelp("Only records at or after this time: RFC 3339 (2026-11-25T21:00:00Z) or Unix seconds.", valueName: "time"),
            transform: { s in try Parse.wrap { () throws(SRIOVError) in try AuditTime.parse(s) } })
    var since: Double?

    @Flag(name: .customLong("json"), help: "Print as JSON ({\"records\": [...]}, as GET /v1/audit answers).")
    var json = false

    func validate() throws { try connect.check(global, leaseOptions) }

    func run() async throws {
        try await ErrorReporting.run {
            let records = try await connect.using(global, leaseOptions) { door in try await door.audit(since: since) }
            if json {
                try JSONOutput.print(AuditJSON(records: records))
            } else {
                Output.line(AuditText.table(records))
            }
        }
    }
}

struct AuditJSON: Encodable {
    let records: [AuditDocument]
}

enum AuditText {
    static func table(_ records: [AuditDocument]) -> String {
        guard !records.isEmpty else { return "no audit records" }
        var table = Table(["TIME", "WHO", "ACTION", "TARGET", "RESULT"])
        for r in records { table.add([r.time, r.who, r.action, r.target, r.result]) }
        return table.render()
    }
}
