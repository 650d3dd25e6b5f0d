import Foundation
import SRIOVTestSupport
import Testing

/// Issue 15 #4 and #8: `sriovctl journal verify` fails exactly when start-up would, says "damaged" only
/// about damage, and suggests `journal repair` only when repair fixes it; in-process commands never
/// create a state directory a mistyped --state-dir names.
@Suite("sriovctl journal: verify agrees with start-up", .ownThread)
struct JournalCLITests {
    static let config = """
        protected_pfs: [eno1]
        pools:
          - name: uplink
            selectors: [{vfs: "ens1f0#0-3"}]
        """

    let dir: TempDirectory
    init() throws {
        dir = try TempDirectory("ctl-journal")
        try dir.file("sriovd.yaml", Self.config)
        try dir.dir("state")
    }

    var stateDir: String { dir.path + "/state" }
    var journal: String { stateDir + "/journal.jsonl" }
    var common: [String] { ["--simulated", "--state-dir", stateDir, "--config", dir.path + "/sriovd.yaml"] }

    /// A lease acquired and released in-process: a journal with records in it.
    func leaseAndRelease() throws {
        let acquired = try CLI.run(["lease", "acquire", "--pool", "uplink", "--owner", "vnf-7", "--json", "--direct"] + common)
        #expect(acquired.status == 0, "\(acquired.stderr)")
        let id = try #require((try JSONSerialization.jsonObject(with: Data(acquired.stdout.utf8)) as? [String: Any])?["id"] as? String)
        #expect(try CLI.run(["lease", "release", id, "--direct"] + common).status == 0)
    }

    func verify() throws -> CLI.Result { try CLI.run(["journal", "verify"] + common) }
    /// What start-up says: any in-process command opens the engine.
    func startUp() throws -> CLI.Result { try CLI.run(["lease", "list", "--direct"] + common) }

