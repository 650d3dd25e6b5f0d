import ArgumentParser
import SRIOVCore
import SRIOVLeasing

/// The command lines scripts run most (`vf set`, `lease acquire`, `lease release`), parsed without
/// ArgumentParser.
///
/// ArgumentParser builds a command's whole argument tree through reflection before it parses: for
/// `vf set` that is ~20 million instructions, several times what the rest of the process costs, and
/// what kept one `sriovctl vf set` process near the cost of four `ip link set` processes in a QEMU guest;
/// for `lease acquire --direct` 17 of 32 million (Docs/Performance.md). The fast path takes only a command line it understands completely and that is
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
                                       valued: doorValued.union(["--mac", "--vlan", "--qos", "--vlan-proto", "--spoofchk", "--trust",
                                                                 "--state", "--min-tx-rate", "--max-tx-rate", "--query-rss"]),
                                       flags: doorFlags.union(["--force", "--json"]))
        else { return nil }
        return checked {
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
            (invocation.host, invocation.configPath, invocation.door) = frontDoor(parsed)
            return invocation
        }
    }

    /// The options of every command that goes through a front door (`GlobalOptions`, `LeaseOptions`,
    /// `ConnectOptions`).
    static let doorValued: Set<String> = ["--socket", "--config", "--state-dir", "--sysfs-root", "--procfs-root"]
    static let doorFlags: Set<String> = ["--direct", "--simulated"]

    /// What those options chose: the host, the configuration and the front door.
    static func frontDoor(_ parsed: LongOptions) -> (HostChoice, String?, DoorChoice) {
        let v = parsed.values
        return (HostChoice(sysfsRoot: v["--sysfs-root"] ?? DefaultPaths.sysfs, procfsRoot: v["--procfs-root"] ?? DefaultPaths.procfs,
                           stateDir: v["--state-dir"] ?? DefaultPaths.stateDirectory, simulated: parsed.flags.contains("--simulated")),
                v["--config"], DoorChoice(socket: v["--socket"], direct: parsed.flags.contains("--direct")))
    }

    /// The invocation `build` makes, if it makes one and it passes the checks ArgumentParser's path
    /// runs (the host option group's, then the command's own); nil otherwise.
    static func checked<I: FastInvocation>(_ build: () throws -> I) -> I? {
        do {
            let invocation = try build()
            try invocation.host.validate()
            try invocation.validate()
            return invocation
        } catch {
            return nil
        }
    }

    /// `sriovctl lease acquire [options]`: the arguments after `lease acquire`. `--vf` (which may be
    /// repeated) is left to ArgumentParser.
    static func leaseAcquire(_ arguments: ArraySlice<String>) -> LeaseAcquireInvocation? {
        guard let parsed = LongOptions(arguments, positionals: 0,
                                       valued: doorValued.union(["--pool", "--owner", "--count", "--consumer", "--numa", "--placement",
                                                                 "--mac", "--vlan", "--qos", "--trust", "--spoofchk", "--min-tx-rate",
                                                                 "--max-tx-rate", "--ttl", "--request-id", "--device-user", "--device-group"]),
                                       flags: doorFlags.union(["--json"])),
              let pool = parsed.values["--pool"], let owner = parsed.values["--owner"]
        else { return nil }
        return checked {
            let v = parsed.values
            // ArgumentParser reads an Int option with Int(_:); a value it refuses goes back to it.
            func integer(_ name: String) throws -> Int? {
                guard let text = v[name] else { return nil }
                guard let n = Int(text) else { throw ValidationError("\(name) \(text)") }
                return n
            }
            var invocation = LeaseAcquireInvocation(pool: pool, owner: owner)
            invocation.count = try integer("--count")
            invocation.consumer = try v["--consumer"].map(Parse.consumer)
            invocation.numa = try integer("--numa")
            invocation.placement = v["--placement"] ?? "pack"
            invocation.mac = try v["--mac"].map(Parse.mac)
            invocation.vlan = try v["--vlan"].map(Parse.vlanID)
            invocation.qos = try v["--qos"].map(Parse.qos)
            invocation.trust = try v["--trust"].map(Parse.onOff("--trust"))
            invocation.spoofCheck = try v["--spoofchk"].map(Parse.onOff("--spoofchk"))
            invocation.minTxRate = try v["--min-tx-rate"].map(Parse.rate("--min-tx-rate"))
            invocation.maxTxRate = try v["--max-tx-rate"].map(Parse.rate("--max-tx-rate"))
            invocation.ttl = try v["--ttl"].map(TTLText.seconds)
            invocation.requestID = v["--request-id"]
            invocation.deviceUser = v["--device-user"]
            invocation.deviceGroup = v["--device-group"]
            invocation.json = parsed.flags.contains("--json")
            (invocation.host, invocation.configPath, invocation.door) = frontDoor(parsed)
            return invocation
        }
    }

    /// `sriovctl lease release <lease> [options]`: the arguments after `lease release`.
    static func leaseRelease(_ arguments: ArraySlice<String>) -> LeaseReleaseInvocation? {
        guard let parsed = LongOptions(arguments, positionals: 1, valued: doorValued, flags: doorFlags) else { return nil }
        return checked {
            let (host, configPath, door) = frontDoor(parsed)
            return LeaseReleaseInvocation(id: try Parse.wrap { () throws(SRIOVError) in try LeaseID(parsing: parsed.positionals[0]) },
                                          host: host, configPath: configPath, door: door)
        }
    }

    /// Runs the command line if the fast path takes it: its exit status, or nil for ArgumentParser.
    static func run(_ arguments: [String]) async -> Int32? {
        guard arguments.count >= 2 else { return nil }
        let rest = arguments.dropFirst(2)
        let invocation: (any FastInvocation)? = switch (arguments[0], arguments[1]) {
        case ("vf", "set"): vfSet(rest)
        case ("lease", "acquire"): leaseAcquire(rest)
        case ("lease", "release"): leaseRelease(rest)
        default: nil
        }
        guard let invocation else { return nil }
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

/// A command line the fast path parsed: the values ArgumentParser's command would hold, checked and
/// run the same way.
protocol FastInvocation: Sendable {
    var host: HostChoice { get }
    func validate() throws
    func run() async throws
}

extension VFSetInvocation: FastInvocation {}
extension LeaseAcquireInvocation: FastInvocation {}
extension LeaseReleaseInvocation: FastInvocation {}

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
