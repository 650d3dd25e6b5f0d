/// Applies `VFSettings` to one VF through a `VFLinkControl`: checks the VF exists, hands the link one
/// request per setting in the fixed order of `VFSettings.Field` (which may send several in one message),
/// explains a refusal in the operator's terms,
/// then reads everything back and fails on the first field that does not read as written.
public struct VFConfigurator: Sendable {
    public let link: any VFLinkControl

    public init(link: any VFLinkControl) {
        self.link = link
    }

    /// The PF as messages name it, and its driver (for driver-specific advice).
    public struct Target: Sendable {
        public var interface: InterfaceName
        public var label: String
        public var driver: String?

        public init(interface: InterfaceName, label: String, driver: String?) {
            self.interface = interface
            self.label = label
            self.driver = driver
        }
    }

    /// Applies and verifies; returns the PF's VF list as read back after the change. `before` is the
    /// PF's VF list when the caller has just read it (saves one RTM_GETLINK).
    @discardableResult
    public func apply(_ settings: VFSettings, vf: Int, on pf: Target, before known: VFReadout? = nil) async throws(SRIOVError) -> VFReadout {
        try settings.validate()
        let before: VFReadout
        if let known { before = known } else { before = try await link.readVFs(pf: pf.interface) }
        try VFIndex(vf).check(numVFs: before.numVFs, pf: pf.label)
        let current = before.vf(vf)
        let requests = VFConfigurator.requests(for: settings, current: current)
        if let (index, error) = await link.apply(requests, vf: vf, pf: pf.interface) {
            throw VFSettingError.explain(error, request: requests[index], vf: vf, pf: pf, pfOperState: before.operState)
        }
        if settings.isEmpty { return before }
        let after = try await link.readVFs(pf: pf.interface)
        guard let state = after.vf(vf) else {
            throw SRIOVError(.verificationFailed, "\(pf.label) VF \(vf): the settings were applied but the kernel's VF list no longer shows this VF (list cut short at \(after.vfs.count) of \(after.numVFs)); check with `ip -d link show \(pf.interface)`")
        }
        try VFConfigurator.verify(settings, against: state, vf: vf, pf: pf)
        return after
    }

    /// The requests for `settings`, in application order. Rates go as one request: the kernel wants
    /// min and max together, so the one not given keeps its current value.
    public static func requests(for settings: VFSettings, current: VFState?) -> [VFSettingRequest] {
        settings.fields.compactMap { field -> VFSettingRequest? in
            switch field {
            case .mac: return settings.mac.map { .mac($0) }
            case .vlan: return settings.vlan.map { .vlan($0) }
            case .rate:
                return .rate(min: settings.minTxRate ?? current?.minTxRate ?? 0,
                             max: settings.maxTxRate ?? current?.maxTxRate ?? 0)
            case .spoofCheck: return settings.spoofCheck.map { .spoofCheck($0) }
            case .trust: return settings.trust.map { .trust($0) }
            case .linkState: return settings.linkState.map { .linkState($0) }
            case .queryRSS: return settings.queryRSS.map { .queryRSS($0) }
            }
        }
    }

    /// Compares what was asked with what the kernel reports; the first difference is the error.
    public static func verify(_ settings: VFSettings, against state: VFState, vf: Int, pf: Target) throws(SRIOVError) {
        func mismatch(_ field: String, _ wanted: String, _ actual: String) -> SRIOVError {
            SRIOVError(.verificationFailed, "\(pf.label) VF \(vf): \(field) reads back as \(actual), not \(wanted) as set; the driver\(pf.driver.map { " (\($0))" } ?? "") accepted the request but did not apply it")
        }
        if let first = settings.differences(from: state).first { throw mismatch(first.field, first.wanted, first.actual) }
    }
}

/// Turns a kernel refusal of one VF setting into what happened and what to do.
public enum VFSettingError {
    public static func explain(_ error: SRIOVError, request: VFSettingRequest, vf: Int, pf: VFConfigurator.Target,
                               pfOperState: String?) -> SRIOVError {
        let driver = pf.driver ?? "of this PF"
        let prefix = "\(pf.label) VF \(vf): cannot set \(request)"
        guard let errno = error.errno else {
            return SRIOVError(error.code, "\(prefix): \(error.message)", cause: error.cause)
        }
        let why: String
        var code = SRIOVError.Code.kernelRefused
        switch (errno, request) {
        case (Errno.EOPNOTSUPP, .linkState):
            why = "driver \(driver) does not support VF link state (EOPNOTSUPP); leave it at auto"
            code = .unsupported
        case (Errno.EOPNOTSUPP, .trust):
            why = "driver \(driver) does not support VF trust (EOPNOTSUPP)"
            code = .unsupported
        case (Errno.EOPNOTSUPP, .spoofCheck):
            why = "driver \(driver) does not support VF spoof checking (EOPNOTSUPP)"
            code = .unsupported
        case (Errno.EOPNOTSUPP, .queryRSS):
            why = "driver \(driver) does not support query_rss (EOPNOTSUPP)"
            code = .unsupported
        case (Errno.EOPNOTSUPP, _):
            why = "driver \(driver) does not support this VF setting (EOPNOTSUPP)"
            code = .unsupported
        case (Errno.EINVAL, .rate(let min, let max)) where min > 0:
            why = "driver \(driver) rejects min_tx_rate (EINVAL; Intel NICs commonly do); use --min-tx-rate 0" + (max > 0 ? " and keep max_tx_rate \(max)" : "")
        case (Errno.EINVAL, .rate) where pfOperState != nil && pfOperState != "up":
            why = "driver \(driver) rejects max_tx_rate while the PF link is \(pfOperState ?? "down") (EINVAL; igb needs the PF up): bring \(pf.interface) up first"
        case (Errno.EINVAL, .rate):
            why = "driver \(driver) rejects this rate (EINVAL): above the link speed, or below what the hardware can shape"
        case (Errno.EINVAL, .mac(let m)) where m.isZero:
            why = "driver \(driver) rejects the all-zero MAC (EINVAL); to clear, set \(MACAddress.scrubPlaceholder) instead"
        case (Errno.EINVAL, _):
            why = "the driver \(driver) rejects the value (EINVAL)"
        case (Errno.EPROTONOSUPPORT, .vlan(let v)):
            why = "driver \(driver) does not support \(v.proto) port VLANs (EPROTONOSUPPORT); use 802.1Q"
            code = .unsupported
        case (Errno.EPERM, _), (Errno.EACCES, _):
            why = "not permitted (\(Errno.name(errno))): changing VF settings needs root or CAP_NET_ADMIN"
            code = .permissionDenied
        case (Errno.EBUSY, _):
            why = "the device is busy (EBUSY); the driver may be resetting the VF: retry"
            code = .busy
        case (Errno.ENODEV, _):
            why = "the PF or VF went away (ENODEV)"
            code = .notFound
        default:
            why = error.message
        }
        return SRIOVError(code, "\(prefix): \(why)", cause: error.cause)
    }
}
