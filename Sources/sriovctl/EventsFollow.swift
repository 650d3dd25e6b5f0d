import ArgumentParser
import SRIOVCore
import SRIOVLeasing

/// `sriovctl events`: sriovd's lease and VF events as they happen (`GET /v1/events`).
struct EventsFollow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Follow sriovd's lease and VF events as they are journaled (acquired, released, expired, drift, lost, quarantined, VF counts).",
        discussion: "One line per event (or, with --json, one JSON object per line, as GET /v1/events sends them), until interrupted or --count events have arrived. Asks sriovd over its socket (admin callers only); there is no --direct: an engine in this process would only see its own changes."
    )

    @OptionGroup var connect: ConnectOptions

    @Option(name: .customLong("count"), help: ArgumentHelp("Stop after this many events.", valueName: "n"), transform: Parse.eventCount)
    var count: Int?

    @Flag(name: .customLong("json"), help: "Print each event as one line of JSON.")
    var json = false

    func validate() throws {
        if connect.direct {
            throw ValidationError("--direct cannot follow events: an engine in this process sees only its own changes; ask sriovd (--socket)")
        }
    }

    func run() async throws {
        try await ErrorReporting.run {
            let stream = try connect.client.events()
            var seen = 0
            for try await event in stream {
                if json { try JSONOutput.printLine(event) } else { Output.line("\(AuditTime.format(event.time))  \(event.summary)") }
                seen += 1
                if let count, seen >= count { break }
            }
        }
    }
}
