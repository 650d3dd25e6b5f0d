import ArgumentParser
import SRIOVCore
import SRIOVLeasing

/// `sriovctl vf set <pf> <vf> ...`: through the lease engine (sriovd, or --direct), which refuses a VF
/// the book vouches for, applies in a fixed order, reads back and explains refusals.
struct VFSet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Change one VF's settings from its PF, then read them back to verify.",
        discussion: "Applied in this order, one netlink request each: mac, vlan (with qos and protocol), min/max tx rate, spoofchk, trust, state, query_rss. Equivalent to `ip link set <pf> vf <vf> ...`. Refused (exit 75) for a VF a lease holds or a free pool VF, naming the lease or pool; --force changes it anyway, marks the lease drifted (a free pool VF is quarantined) and audits who did it. Asks sriovd over its socket (admin callers only); --direct runs the lease engine in this process."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var configOptions: LeaseOptions
    @OptionGroup var connect: ConnectOptions

    @Argument(help: ArgumentHelp("The PF: a netdev name or a PCI address.", valueName: "pf"))
    var pf: String

    @Argument(help: ArgumentHelp("The VF index (0, 1, ...).", valueName: "vf"), transform: Parse.vfIndex)
    var vf: VFIndex

    @Option(name: .customLong("mac"), help: ArgumentHelp("Administrative MAC (unicast; 00:00:00:00:00:00 clears).", valueName: "mac"), transform: Parse.mac)
    var mac: MACAddress?

    @Option(name: .customLong("vlan"), parsing: .unconditional, help: ArgumentHelp("Port VLAN id, 1-4094 (0 removes the VLAN).", valueName: "id"), transform: Parse.vlanID)
    var vlan: Int?

    @Option(name: .customLong("qos"), parsing: .unconditional, help: ArgumentHelp("VLAN priority 0-7 (with --vlan).", valueName: "q"), transform: Parse.qos)
    var qos: Int?

    @Option(name: .customLong("vlan-proto"), help: ArgumentHelp("VLAN protocol (with --vlan).", valueName: "802.1Q|802.1ad"), transform: Parse.vlanProto)
    var vlanProto: VLANProtocol?

    @Option(name: .customLong("spoofchk"), help: ArgumentHelp("Source MAC spoof checking.", valueName: "on|off"), transform: Parse.onOff("--spoofchk"))
    var spoofCheck: Bool?

    @Option(name: .customLong("trust"), help: ArgumentHelp("Trusted VF (may change its MAC, go promiscuous).", valueName: "on|off"), transform: Parse.onOff("--trust"))
    var trust: Bool?

    @Option(name: .customLong("state"), help: ArgumentHelp("VF link state.", valueName: "auto|enable|disable"), transform: Parse.linkState)
    var state: VFLinkState?

    @Option(name: .customLong("min-tx-rate"), parsing: .unconditional, help: ArgumentHelp("Minimum TX rate in Mbit/s (0: none).", valueName: "Mbps"), transform: Parse.rate("--min-tx-rate"))
    var minTxRate: UInt32?

    @Option(name: .customLong("max-tx-rate"), parsing: .unconditional, help: ArgumentHelp("Maximum TX rate in Mbit/s (0: no limit).", valueName: "Mbps"), transform: Parse.rate("--max-tx-rate"))
    var maxTxRate: UInt32?

    @Option(name: .customLong("query-rss"), help: ArgumentHelp("Let the VF query the RSS table and key.", valueName: "on|off"), transform: Parse.onOff("--query-rss"))
    var queryRSS: Bool?

    @Flag(name: .customLong("force"), help: "Change a VF of the management NIC or a protected PF, or a leased or free pool VF (the lease is marked drifted; a free VF is quarantined).")
    var force = false

    @Flag(name: .customLong("json"), help: "Print the VF's settings after the change as JSON.")
    var json = false

    /// The parsed command line as plain values: what `run` does, and what the fast path builds
    /// without ArgumentParser.
    var invocation: VFSetInvocation {
        VFSetInvocation(pf: pf, vf: vf, mac: mac, vlan: vlan, qos: qos, vlanProto: vlanProto, spoofCheck: spoofCheck,
                        trust: trust, state: state, minTxRate: minTxRate, maxTxRate: maxTxRate, queryRSS: queryRSS,
                        force: force, json: json, host: global.choice, configPath: configOptions.config, door: connect.door)
    }

    func validate() throws { try invocation.validate() }

    func run() async throws { try await invocation.run() }
}

/// One `vf set` command line, parsed: by ArgumentParser (`VFSet`) or by the fast path (`FastPath`),
/// which must agree on every command line both accept (FastPathTests).
struct VFSetInvocation: Equatable, Sendable {
    var pf: String
    var vf: VFIndex
    var mac: MACAddress?
    var vlan: Int?
    var qos: Int?
    var vlanProto: VLANProtocol?
    var spoofCheck: Bool?
    var trust: Bool?
    var state: VFLinkState?
    var minTxRate: UInt32?
    var maxTxRate: UInt32?
    var queryRSS: Bool?
    var force = false
    var json = false
    var host = HostChoice()
    var configPath: String?
    var door = DoorChoice()

    /// What `VFSet.validate` checks (ArgumentParser validates `host`, an option group, by itself).
    func validate() throws {
        try door.check(host, configPath: configPath)
        if vlan == nil && (qos != nil || vlanProto != nil) {
            throw ValidationError("--qos and --vlan-proto go with --vlan; add --vlan <id> (0 for none)")
        }
        if settings.isEmpty {
            throw ValidationError("nothing to set: give at least one of --mac, --vlan, --spoofchk, --trust, --state, --min-tx-rate, --max-tx-rate, --query-rss")
        }
        do { try settings.validate() } catch { throw ValidationError(error.message) }
    }

    var settings: VFSettings {
        var s = VFSettings()
        s.mac = mac
        if let vlan { s.vlan = try? VLAN(id: vlan, qos: qos ?? 0, proto: vlanProto ?? .dot1Q) }
        s.spoofCheck = spoofCheck
        s.trust = trust
        s.linkState = state
        s.minTxRate = minTxRate
        s.maxTxRate = maxTxRate
        s.queryRSS = queryRSS
        return s
    }

    func run() async throws {
        try await ErrorReporting.run {
            let body = VFSettingsBody(settings, force: force ? true : nil)
            let (pf, index) = (self.pf, vf.value)
            let info = try await door.using(host, configPath: configPath) { door in try await door.setVF(pf: pf, index: index, body) }
            if json { try JSONOutput.print(info) } else { Output.line(VFRows.table([info])) }
        }
    }
}
