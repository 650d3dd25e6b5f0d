import Foundation
import SRIOVCore
import SRIOVSimulator
import SRIOVTestSupport
import Testing

/// `sriovctl lease show <id> --stats`, through sriovd's socket and in-process (`--direct`): the counters
/// set on the simulated PF, "not reported" (null in JSON) for the ones the kernel did not give.
@Suite("sriovctl lease show --stats", .serialized, .ownThread)
struct LeaseStatsCLITests {
    let dir: TempDirectory
    init() throws {
        dir = try TempDirectory("ctl-stats")
        try dir.file("sriovd.yaml", DaemonClientCLITests.config)
    }

    var stateDir: String { dir.path + "/state" }
    var socket: String { dir.path + "/run/sriovd.sock" }
    var direct: [String] { ["--direct", "--simulated", "--state-dir", stateDir, "--config", dir.path + "/sriovd.yaml"] }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func countersThroughTheSocketAndDirectAreTheKernels() throws {
        let d = try DaemonProcess(stateDir: stateDir, config: dir.path + "/sriovd.yaml", socket: socket)
        let acquired = try CLI.run(["lease", "acquire", "--socket", socket, "--pool", "uplink", "--owner", "vm-s", "--json"])
        #expect(acquired.status == 0, "\(acquired.stderr)")
        let lease = try Self.json(acquired.stdout)
        let id = try #require(lease["id"] as? String)
        let vf = try #require((lease["vfs"] as? [[String: Any]])?.first)
        let pf = try #require(vf["pfInterface"] as? String)
        let index = try #require(vf["index"] as? Int)
        let address = try #require(vf["pciAddress"] as? String)

        let sim = try SimulatedHost.open(directory: SimulatedHost.directory(inStateDirectory: stateDir))
        try sim.setVFStats(VFCounters(rxPackets: 4_096, txPackets: 2_048, rxBytes: 6_000_000_000, txBytes: 131_072, broadcast: 3,
                                      multicast: 9, rxDropped: nil, txDropped: nil), vf: index, pf: InterfaceName(pf)!)

        let text = try CLI.run(["lease", "show", id, "--stats", "--socket", socket])
        let json = try CLI.run(["lease", "show", id, "--stats", "--format", "json", "--socket", socket])
        let unknown = try CLI.run(["lease", "show", "l-0123456789abcdef", "--stats", "--socket", socket])
        #expect(d.stop() == 0)
        let textDirect = try CLI.run(["lease", "show", id, "--stats"] + direct)
        let jsonDirect = try CLI.run(["lease", "show", id, "--stats", "--format", "json"] + direct)
        let unknownDirect = try CLI.run(["lease", "show", "l-0123456789abcdef", "--stats"] + direct)

        for r in [text, json, textDirect, jsonDirect] { #expect(r.status == 0, "\(r.stderr)") }
        for r in [text, textDirect] {
            let lines = r.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 4, "\(r.stdout)")
            #expect(lines[0].hasPrefix("lease \(id)  owner vm-s  pool uplink  counters read 20"))
            #expect(lines[1].split(separator: " ", omittingEmptySubsequences: true).prefix(5) == ["VF", "PF", "INDEX", "RX", "PACKETS"])
            #expect(lines[2].hasPrefix("\(address)  \(pf)"))
            #expect(lines[2].hasSuffix("  4096        2048        6000000000  131072    3             9             not reported  not reported"),
                    "\(lines[2])")
            #expect(lines[3] == "\(address): the kernel did not report rx dropped, tx dropped")
        }
        for r in [json, jsonDirect] {
            let doc = try Self.json(r.stdout)
            #expect(doc["lease"] as? String == id && doc["pool"] as? String == "uplink")
            let counters = try #require((doc["vfs"] as? [[String: Any]])?.first?["counters"] as? [String: Any])
            #expect(counters["rxPackets"] as? Int == 4_096 && counters["rxBytes"] as? Int == 6_000_000_000)
            #expect(counters["txBytes"] as? Int == 131_072 && counters["multicast"] as? Int == 9)
            #expect(counters["rxDropped"] is NSNull && counters["txDropped"] is NSNull)
            #expect(r.stdout.contains("\"rxDropped\" : null"))
        }
        // The same refusal both ways.
        #expect(unknown.status == 66 && unknownDirect.status == 66)
        #expect(unknown.stderr == unknownDirect.stderr && unknown.stderr.contains("l-0123456789abcdef"))
    }

    @Test func statsPrintsOnlyTextOrJSON() throws {
        let r = try CLI.run(["lease", "show", "l-0123456789abcdef", "--stats", "--format", "qemu"] + direct)
        #expect(r.status == 64 && r.stderr.contains("--stats prints counters as text or json, not --format qemu"), "\(r.stderr)")
        let help = try CLI.run(["lease", "show", "--help"])
        #expect(help.stdout.contains("--stats") && help.stdout.contains("not reported"))
    }
}
