/// One VF setting, as one RTM_SETLINK request carries it.
public enum VFSettingRequest: Sendable, Equatable, CustomStringConvertible {
    case mac(MACAddress)
    case vlan(VLAN)
    /// min and max in Mbit/s; the kernel takes both at once (IFLA_VF_RATE).
    case rate(min: UInt32, max: UInt32)
    case spoofCheck(Bool)
    case trust(Bool)
    case linkState(VFLinkState)
    case queryRSS(Bool)

    public var field: VFSettings.Field {
        switch self {
        case .mac: return .mac
        case .vlan: return .vlan
        case .rate: return .rate
        case .spoofCheck: return .spoofCheck
        case .trust: return .trust
        case .linkState: return .linkState
        case .queryRSS: return .queryRSS
        }
    }

    /// As iproute2 would spell it after `vf N`.
    public var description: String {
        func onOff(_ b: Bool) -> String { b ? "on" : "off" }
        switch self {
        case .mac(let m): return "mac \(m)"
        case .vlan(let v): return v.description
        case .rate(let min, let max): return "min_tx_rate \(min) max_tx_rate \(max)"
        case .spoofCheck(let b): return "spoofchk \(onOff(b))"
        case .trust(let b): return "trust \(onOff(b))"
        case .linkState(let s): return "state \(s)"
        case .queryRSS(let b): return "query_rss \(onOff(b))"
        }
    }
}

/// All VFs of one PF as the kernel reports them in one RTM_GETLINK.
public struct VFReadout: Sendable, Codable, Equatable {
    public var interface: InterfaceName
    /// IFLA_NUM_VF: how many VFs the PF has.
    public var numVFs: Int
    /// The VFs the kernel described, by index.
    public var vfs: [VFState]
    /// VF indexes below `numVFs` the kernel's reply left out (IFLA_VFINFO_LIST cut short); never dropped
    /// silently: callers show them as unknown.
    public var missing: [Int]
    /// The nested list's 16-bit length wrapped and sriovd walked the entries past it.
    public var recoveredPastTruncatedLength: Bool
    /// The PF's own link is up (IFF_UP and carrier as operstate), if known.
    public var operState: String?

    public init(interface: InterfaceName, numVFs: Int, vfs: [VFState], missing: [Int] = [],
                recoveredPastTruncatedLength: Bool = false, operState: String? = nil) {
        self.interface = interface
        self.numVFs = numVFs
        self.vfs = vfs
        self.missing = missing
        self.recoveredPastTruncatedLength = recoveredPastTruncatedLength
        self.operState = operState
    }

    public func vf(_ index: Int) -> VFState? { vfs.first { $0.index == index } }
}

/// The netlink side of a PF: read every VF's settings, change one setting of one VF.
///
/// Implemented by `SRIOVNetlink.NetlinkVFLink` (libnl, the real kernel) and by
/// `SRIOVSimulator.SimulatedHost` (netlink/<pf>.state, with per-driver quirks).
public protocol VFLinkControl: Sendable {
    /// Equivalent to: `ip -d link show <pf>` (RTM_GETLINK with RTEXT_FILTER_VF).
    func readVFs(pf: InterfaceName) async throws(SRIOVError) -> VFReadout
    /// Equivalent to: `ip link set <pf> vf <n> <setting>` (one RTM_SETLINK). Errors carry the errno.
    func apply(_ request: VFSettingRequest, vf: Int, pf: InterfaceName) async throws(SRIOVError)
    /// Applies `requests` in order and stops at the first refusal, whose position and error it returns
    /// (nil: all applied). Equivalent to one `ip link set <pf> vf <n> ...` per request.
    func apply(_ requests: [VFSettingRequest], vf: Int, pf: InterfaceName) async -> (index: Int, error: SRIOVError)?
}

extension VFLinkControl {
    /// One RTM_SETLINK per request; an implementation that can apply several at once overrides it.
    public func apply(_ requests: [VFSettingRequest], vf: Int, pf: InterfaceName) async -> (index: Int, error: SRIOVError)? {
        for (index, request) in requests.enumerated() {
            do { try await apply(request, vf: vf, pf: pf) } catch { return (index, error) }
        }
        return nil
    }
}
