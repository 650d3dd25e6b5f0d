import SRIOVCore

/// The state a PF should be in (`pfs:` entries): how many VFs it has and whether new VFs are bound to a
/// host driver as they are born. `sriovd apply` makes the host match; pools are checked against it.
public struct PFDesired: Sendable, Equatable {
    /// Netdev name or PCI address of the PF.
    public var pf: String
    /// `sriov_numvfs` to create.
    public var numVFs: Int
    /// `sriov_drivers_autoprobe`; nil leaves it as it is. Pooled PFs want `false`: a VF bound to the host
    /// driver at birth would have to be unbound before its first lease.
    public var autoprobe: Bool?

    public init(pf: String, numVFs: Int, autoprobe: Bool? = nil) {
        self.pf = pf
        self.numVFs = numVFs
        self.autoprobe = autoprobe
    }
}

extension PFDesired {
    static let keys = ["pf", "num_vfs", "autoprobe"]

    static func parse(_ value: YAMLValue) throws(SRIOVError) -> PFDesired {
        let map = try value.mapping("a pfs: entry", keys: keys)
        let pf = try PFReference.parse(map.required("pf", "name the PF by netdev (ens1f0) or PCI address (0000:3b:00.0)"))
        let numVFs = try map.required("num_vfs", "say how many VFs the PF should have (0 for none)")
            .int("num_vfs", in: 0...VFIndex.maxValue + 1)
        let autoprobe = try map.optional("autoprobe") { v throws(SRIOVError) in try v.bool("autoprobe") }
        return PFDesired(pf: pf, numVFs: numVFs, autoprobe: autoprobe)
    }
}

/// A PF named in the config: a PCI address or a netdev name, checked for shape at parse time (so nothing
/// like `../` gets further) and looked up on the host at resolve time.
enum PFReference {
    static func parse(_ value: YAMLValue) throws(SRIOVError) -> String {
        try check(value.string("a PF (netdev name or PCI address)"), at: value)
    }

    /// Returns the canonical spelling: a PCI address in the kernel's form, an interface name as given.
    static func check(_ text: String, at value: YAMLValue) throws(SRIOVError) -> String {
        do throws(SRIOVError) {
            // Interface names cannot contain ':', PCI addresses always do.
            if text.contains(":") { return try PCIAddress(parsing: text).description }
            return try InterfaceName(parsing: text).name
        } catch {
            throw value.fail(error)
        }
    }
}