    var lastSeq: UInt64 {
        get throws {
            let last = try String(contentsOfFile: journal, encoding: .utf8).split(separator: "\n").last.map(String.init) ?? "{}"
            return (try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])?["seq"] as? UInt64 ?? 0
        }
    }

    func append(_ line: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: journal))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((line + "\n").utf8))
        try handle.close()
    }

    @Test func aLostSnapshotAfterCompactionIsRefusedByVerifyAndStartUp() throws {
        try leaseAndRelease()
        let compact = try CLI.run(["journal", "compact"] + common)
        #expect(compact.status == 0, "\(compact.stderr)")
        #expect(try verify().status == 0)
        try FileManager.default.removeItem(atPath: stateDir + "/snapshot.json")

        let v = try verify()
        #expect(v.status == 65, "\(v.stdout)\(v.stderr)")
        #expect(v.stdout.contains("(the journal continues from the snapshot at seq"), "\(v.stdout)")
        #expect(v.stdout.contains("\(stateDir)/snapshot.json is missing; restore that snapshot.json from a backup"), "\(v.stdout)")
        #expect(v.stdout.hasSuffix("damaged: `sriovctl journal repair` cannot fix this; each problem above says what to do\n"), "\(v.stdout)")
        let start = try startUp()
        #expect(start.status == 65, "\(start.stdout)\(start.stderr)")
        #expect(start.stderr.contains("is missing; restore that snapshot.json from a backup"), "\(start.stderr)")
        #expect(!start.stderr.contains("journal repair"), "\(start.stderr)")
        let repair = try CLI.run(["journal", "repair"] + common)
        #expect(repair.status == 65 && repair.stderr.contains("repair cannot rebuild a snapshot"), "\(repair.stderr)")
    }

    /// A payload with a valid checksum that does not decode, and a record type this sriovd does not
    /// know: start-up refuses both, so verify must too, without suggesting repair (which keeps them).
    @Test(arguments: [("lease.reserved", #"{"n":1}"#, "journal record lease.reserved is not valid"),
                      ("lease.teleported", #"{"lease":"l-1"}"#, "unknown journal record type 'lease.teleported'")])
    func checksummedRecordsStartUpRefusesFailVerify(_ type: String, _ data: String, _ reason: String) throws {
        try leaseAndRelease()
        let seq = try lastSeq + 1
        try append(Self.line(seq: seq, type: type, data: data))

        let start = try startUp()
        #expect(start.status == 65, "\(start.stdout)\(start.stderr)")
        #expect(start.stderr.contains("journal.jsonl record seq \(seq): \(reason)"), "\(start.stderr)")
        let v = try verify()
        #expect(v.status == 65, "\(v.stdout)\(v.stderr)")
        #expect(v.stdout.contains("problem: \(stateDir)/journal.jsonl record seq \(seq): \(reason)"), "\(v.stdout)")
        #expect(v.stdout.contains("cannot fix this") && !v.stdout.contains("--state-dir \(stateDir)` keeps"), "\(v.stdout)")
        let json = try CLI.run(["journal", "verify", "--json"] + common)
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(report?["ok"] as? Bool == false && report?["repairable"] as? Bool == false)
    }

    @Test func damageRepairFixesIsStillSentToRepair() throws {
        try leaseAndRelease()
        let seq = try lastSeq
        try append("not a record")
        try append(Self.line(seq: seq + 2, type: "lease.released", data: #"{"lease":"l-1"}"#))
        let v = try verify()
        #expect(v.status == 65)
        #expect(v.stdout.hasSuffix("damaged: `sriovctl journal repair --state-dir \(stateDir)` keeps every record before the damage (stop sriovd first)\n"), "\(v.stdout)")
        #expect(try startUp().status == 65)
        #expect(try CLI.run(["journal", "repair"] + common).status == 0)
        #expect(try verify().status == 0)
        #expect(try startUp().status == 0)
    }

    @Test func aMistypedStateDirectoryIsNotFoundAndNotCreated() throws {
        let typo = dir.path + "/stat"
        let verify = try CLI.run(["journal", "verify", "--state-dir", typo])
        #expect(verify.status == 66, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stderr == "sriovctl: error: no state directory '\(typo)': is --state-dir mistyped? sriovd's is /var/lib/sriovd unless it was started with another --state-dir; sriovd creates it on its first start, sriovctl never does\n", "\(verify.stderr)")
        #expect(!verify.stdout.contains("damaged") && !verify.stdout.contains("repair"))
        for args in [["lease", "check", "--direct"], ["lease", "list", "--direct"], ["journal", "compact"]] {
            for simulated in [true, false] {
                let r = try CLI.run(args + (simulated ? ["--simulated"] : []) + ["--state-dir", typo, "--config", dir.path + "/sriovd.yaml"])
                #expect(r.status == 66, "\(args) \(r.stdout)\(r.stderr)")
                #expect(r.stderr.hasPrefix("sriovctl: error: no state directory '\(typo)': is --state-dir mistyped?"), "\(args): \(r.stderr)")
                #expect(!FileManager.default.fileExists(atPath: typo), "\(args) created \(typo)")
            }
        }
    }

    /// A correctly checksummed journal line (CRC-32C over the line up to `,"crc":` plus `}`).
    static func line(seq: UInt64, type: String, data: String) -> String {
        let envelope = #"{"v":1,"seq":\#(seq),"ts":1764000000.5,"type":"\#(type)","data":\#(data)"#
        let crc = crc32c(Array((envelope + "}").utf8))
        return envelope + #","crc":""# + String(format: "%08x", crc) + #""}"#
    }

    static func crc32c(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xffff_ffff
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82f6_3b78 : crc >> 1 }
        }
        return ~crc
    }

    var snapshotExists: Bool { FileManager.default.fileExists(atPath: stateDir + "/snapshot.json") }
    func journalLines() throws -> Int {
        try String(contentsOfFile: journal, encoding: .utf8).split(separator: "\n").count
    }

    /// A `--direct` command that succeeds leaves a snapshot when the next command would replay more
    /// records than the snapshot holds; one that fails leaves no snapshot, however long the replay.
    @Test func directCommandsSnapshotALongReplayOnlyWhenTheySucceed() throws {
        try leaseAndRelease()
        // The lease cycle's 10 records were worth a snapshot at its release's close.
        #expect(snapshotExists)
        let snapshot = try Data(contentsOf: URL(fileURLWithPath: stateDir + "/snapshot.json"))
        // vfio-pci "unloaded": each acquire journals its steps, fails to bind and rolls back.
        let vfio = stateDir + "/simulated-host/sys/bus/pci/drivers/vfio-pci"
        try FileManager.default.moveItem(atPath: vfio, toPath: vfio + ".away")
        var attempts = 0
        while try journalLines() < 80, attempts < 40 {
            let failed = try CLI.run(["lease", "acquire", "--pool", "uplink", "--owner", "vnf-7", "--direct"] + common)
            #expect(failed.status != 0, "acquire without vfio-pci: \(failed.stdout)")
            attempts += 1
        }
        #expect(try journalLines() >= 80, "after \(attempts) failed acquires")
        #expect(try Data(contentsOf: URL(fileURLWithPath: stateDir + "/snapshot.json")) == snapshot,
                "failed commands leave the journal and the snapshot as they were")
        try FileManager.default.moveItem(atPath: vfio + ".away", toPath: vfio)

        let listed = try CLI.run(["lease", "list", "--direct"] + common)
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(snapshotExists)
        #expect(try journalLines() <= 1)
        #expect(try verify().status == 0)
        try leaseAndRelease()
        #expect(try startUp().status == 0)
    }
}

