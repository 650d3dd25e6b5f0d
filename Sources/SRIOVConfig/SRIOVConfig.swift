import SRIOVCore
import Yams

/// `sriovd.yaml`: the PFs' desired state, the PFs sriovd must never write, and the pools leases come from.
///
/// Parsing checks everything that can be checked without a host (types, ranges, unknown keys, duplicate
/// pool names, a pool's defaults against its own policy); `resolve(against:)` binds the pools to a host's
/// VFs and checks the rest. Every error names the file, the key path, the line, the reason and the fix.
///
/// Adding a section (the daemon's `api:`, `tenants:`, ...): add a stored property, its key to
/// `SRIOVConfig.keys`, and one line in `parse(yaml:source:)` that hands the key's `YAMLValue` to the
/// section's own `parse`; unknown-key checks, locations and messages come with `YAMLValue`.
public struct SRIOVConfig: Sendable, Equatable {
    /// The file it came from (`<built-in>` for the defaults).
    public var source: String
    /// PF netdev names or PCI addresses that sriovd never writes without --force.
    public var protectedPFs: [String]
    public var pfs: [PFDesired]
    public var pools: [PoolConfig]
    /// Who may use the daemon's API (nil: no `access:` section, the daemon's built-in policy).
    public var access: AccessConfig?

    public static let defaultPath = DefaultPaths.config

    /// Lines of the parsed key paths, for errors found at `resolve` time.
    var lines = LineTable()

    public init(source: String = "<built-in>", protectedPFs: [String] = [], pfs: [PFDesired] = [],
                pools: [PoolConfig] = []) {
        self.source = source
        self.protectedPFs = protectedPFs
        self.pfs = pfs
        self.pools = pools
    }

    /// The configuration with no file: no desired PF state, nothing protected beyond the management NIC
    /// (which the caller adds), no pools.
    public static let builtIn = SRIOVConfig()

    public static func == (lhs: SRIOVConfig, rhs: SRIOVConfig) -> Bool {
        lhs.source == rhs.source && lhs.protectedPFs == rhs.protectedPFs && lhs.pfs == rhs.pfs && lhs.pools == rhs.pools
            && lhs.access == rhs.access
    }

    static let keys = ["protected_pfs", "pfs", "pools", "access"]

    /// Reads and parses the file at `path`.
    public static func load(path: String) throws(SRIOVError) -> SRIOVConfig {
        try parse(yaml: ConfigFile.read(path), source: path)
    }

    /// Parses YAML text; `source` names it in errors. An empty document is a valid config with no pools.
    public static func parse(yaml: String, source: String) throws(SRIOVError) -> SRIOVConfig {
        let context = ParseContext(source: source)
        guard let root = try YAMLSyntax.compose(yaml, source: source) else {
            return SRIOVConfig(source: source)
        }
        let document = YAMLValue(node: root, location: ConfigLocation(path: "", line: root.mark?.line), context: context)
        let map = try document.mapping("the top level of the config", keys: keys)
        var config = SRIOVConfig(source: source)
        if let value = map["protected_pfs"] {
            config.protectedPFs = try value.listOrScalar("protected_pfs").map { v throws(SRIOVError) in
                try PFReference.parse(v)
            }
        }
        if let items = try map["pfs"]?.list("pfs") {
            config.pfs = try items.map { v throws(SRIOVError) in try PFDesired.parse(v) }
            try checkUnique(items, config.pfs.map(\.pf), what: "PF", hint: "merge the two entries")
        }
        if let items = try map["pools"]?.list("pools") {
            config.pools = try items.map { v throws(SRIOVError) in try PoolConfig.parse(v) }
            try checkUnique(items, config.pools.map(\.name), what: "pool name", hint: "pool names must be unique; rename one")
        }
        if let value = map["access"] {
            config.access = try AccessConfig.parse(value, pools: config.pools.map(\.name))
        }
        config.lines = context.lines
        return config
    }

    /// Refuses the second of two equal entries of a list, naming both.
    private static func checkUnique(_ items: [YAMLValue], _ names: [String], what: String, hint: String) throws(SRIOVError) {
        var first: [String: Int] = [:]
        for (i, name) in names.enumerated() {
            if let earlier = first[name] {
                throw items[i].fail("\(what) \(Quote.shell(name)) is already used by \(items[earlier].location); \(hint)")
            }
            first[name] = i
        }
    }
}

extension SRIOVConfig {
    /// Marks `target` protected when `protected_pfs` names it (by netdev or PCI address): the one
    /// reading of that list for the CLI and the daemon.
    public func markProtection(_ target: inout PFTarget) {
        let names = Set([target.device.description] + (target.interface.map { [$0.name] } ?? []))
        if protectedPFs.contains(where: { names.contains($0) || PCIAddress($0)?.description == target.device.description }) {
            target.protectedByConfig = source
        }
    }
}
