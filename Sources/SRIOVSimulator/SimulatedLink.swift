import SRIOVCore
import SRIOVSysfs

/// The simulated kernel's netlink side: VF settings live in `netlink/<pf>.table`, and each driver profile's
/// quirks decide what is refused, with the errno the real driver answers.
extension SimulatedHost: VFLinkControl {
    /// Equivalent to: `ip -d link show <pf>` on the simulated host.
    public func readVFs(pf: InterfaceName) async throws(SRIOVError) -> VFReadout {
        guard let link = try loadLink(pf.name) else {
            throw SRIOVError(.notFound, "no network interface named \(pf) in this network namespace; `ip link` lists them", cause: .errno(Errno.ENODEV))
        }
        let profile = spec.pfs.first { $0.interface == pf.name }.flatMap { spec.profile(named: $0.profile) }
        let vfs = link.vfs.map { state -> VFState in
            var s = state
            // Drivers that do not report a setting answer -1, which reads as "unreported".
            if profile?.supportsLinkState == false { s.linkState = nil }
            return s
        }
        return VFReadout(interface: pf, numVFs: link.vfs.count, vfs: vfs, operState: link.up ? "up" : "down")
    }

    /// Equivalent to: `ip link set <pf> vf <n> ...` on the simulated host, refused as the driver would.
    public func apply(_ request: VFSettingRequest, vf: Int, pf: InterfaceName) async throws(SRIOVError) {
        if let (_, error) = await apply([request], vf: vf, pf: pf) { throw error }
    }

    /// Several settings under one lock and one state write, each checked as its own RTM_SETLINK would be:
    /// the ones before a refusal stay applied, as they would on a kernel.
    public func apply(_ requests: [VFSettingRequest], vf: Int, pf: InterfaceName) async -> (index: Int, error: SRIOVError)? {
        do throws(SRIOVError) {
            return try withLinksLock { () throws(SRIOVError) -> (index: Int, error: SRIOVError)? in
                guard var link = try loadLink(pf.name) else {
                    return (0, SRIOVError(.notFound, "no network interface named \(pf)", cause: .errno(Errno.ENODEV)))
                }
                let profile = spec.pfs.first { $0.interface == pf.name }.flatMap { spec.profile(named: $0.profile) }
                    ?? DriverProfile.mlx5CX5
                var refusal: (index: Int, error: SRIOVError)?
                for (index, request) in requests.enumerated() {
                    do throws(SRIOVError) {
                        try SimulatedHost.set(request, vf: vf, on: &link, pf: pf, profile: profile)
                    } catch {
                        refusal = (index, error)
                        break
                    }
                }
                if (refusal?.index ?? requests.count) > 0 {
                    try saveLink(pf.name, link)
                    // The kernel sends RTM_NEWLINK with the PF's VF list after a change.
                    SimulatedEventLog.append(directory, [SimulatedEventLog.vfInfo(pf.name)])
                }
                return refusal
            }
        } catch {
            return (0, error)
        }
    }

    /// One RTM_SETLINK's effect on the PF's VF table, with the driver's refusals (the fake host's too).
    public static func set(_ request: VFSettingRequest, vf: Int, on link: inout LinkTable.PFLink, pf: InterfaceName,
                    profile: DriverProfile) throws(SRIOVError) {
        let context = "\(pf) VF \(vf): \(request) (RTM_SETLINK)"
        func refuse(_ errno: Int32) -> SRIOVError {
            SRIOVError(.kernelRefused, "\(context): \(Errno.name(errno))", cause: .errno(errno))
        }
        // The kernel checks the VF index against the driver's count first.
        guard let i = link.vfs.firstIndex(where: { $0.index == vf }) else { throw refuse(Errno.EINVAL) }
        switch request {
        case .mac(let mac):
            if mac.isZero && profile.rejectsZeroMAC { throw refuse(Errno.EINVAL) }
            if mac.isMulticast { throw refuse(Errno.EINVAL) }
            link.vfs[i].mac = mac
        case .vlan(let vlan):
            if vlan.proto == .dot1AD && !profile.supports8021ad { throw refuse(Errno.EPROTONOSUPPORT) }
            link.vfs[i].vlan = vlan
        case .rate(let min, let max):
            if min > 0 && !profile.supportsMinTxRate { throw refuse(Errno.EINVAL) }
            if max > 0 && profile.maxTxRateNeedsLinkUp && !link.up { throw refuse(Errno.EINVAL) }
            if max > 0 && min > max { throw refuse(Errno.EINVAL) }
            link.vfs[i].minTxRate = min
            link.vfs[i].maxTxRate = max
        case .spoofCheck(let on):
            link.vfs[i].spoofCheck = on
        case .trust(let on):
            link.vfs[i].trust = on
        case .linkState(let state):
            if !profile.supportsLinkState { throw refuse(Errno.EOPNOTSUPP) }
            link.vfs[i].linkState = state
        case .queryRSS(let on):
            link.vfs[i].queryRSS = on
        }
    }
}
