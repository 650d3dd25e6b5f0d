#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SRIOVTestSupport
import Testing

/// The `sriovd` binary (built next to `sriovctl`), serving a simulated host from a temp dir.
final class DaemonProcess {
    let process: ChildProcess
    let socket: String
    let log: String

    static var binary: String {
        URL(fileURLWithPath: CLI.binary).deletingLastPathComponent().appendingPathComponent("sriovd").path
    }

    /// Starts `sriovd --simulated` and waits (bounded) until it accepts connections.
    init(stateDir: String, config: String, socket: String) throws {
        self.socket = socket
        log = stateDir + ".log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process = try ChildProcess(Self.binary, ["--simulated", "--state-dir", stateDir, "--config", config, "--socket", socket, "--log-level", "warning"],
                                   stdout: .file(descriptor: handle.fileDescriptor), stderr: .file(descriptor: handle.fileDescriptor))
        try handle.close()
        for _ in 0..<600 {
            if Self.accepts(socket) { return }
            guard process.isRunning else { break }
            usleep(50_000)
        }
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        if process.isRunning { process.terminate() }
        throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "sriovd did not listen on \(socket) within 30 s: \(text)"])
    }

    /// Stops it with SIGTERM and returns its exit status.
    func stop() -> Int32 {
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    static func accepts(_ path: String) -> Bool {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        } == 0
    }
}

/// sriovctl's lease and pool commands as a client of a real sriovd on a Unix socket.
@Suite("sriovctl through sriovd's socket", .serialized, .ownThread)
struct DaemonClientCLITests {
    static let config = """
        protected_pfs: [eno1]
        pools:
          - name: uplink
            selectors: [{vfs: "ens1f0#0-3"}, {vfs: "ens4f0np0#0-3"}]
            policy: {vlans: ["100"]}
        """

    let dir: TempDirectory
    init() throws {
        dir = try TempDirectory("ctl-sock")
        try dir.file("sriovd.yaml", Self.config)
    }

    var stateDir: String { dir.path + "/state" }
    var socket: String { dir.path + "/run/sriovd.sock" }
    var direct: [String] { ["--direct", "--simulated", "--state-dir", stateDir, "--config", dir.path + "/sriovd.yaml"] }
    func daemon() throws -> DaemonProcess {
        try DaemonProcess(stateDir: stateDir, config: dir.path + "/sriovd.yaml", socket: socket)
    }

