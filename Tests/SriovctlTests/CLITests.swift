import Foundation
import Testing
import SRIOVTestSupport

/// Runs the built `sriovctl` binary as a user would.
struct CLI {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var killed = false
    }

    static var binary: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("sriovctl").path
    }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let out = try ChildProcess.Pipe(), err = try ChildProcess.Pipe()
        let process = try ChildProcess(binary, arguments,
                                       environment: environment.isEmpty ? nil : ProcessInfo.processInfo.environment.merging(environment) { $1 },
                                       stdout: .pipe(out), stderr: .pipe(err))
        let (outData, errData) = ChildProcess.readToEnd(out, err)
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self),
                      killed: process.killedBySignal)
    }
}

@Suite("sriovctl inventory and doctor", .ownThread)
struct CLITests {
    let state: TempDirectory
    init() throws { state = try TempDirectory("cli") }

    @Test func inventoryJSONListsSimulatedPFsAndVFs() throws {
        let r = try CLI.run(["inventory", "--simulated", "--state-dir", state.path, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let pfs = try #require(json?["pfs"] as? [[String: Any]])
        #expect(pfs.count == 5)
        let ens1f0 = try #require(pfs.first { ($0["interfaces"] as? [String]) == ["ens1f0"] })
        #expect(ens1f0["pciAddress"] as? String == "0000:3b:00.0")
        #expect((ens1f0["vfs"] as? [[String: Any]])?.count == 8)
        #expect((json?["host"] as? [String: Any])?["defaultRouteInterfaces"] as? [String] == ["eno1"])
    }

    @Test func inventoryTable() throws {
        let r = try CLI.run(["inventory", "--simulated", "--state-dir", state.path, "--vfs"])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "PF         PCI           DRIVER     ID         NUMA  VFS   BOUND  AUTOPROBE  LINK  NOTE")
        #expect(lines.contains("eno1       0000:19:00.0  igb        8086:1521  0     0/7   0      on         up    management (protected)"))
        #expect(lines.contains("0     0000:3b:02.0  iavf    -         6      ens1f0v0") || lines.contains("0   0000:3b:02.0  iavf    -         6      ens1f0v0"))
    }

    @Test func doctorOnSimulatedHostPasses() throws {
        let r = try CLI.run(["doctor", "--simulated", "--state-dir", state.path])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("PASS  IOMMU enabled (VT-d / AMD-Vi): IOMMU units: dmar0"))
        #expect(r.stdout.contains("summary: "))
        let json = try CLI.run(["doctor", "--simulated", "--state-dir", state.path, "--json"])
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let ids = (report?["checks"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
        for id in ["iommu-enabled", "iommu-cmdline", "iommu-pt", "iommu-groups", "interrupt-remapping", "vfio-pci",
                   "management-nic", "sriov-devices", "sriov-enabled:0000:3b:00.0", "vf-isolation:0000:3b:00.0"] {
            #expect(ids.contains(id), "missing \(id)")
        }
        #expect(report?["failed"] as? Int == 0)
    }

    @Test func doctorExitsOneOnFailure() throws {
        // A tree with no IOMMU and no SR-IOV device, like this build machine.
        try state.file("sys/bus/pci/devices/.keep", "")
        try state.file("proc/cmdline", "ro quiet\n")
        let r = try CLI.run(["doctor", "--sysfs-root", state.path + "/sys", "--procfs-root", state.path + "/proc"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("FAIL  IOMMU enabled (VT-d / AMD-Vi): no IOMMU is active"))
        #expect(r.stdout.contains("FAIL  SR-IOV capable devices: no PCI device has sriov_totalvfs"))
    }

    @Test func nonexistentSysfsRoot() throws {
        let r = try CLI.run(["inventory", "--sysfs-root", "/nonexistent/sys"])
        #expect(r.status == 66)
        #expect(r.stderr == "sriovctl: error: sysfs root '/nonexistent/sys' does not exist or is not a directory; pass --sysfs-root with a mounted sysfs (usually /sys), or use --simulated\n")
        #expect(r.stdout.isEmpty)
    }

    @Test func simulatedWithSysfsRootIsRefused() throws {
        let r = try CLI.run(["inventory", "--simulated", "--sysfs-root", "/tmp", "--state-dir", state.path])
        #expect(r.status == 64)
        #expect(r.stderr.contains("--simulated uses the simulated host's own sysfs and procfs"))
        #expect(!state.exists("simulated-host"))
    }

    @Test func unwritableStateDirectory() throws {
        try state.file("blocker", "a file, not a directory")
        let r = try CLI.run(["inventory", "--simulated", "--state-dir", state.path + "/blocker/state"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("cannot create the state directory"))
    }

    @Test func helpTextIsExact() throws {
        let r = try CLI.run(["inventory", "--help"])
        #expect(r.status == 0)
        #expect(r.stdout == """
            OVERVIEW: List the SR-IOV PFs of the host (and their VFs with --vfs), and its
            NICs without SR-IOV.

            NICs without SR-IOV (network functions with no sriov_totalvfs) are listed in a
            section of their own (`functions` in --json): they have no VFs, and a pool
            leases one whole by naming it in devices:, as it does a PF with no VFs. The
            management NIC is marked and never leased.

            USAGE: sriovctl inventory [--sysfs-root <dir>] [--procfs-root <dir>] [--state-dir <dir>] [--simulated] [--socket <path>] [--json] [--vfs]

            OPTIONS:
              --sysfs-root <dir>      Where sysfs is mounted. (default: /sys)
              --procfs-root <dir>     Where procfs is mounted. (default: /proc)
              --state-dir <dir>       sriovd's state directory (the simulated host lives in
                                      <dir>/simulated-host). (default: /var/lib/sriovd)
              --simulated             Work on the simulated host instead of the real one
                                      (created on first use).
              --socket <path>         Ask the sriovd on this socket instead of reading the
                                      host in this process.
              --json                  Print the whole inventory as JSON.
              --vfs                   Also list every VF with its driver and IOMMU group.
              -h, --help              Show help information.


            """)
    }
}

@Suite("Embedded configuration", .ownThread)
struct EmbeddedConfigTests {
    @Test func builtInSampleIsConfigSriovdYaml() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let sample = try String(contentsOf: repo.appendingPathComponent("Config/sriovd.yaml"), encoding: .utf8)
        let embedded = try String(contentsOf: repo.appendingPathComponent("Sources/SRIOVRuntime/EmbeddedConfig.swift"), encoding: .utf8)
        #expect(embedded.contains("#\"\"\"\n" + sample + "\"\"\"#"), "regenerate Sources/SRIOVRuntime/EmbeddedConfig.swift from Config/sriovd.yaml")
    }
}
