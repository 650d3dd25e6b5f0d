import SRIOVCore

/// One pool: which VFs it holds, what a lease from it gets by default, what a request may ask, and what
/// happens to a VF when its lease ends.
public struct PoolConfig: Sendable, Equatable {
    /// `[a-z0-9][a-z0-9_-]{0,62}`: safe in URLs, metrics labels and file names.
    public var name: String
    public var selectors: [PoolSelector]
    /// Settings every lease from this pool gets unless the request overrides them.
    public var defaults: VFSettings
    public var policy: PoolPolicy
    public var onRelease: ReleaseAction
    /// What a leased VF's drift leads to (`on_drift:`, `DriftAction.default` when left out).
    public var onDrift: DriftAction = .default
    /// Whether VFs of a PF without carrier may go into new leases (`require_link`, default `up`).
    public var requireLink: RequireLink

    public init(name: String, selectors: [PoolSelector], defaults: VFSettings = VFSettings(),
                policy: PoolPolicy = PoolPolicy(), onRelease: ReleaseAction = .leaveUnbound, requireLink: RequireLink = .up) {
        self.name = name
        self.selectors = selectors
        self.defaults = defaults
        self.policy = policy
        self.onRelease = onRelease
        self.requireLink = requireLink
    }

    /// Checks a pool name; the reason is nil when it is valid.
    public static func nameProblem(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty else { return "it is empty" }
        guard bytes.count <= 63 else { return "it is \(bytes.count) characters; at most 63 are allowed" }
        let lowerOrDigit = { (b: UInt8) in (0x61...0x7a).contains(b) || (0x30...0x39).contains(b) }
        guard lowerOrDigit(bytes[0]) else { return "it must start with a lower-case letter or a digit" }
        for b in bytes where !(lowerOrDigit(b) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")) {
            return "it contains \(Quote.shell(String(decoding: [b], as: UTF8.self))); use lower-case letters, digits, '_' and '-'"
        }
        return nil
    }
}

extension PoolConfig {
    static let keys = ["name", "selectors", "defaults", "policy", "on_release", "on_drift", "require_link"]

    static func parse(_ value: YAMLValue) throws(SRIOVError) -> PoolConfig {
        let map = try value.mapping("a pool", keys: keys)
        let nameValue = try map.required("name", "give the pool a name such as uplink")
        let name = try nameValue.string("a pool name")
        if let problem = nameProblem(name) {
            throw nameValue.fail("invalid pool name \(Quote.shell(name)): \(problem) (pattern [a-z0-9][a-z0-9_-]{0,62})")
        }
        let selectorsValue = try map.required("selectors", "say which VFs the pool holds, e.g. - vfs: \"ens1f0#0-7\"")
        let selectors = try selectorsValue.list("selectors").map { v throws(SRIOVError) in try PoolSelector.parse(v) }
        guard !selectors.isEmpty else {
            throw selectorsValue.fail("a pool needs at least one selector, e.g. - vfs: \"ens1f0#0-7\"")
        }
        let defaults = try map.optional("defaults") { v throws(SRIOVError) in try PoolDefaults.parse(v) } ?? VFSettings()
        let policy = try map.optional("policy") { v throws(SRIOVError) in try PoolPolicy.parse(v) } ?? PoolPolicy()
        let onRelease = try map.optional("on_release") { v throws(SRIOVError) -> ReleaseAction in
            let text = try v.string("a release action")
            guard let action = ReleaseAction(rawValue: text) else {
                throw v.fail("unknown on_release \(Quote.shell(text)); use leave-unbound or rebind-host-driver")
            }
            return action
        } ?? .leaveUnbound
        let requireLink = try map.optional("require_link") { v throws(SRIOVError) in try RequireLink.parse(v) } ?? .up
        var pool = PoolConfig(name: name, selectors: selectors, defaults: defaults, policy: policy, onRelease: onRelease,
                              requireLink: requireLink)
        pool.onDrift = try map.optional("on_drift") { v throws(SRIOVError) -> DriftAction in
            let text = try v.string("a drift action")
            guard let action = DriftAction(rawValue: text) else {
                throw v.fail("unknown on_drift \(Quote.shell(text)); use restore (put the lease's settings back), quarantine or report")
            }
            return action
        } ?? .default
        try pool.checkDefaultsAgainstPolicy(map)
        try pool.checkWholeDevices(map, selectorsValue)
        if pool.wholeDevices { pool.onRelease = .rebindHostDriver }
        return pool
    }

    /// True when the pool holds whole PCI functions (`devices:` selectors) rather than VFs.
    public var wholeDevices: Bool { selectors.contains { !$0.devices.isEmpty } }

    /// A pool of whole devices: only `devices:` selectors, no VF settings, and the host driver back on
    /// release (a PF left driverless loses its netdev or namespaces).
    func checkWholeDevices(_ map: YAMLMapping, _ selectorsValue: YAMLValue) throws(SRIOVError) {
        guard wholeDevices else { return }
        if selectors.contains(where: { $0.devices.isEmpty }) {
            throw selectorsValue.fail("pool \(name) mixes devices: (whole PCI functions) with VF selectors; a pool holds either VFs or whole devices: put them in two pools")
        }
        if let d = map["defaults"], !defaults.isEmpty {
            throw d.fail("pool \(name) holds whole devices (devices:), and VF settings (defaults:) do not apply to them; remove defaults:")
        }
        if let r = map["on_release"], onRelease == .leaveUnbound {
            throw r.fail("pool \(name) holds whole devices (devices:), which always get their host driver back on release; remove on_release: or write rebind-host-driver")
        }
    }

    /// A pool's defaults must be something its own policy allows.
    private func checkDefaultsAgainstPolicy(_ map: YAMLMapping) throws(SRIOVError) {
        let defaultsMap = try map["defaults"].map { v throws(SRIOVError) in try v.mapping("a pool's defaults", keys: PoolDefaults.keys) }
        if let vlan = defaults.vlan, !policy.allows(vlan: Int(vlan.id)) {
            let at = defaultsMap?["vlan"] ?? map.owner
            throw at.fail("default VLAN \(vlan.id) is not in the pool's own policy.vlans (\(policy.allowedVLANsDescription)); add it to policy.vlans or change the default")
        }
        if let mac = defaults.mac, !mac.isZero, !policy.allows(mac: mac) {
            let at = defaultsMap?["mac"] ?? map.owner
            throw at.fail("default MAC \(mac) does not start with any of the pool's policy.mac_prefixes (\(policy.macPrefixes.joined(separator: ", "))); change the default or add its prefix")
        }
    }
}