    /// A graceful stop leaves a snapshot when the next start would replay more records than it
    /// holds: the next start (and every `--direct` command meanwhile) decodes one snapshot instead.
    @Test func aGracefulStopSnapshotsALongReplay() throws {
        let d = try daemon()
        let journal = stateDir + "/journal.jsonl"
        var cycles = 0
        while (try String(contentsOfFile: journal, encoding: .utf8)).split(separator: "\n").count < 80, cycles < 30 {
            let acquired = try CLI.run(["lease", "acquire", "--socket", socket, "--pool", "uplink", "--owner", "vnf-7", "--json"])
            let id = try #require((try JSONSerialization.jsonObject(with: Data(acquired.stdout.utf8)) as? [String: Any])?["id"] as? String,
                                  "\(acquired.stderr)")
            #expect(try CLI.run(["lease", "release", id, "--socket", socket]).status == 0)
            cycles += 1
        }
        #expect(!FileManager.default.fileExists(atPath: stateDir + "/snapshot.json"), "no automatic snapshot this early")
        #expect(d.stop() == 0)
        #expect(FileManager.default.fileExists(atPath: stateDir + "/snapshot.json"))
        #expect((try String(contentsOfFile: journal, encoding: .utf8)).split(separator: "\n").count <= 1)
        let listed = try CLI.run(["lease", "list"] + direct)
        #expect(listed.status == 0 && listed.stdout.contains("No leases"), "\(listed.stdout)\(listed.stderr)")
    }

    @Test func acquireListReleaseThroughTheSocketPrintWhatDirectPrints() throws {
        let d = try daemon()
        let acquired = try CLI.run(["lease", "acquire", "--socket", socket, "--pool", "uplink", "--owner", "vnf-7", "--count", "2",
                                    "--placement", "spread", "--vlan", "100", "--request-id", "r-1", "--json"])
        #expect(acquired.status == 0, "\(acquired.stderr)")
        let lease = try #require(try JSONSerialization.jsonObject(with: Data(acquired.stdout.utf8)) as? [String: Any])
        let id = try #require(lease["id"] as? String)
        #expect((lease["vfs"] as? [Any])?.count == 2 && lease["state"] as? String == "active")
        #expect((lease["requestedBy"] as? String)?.contains("uid \(getuid())") == true, "sriovd records the caller from SO_PEERCRED")
        #expect((lease["attach"] as? [String: Any])?.keys.sorted() == ["cloud-hypervisor", "dpdk", "libvirt", "libvirt-interface", "proxmox", "qemu"])
        // The same request id is the same lease (a retry through the socket).
        let retry = try CLI.run(["lease", "acquire", "--socket", socket, "--pool", "uplink", "--owner", "vnf-7", "--count", "2",
                                 "--placement", "spread", "--vlan", "100", "--request-id", "r-1"])
        #expect(retry.status == 0 && retry.stdout.hasPrefix("lease \(id)  owner vnf-7  pool uplink  active  expires -\nVF  "), "\(retry.stdout)\(retry.stderr)")
        #expect(retry.stdout.hasSuffix("attach: `sriovctl lease show \(id) --format libvirt|libvirt-interface|qemu|proxmox|cloud-hypervisor|dpdk`\n"))

        let second = try CLI.run(["lease", "acquire", "--socket", socket, "--pool", "uplink", "--owner", "vm-2", "--json"])
        let secondID = try #require((try JSONSerialization.jsonObject(with: Data(second.stdout.utf8)) as? [String: Any])?["id"] as? String)
        let released = try CLI.run(["lease", "release", secondID, "--socket", socket])
        #expect(released.status == 0 && released.stdout == "released \(secondID) (1 VF returned to pool uplink)\n", "\(released.stderr)")

        // SRIOVD_SOCKET stands in for --socket.
        let table = try CLI.run(["lease", "list"], environment: ["SRIOVD_SOCKET": socket])
        let json = try CLI.run(["lease", "list", "--json", "--socket", socket])
        let pools = try CLI.run(["pool", "list", "--socket", socket])
        let poolsJSON = try CLI.run(["pool", "list", "--json", "--socket", socket])
        let show = try CLI.run(["lease", "show", id, "--socket", socket])
        let qemu = try CLI.run(["lease", "show", id, "--format", "qemu", "--socket", socket])
        let audit = try CLI.run(["audit", "--json", "--socket", socket])
        for r in [table, json, pools, poolsJSON, show, qemu, audit] { #expect(r.status == 0, "\(r.stderr)") }
        #expect(audit.stdout.contains("\"action\" : \"lease.release\""))
        #expect(table.stdout.hasPrefix("LEASE               OWNER  POOL    STATE   VFS                        EXPIRES\n\(id)  vnf-7  uplink  active  "))
        #expect(pools.stdout.contains("uplink  8      6     2       0            ens1f0,ens4f0np0"), "\(pools.stdout)")
        #expect(qemu.stdout.hasPrefix("-device vfio-pci,host="))

        // Clean shutdown on SIGTERM: exit 0, socket gone, lock released.
        #expect(d.stop() == 0, "\((try? String(contentsOfFile: d.log, encoding: .utf8)) ?? "")")
        #expect(!FileManager.default.fileExists(atPath: socket))

        // In-process on the same state: byte for byte what the socket printed.
        #expect(try CLI.run(["lease", "list"] + direct).stdout == table.stdout)
        #expect(try CLI.run(["lease", "list", "--json"] + direct).stdout == json.stdout)
        #expect(try CLI.run(["pool", "list"] + direct).stdout == pools.stdout)
        #expect(try CLI.run(["pool", "list", "--json"] + direct).stdout == poolsJSON.stdout)
        #expect(try CLI.run(["lease", "show", id] + direct).stdout == show.stdout)
        #expect(try CLI.run(["lease", "show", id, "--format", "qemu"] + direct).stdout == qemu.stdout)
        #expect(try CLI.run(["audit", "--json"] + direct).stdout == audit.stdout)
        #expect(try CLI.run(["lease", "check"] + direct).status == 0)
    }

    @Test func problemDetailsComeBackAsTheEnginesMessageAndExitCode() throws {
        let d = try daemon()
        let unknown = try CLI.run(["lease", "acquire", "--socket", socket, "--pool", "nope", "--owner", "vm"])
        let policy = try CLI.run(["lease", "acquire", "--socket", socket, "--pool", "uplink", "--owner", "vm", "--vlan", "300"])
        let missing = try CLI.run(["lease", "release", "l-0123456789abcdef", "--socket", socket])
        #expect(d.stop() == 0)
        let unknownDirect = try CLI.run(["lease", "acquire", "--pool", "nope", "--owner", "vm"] + direct)
        let policyDirect = try CLI.run(["lease", "acquire", "--pool", "uplink", "--owner", "vm", "--vlan", "300"] + direct)
        let missingDirect = try CLI.run(["lease", "release", "l-0123456789abcdef"] + direct)
        #expect(unknown.status == 66 && unknown.stdout.isEmpty)
        #expect(unknown.stderr == "sriovctl: error: no pool named 'nope'; configured pools: uplink (`sriovctl pool list`)\n")
        for (socketResult, directResult, code) in [(unknown, unknownDirect, Int32(66)), (policy, policyDirect, 77), (missing, missingDirect, 66)] {
            #expect(socketResult.status == code && directResult.status == code)
            #expect(socketResult.stderr == directResult.stderr)
        }
    }

    @Test func noDaemonSaysSoAndSuggestsDirect() throws {
        let expected = "sriovctl: error: no sriovd is answering on \(socket): the socket does not exist (ENOENT); start it (`systemctl start sriovd`, or `sriovd --simulated --state-dir <dir> --socket <path>`), point --socket or SRIOVD_SOCKET at its socket, or pass --direct to open the state directory in this process (only while no sriovd holds its lock)\n"
        for args in [["lease", "list"], ["pool", "list", "--json"], ["lease", "acquire", "--pool", "uplink", "--owner", "vm"],
                     ["lease", "release", "l-0123456789abcdef"], ["lease", "renew", "l-0123456789abcdef"], ["lease", "show", "l-0123456789abcdef"]] {
            let r = try CLI.run(args + ["--socket", socket])
            #expect(r.status == 69, "\(args)")
            #expect(r.stderr == expected, "\(args)")
            #expect(r.stdout.isEmpty)
        }
        // A socket file nobody listens on (a crashed sriovd): ECONNREFUSED.
        let d = try daemon()
        kill(d.process.processIdentifier, SIGKILL)
        d.process.waitUntilExit()
        let refused = try CLI.run(["lease", "list", "--socket", socket])
        #expect(refused.status == 69)
        #expect(refused.stderr.hasPrefix("sriovctl: error: no sriovd is answering on \(socket): nothing listens on the socket (ECONNREFUSED: sriovd stopped or crashed); start it"))
        // --direct works on the state directory once no sriovd holds its lock.
        let listed = try CLI.run(["lease", "list"] + direct)
        #expect(listed.status == 0 && listed.stdout == "No leases.\n", "\(listed.stderr)")
    }

    @Test func inProcessOptionsNeedDirect() throws {
        let r = try CLI.run(["lease", "list", "--simulated", "--state-dir", stateDir, "--socket", socket])
        #expect(r.status == 64)
        #expect(r.stderr.hasPrefix("sriovctl: error: --simulated, --state-dir apply only with --direct (in-process); without it sriovctl asks the sriovd on \(socket), which has its own host, state directory and configuration\n"))
        let both = try CLI.run(["pool", "list", "--direct", "--socket", socket])
        #expect(both.status == 64 && both.stderr.hasPrefix("sriovctl: error: --socket and --direct exclude each other"))
        #expect(!FileManager.default.fileExists(atPath: stateDir), "nothing was opened")
    }

    @Test func helpTextNamesTheSocketAndDirect() throws {
        let r = try CLI.run(["lease", "list", "--help"])
        #expect(r.status == 0)
        #expect(r.stdout == """
            OVERVIEW: List live leases.

            USAGE: sriovctl lease list [--sysfs-root <dir>] [--procfs-root <dir>] [--state-dir <dir>] [--simulated] [--config <file>] [--socket <path>] [--direct] [--owner <name>] [--json]

            OPTIONS:
              --sysfs-root <dir>      Where sysfs is mounted. (default: /sys)
              --procfs-root <dir>     Where procfs is mounted. (default: /proc)
              --state-dir <dir>       sriovd's state directory (the simulated host lives in
                                      <dir>/simulated-host). (default: /var/lib/sriovd)
              --simulated             Work on the simulated host instead of the real one
                                      (created on first use).
              --config <file>         sriovd's configuration (pools). Default:
                                      /etc/sriovd/sriovd.yaml if it exists; with
                                      --simulated, the built-in sample for the simulated
                                      host.
              --socket <path>         sriovd's API socket. Default: $SRIOVD_SOCKET, else
                                      /run/sriovd/sriovd.sock.
              --direct                Open the state directory in this process instead of
                                      asking sriovd (only while no sriovd holds its lock;
                                      it must exist, sriovctl never creates one);
                                      --simulated, --state-dir, --config, --sysfs-root and
                                      --procfs-root apply only then.
              --owner <name>          Only this owner's leases.
              --json                  Print as JSON.
              -h, --help              Show help information.


            """)
    }
}
