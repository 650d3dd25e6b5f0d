import ArgumentParser
import SRIOVCore

/// The command lines scripts run most, parsed without ArgumentParser.
///
/// ArgumentParser builds a command's whole argument tree through reflection before it parses: for
/// `vf set` that is ~20 million instructions, several times what the rest of the process costs, and
/// what kept one `sriovctl vf set` process near the cost of four `ip link set` processes in a QEMU guest
/// (Docs/Performance.md). The fast path takes only a command line it understands completely and that is
/// valid: every argument a known long option (`--name value` or `--name=value`) or one of the positional
/// arguments, no option twice, no value that starts with `-` or is empty, every value accepted by the
/// same `Parse` transform and the same validation ArgumentParser's path runs. Anything else (help,
/// an unknown or repeated option, a bad value, a missing argument) returns nil and goes to
/// ArgumentParser, which parses it again and says what is wrong, so errors and help read exactly as
/// before. FastPathTests checks that both parsers agree on every command line the fast path accepts.
enum FastPath {
    /// `sriovctl vf set <pf> <vf> [options]`: the arguments after `vf set`.
    static func vfSet(_ arguments: ArraySlice<String>) -> VFSetInvocation? {
        guard let parsed = LongOptions(arguments, positionals: 2,
                                       valued: ["--mac", "--vlan", "--qos", "--vlan-proto", "--spoofchk", "--trust", "--state",
                                                "--min-tx-rate", "--max-tx-rate", "--query-rss", "--socket", "--config",
                                                "--state-dir", "--sysfs-root", "--procfs-root"],
                                       flags: ["--force", "--json", "--direct", "--simulated"])
        else { return nil }
        do {
            var invocation = VFSetInvocation(pf: parsed.positionals[0], vf: try Parse.vfIndex(parsed.positionals[1]))
            let v = parsed.values
            invocation.mac = try v["--mac"].map(Parse.mac)
            invocation.vlan = try v["--vlan"].map(Parse.vlanID)
            invocation.qos = try v["--qos"].map(Parse.qos)
            invocation.vlanProto = try v["--vlan-proto"].map(Parse.vlanProto)
            invocation.spoofCheck = try v["--spoofchk"].map(Parse.onOff("--spoofchk"))
            invocation.trust = try v["--trust"].map(Parse.onOff("--trust"))
            invocation.state = try v["--state"].map(Parse.linkState)
            invocation.minTxRate = try v["--min-tx-rate"].map(Parse.rate("--min-tx-rate"))
            invocation.maxTxRate = try v["--max-tx-rate"].map(Parse.rate("--max-tx-rate"))
            invocation.queryRSS = try v["--query-rss"].map(Parse.onOff("--query-rss"))
            invocation.force = parsed.flags.contains("--force")
            invocation.json = parsed.flags.contains("--json")
            invocation.host = HostChoice(sysfsRoot: v["--sysfs-root"] ?? DefaultPaths.sysfs,
                                         procfsRoot: v["--procfs-root"] ?? DefaultPaths.procfs,
                                         stateDir: v["--state-dir"] ?? DefaultPaths.stateDirectory,
                                         simulated: parsed.flags.contains("--simulated"))
            invocation.configPath = v["--config"]
            invocation.door = DoorChoice(socket: v["--socket"], direct: parsed.flags.contains("--direct"))
            try invocation.host.validate()
            try invocation.validate()
            return invocation
        } catch {
            return nil
        }
    }

    /// Runs the command line if the fast path takes it: its exit status, or nil for ArgumentParser.
    static func run(_ arguments: [String]) async -> Int32? {
        guard arguments.count >= 2, arguments[0] == "vf", arguments[1] == "set",
              let invocation = vfSet(arguments.dropFirst(2)) else { return nil }
        do {
            try await invocation.run()
            return 0
        } catch let code as ExitCode {
            return code.rawValue   // the command printed why (ErrorReporting)
        } catch {
            return Sriovctl.report(error)
        }
    }
}

/// A command line of long options and positional arguments, split the strict way: nil for anything
/// that is not plainly one of them.
struct LongOptions {
    var positionals: [String] = []
    var values: [String: String] = [:]
    var flags: Set<String> = []

    init?(_ arguments: ArraySlice<String>, positionals count: Int, valued: Set<String>, flags known: Set<String>) {
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            guard argument.hasPrefix("-") else {
                guard !argument.isEmpty else { return nil }
                positionals.append(argument)
                continue
            }
            var name = argument
            var value: String?
            if let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                value = String(argument[argument.index(after: equals)...])
            }
            if known.contains(name) {
                guard value == nil, flags.insert(name).inserted else { return nil }
            } else if valued.contains(name) {
                if value == nil { value = rest.popFirst() }
                guard let value, !value.isEmpty, !value.hasPrefix("-"), values[name] == nil else { return nil }
                values[name] = value
            } else {
                return nil   // -h, --help, --, a short option, an unknown one
            }
        }
        guard positionals.count == count else { return nil }
    }
}
