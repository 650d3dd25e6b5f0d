#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SRIOVTestSupport
import Testing

@Suite("sriovctl audit", .ownThread)
struct AuditCLITests {
    @Test func listsWhoAskedForWhatSinceATime() throws {
        let state = try TempDirectory("audit")
        // In-process (--direct): the journal's audit records, without a daemon.
        let common = ["--simulated", "--state-dir", state.path, "--direct"]
        for owner in ["vm-a", "vm-b"] {
            let r = try CLI.run(["lease", "acquire", "--pool", "uplink", "--owner", owner] + common)
            #expect(r.status == 0, "\(r.stderr)")
        }
        let all = try CLI.run(["audit", "--direct", "--json"] + common)
        #expect(all.status == 0, "\(all.stderr)")
        let records = try #require((try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [String: Any])?["records"] as? [[String: Any]])
        #expect(records.compactMap { $0["action"] as? String } == ["lease.acquire", "lease.acquire"])
        #expect(records.allSatisfy { $0["who"] as? String == "cli uid \(getuid())" && $0["result"] as? String == "ok" })
        #expect((records[1]["target"] as? String ?? "").contains("owner vm-b"))

        // --since is inclusive, in RFC 3339 (as listed) or Unix seconds.
        let second = try #require(records[1]["time"] as? String)
        let since = try CLI.run(["audit", "--direct", "--since", second] + common)
        #expect(since.status == 0)
        let lines = since.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("TIME") == true && lines.first?.contains("WHO") == true)
        #expect(lines.count >= 2 && lines.last?.contains("owner vm-b") == true && !since.stdout.contains("owner vm-a"))
        // The first unixTime as printed (JSONSerialization may round it differently from sriovd's decoder).
        let unix = try #require(all.stdout.split(separator: "\n").first { $0.contains("\"unixTime\"") }?
            .split(separator: ":").last?.trimmingCharacters(in: CharacterSet(charactersIn: " ,")))
        let fromUnix = try CLI.run(["audit", "--direct", "--json", "--since", unix] + common)
        #expect(fromUnix.stdout.components(separatedBy: "lease.acquire").count - 1 == 2)
        let future = try CLI.run(["audit", "--direct", "--since", "2100-01-01T00:00:00Z"] + common)
        #expect(future.status == 0 && future.stdout == "no audit records\n")

        let bad = try CLI.run(["audit", "--direct", "--since", "yesterday"] + common)
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("invalid time 'yesterday'"), "\(bad.stderr)")
    }
}
