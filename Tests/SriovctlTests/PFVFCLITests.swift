import Foundation
import Testing
import SRIOVTestSupport

@Suite("sriovctl pf and vf", .ownThread)
struct PFVFCLITests {
    let state: TempDirectory
    init() throws {
        state = try TempDirectory("cli-pf")
        // No pools: these tests are about the settings themselves (the book's guard has LeaseGuardCLITests).
        try state.file("nopools.yaml", "protected_pfs: [eno1]\n")
    }

    /// Changes go through the lease engine in-process (--direct); reads look at the host.
    func run(_ args: [String]) throws -> CLI.Result {
        let change = args.starts(with: ["vf", "set"]) || args.starts(with: ["pf", "set-numvfs"])
        let config = change && !args.contains("--config") ? ["--config", state.path + "/nopools.yaml"] : []
        return try CLI.run(args + (change ? ["--direct"] : []) + config + ["--simulated", "--state-dir", state.path])
    }

    func showJSON(_ pf: String) throws -> String {
        let r = try run(["pf", "show", pf, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        return r.stdout
    }

    @Test func setThenShowRoundTrip() throws {
        let set = try run(["vf", "set", "ens4f0np0", "1", "--mac", "02:00:00:00:00:42", "--vlan", "100", "--qos", "3",
                           "--vlan-proto", "802.1ad", "--spoofchk", "off", "--trust", "on", "--state", "enable",
                           "--min-tx-rate", "10", "--max-tx-rate", "1000", "--query-rss", "on", "--json"])
        #expect(set.status == 0, "\(set.stderr)")
        let vf = try JSONSerialization.jsonObject(with: Data(try run(["vf", "show", "ens4f0np0", "1", "--json"]).stdout.utf8)) as? [String: Any]
        #expect(vf?["mac"] as? String == "02:00:00:00:00:42")
        #expect(vf?["vlan"] as? Int == 100 && vf?["qos"] as? Int == 3 && vf?["vlanProto"] as? String == "802.1ad")
        #expect(vf?["spoofCheck"] as? Bool == false && vf?["trust"] as? Bool == true && vf?["linkState"] as? String == "enable")
        #expect(vf?["minTxRate"] as? Int == 10 && vf?["maxTxRate"] as? Int == 1000 && vf?["queryRSS"] as? Bool == true)
        #expect(vf?["source"] as? String == "netlink" && vf?["pciAddress"] as? String == "0000:af:00.3")
    }

    @Test("bad input: clear message, exit 64, nothing changed", arguments: [
        (["--mac", "zz:00:00:00:00:00"], "invalid MAC address 'zz:00:00:00:00:00'"),
        (["--mac", "01:00:5e:00:00:01"], "is a multicast address"),
        (["--vlan", "4095"], "invalid VLAN id 4095: 4095 is reserved"),
        (["--vlan", "10", "--qos", "8"], "invalid VLAN QoS (priority) 8: it must be 0-7"),
        (["--qos", "3"], "--qos and --vlan-proto go with --vlan"),
        (["--max-tx-rate", "-1"], "a rate cannot be negative"),
        (["--min-tx-rate", "500", "--max-tx-rate", "100"], "min_tx_rate 500 is above max_tx_rate 100"),
        (["--state", "up"], "invalid VF link state 'up'"),
        (["--trust", "maybe"], "invalid value 'maybe' for --trust"),
        ([], "nothing to set"),
    ])
    func badInput(args: [String], message: String) throws {
        let before = try showJSON("ens1f0")
        let r = try run(["vf", "set", "ens1f0", "0"] + args)
        #expect(r.status == 64)
        #expect(r.stderr.contains(message), "\(r.stderr)")
        #expect(try showJSON("ens1f0") == before)
    }

    @Test func vfBeyondNumVFs() throws {
        let before = try showJSON("ens1f0")
        let r = try run(["vf", "set", "ens1f0", "999", "--trust", "on"])
        #expect(r.status == 66)
        #expect(r.stderr == "sriovctl: error: 0000:3b:00.0 (ens1f0): VF 999 does not exist: the PF has 8 VFs (0-7); create more with `sriovctl pf set-numvfs`\n")
        #expect(try showJSON("ens1f0") == before)
    }

    @Test func driverRefusalsAreExplained() throws {
        #expect(try run(["pf", "set-numvfs", "eno1", "2", "--force"]).status == 0)
        let state = try run(["vf", "set", "eno1", "0", "--state", "enable", "--force"])
        #expect(state.status == 69)
        #expect(state.stderr.contains("driver igb does not support VF link state"))
        let rate = try run(["vf", "set", "eno1", "0", "--min-tx-rate", "10", "--force"])
        #expect(rate.status == 1)
        #expect(rate.stderr.contains("driver igb rejects min_tx_rate (EINVAL; Intel NICs commonly do)"))
    }

    @Test func managementNICRefusedWithoutForce() throws {
        let before = try showJSON("eno1")
        let numvfs = try run(["pf", "set-numvfs", "eno1", "2"])
        #expect(numvfs.status == 77)
        #expect(numvfs.stderr.contains("0000:19:00.0 (eno1) carries the host's default route (the management NIC)"))
        #expect(try showJSON("eno1") == before)
    }

    @Test func configProtectedPFsAreRefusedWithoutForce() throws {
        try state.file("protect.yaml", "protected_pfs: [ens1f1, \"0000:af:00.0\"]\n")
        let before = try showJSON("ens1f1")
        let set = try run(["vf", "set", "ens1f1", "0", "--trust", "on", "--config", state.path + "/protect.yaml"])
        #expect(set.status == 77)
        #expect(set.stderr.contains("0000:3b:00.1 (ens1f1) is listed under protected_pfs in \(state.path)/protect.yaml"))
        let numvfs = try run(["pf", "set-numvfs", "ens4f0np0", "2", "--config", state.path + "/protect.yaml"])
        #expect(numvfs.status == 77)
        #expect(try showJSON("ens1f1") == before)
        #expect(try run(["vf", "set", "ens1f1", "0", "--trust", "on", "--force", "--config", state.path + "/protect.yaml"]).status == 0)
    }

    @Test func setNumVFsThroughZero() throws {
        let r = try run(["pf", "set-numvfs", "0000:3b:00.1", "3", "--autoprobe", "off"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "0000:3b:00.1 (ens1f1): 3 VFs (was 8)\n")
        let show = try run(["pf", "show", "ens1f1"])
        #expect(show.stdout.hasPrefix("PF 0000:3b:00.1 (ens1f1)  driver ice  3 of 64 VFs  link up\n"))
        #expect(show.stdout.contains("2   0000:3b:0a.2  (none)"))
    }

    @Test func setNumVFsBadInput() throws {
        let above = try run(["pf", "set-numvfs", "ens1f0", "65"])
        #expect(above.status == 64 && above.stderr.contains("supports at most 64 (sriov_totalvfs)"))
        let negative = try run(["pf", "set-numvfs", "ens1f0", "-1"])
        #expect(negative.status == 64)
        let path = try run(["pf", "show", "../../etc"])
        #expect(path.status == 64 && path.stderr.contains("invalid interface name '../../etc'"))
        let unknown = try run(["pf", "show", "0000:99:00.0"])
        #expect(unknown.status == 66 && unknown.stderr.contains("no SR-IOV PF at 0000:99:00.0"))
    }
}
