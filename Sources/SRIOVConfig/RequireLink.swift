import SRIOVCore

/// A pool's `require_link`: whether a VF of a PF without carrier may go into a new lease. Only PFs
/// with a network interface have a link, so it matters only for NIC pools (VFs of a PF with a netdev);
/// VFs of an NVMe PF are offered either way.
public enum RequireLink: String, Sendable, Equatable, CaseIterable {
    /// Leave VFs of a PF with no carrier (cable out, switch port down, the PF set down) out of new
    /// leases; the default.
    case up
    /// Offer them regardless (a lab, or a VM that only talks to other VFs of the same PF).
    case any

    static func parse(_ value: YAMLValue) throws(SRIOVError) -> RequireLink {
        let text = try value.string("require_link")
        guard let choice = RequireLink(rawValue: text) else {
            throw value.fail("unknown require_link \(Quote.shell(text)); use up (VFs of a PF without carrier are kept out of new leases, the default) or any")
        }
        return choice
    }
}
