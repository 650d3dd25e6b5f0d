import SRIOVCore

/// The body of `PUT /v1/pfs/{pf}/numvfs`: `sriovctl pf set-numvfs`'s arguments.
public struct NumVFsBody: Codable, Sendable, Equatable {
    public var numvfs: Int
    public var autoprobe: Bool?
    /// Write the management NIC or a protected PF, remove VFs bound to vfio-pci outside sriovd, or remove
    /// leased VFs (their leases are then marked lost).
    public var force: Bool?
    /// How long to wait for the new VFs to appear (default 120 s, at most 3600).
    public var timeoutSeconds: Int?

    enum CodingKeys: String, CodingKey, CaseIterable { case numvfs, autoprobe, force, timeoutSeconds }

    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, allowed: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        numvfs = try c.decodeInteger(Int.self, forKey: .numvfs, in: 0...Int.max, hint: "at most the PF's sriov_totalvfs; 0 removes every VF")
        autoprobe = try c.decodeIfPresent(Bool.self, forKey: .autoprobe)
        force = try c.decodeIfPresent(Bool.self, forKey: .force)
        timeoutSeconds = try c.decodeIntegerIfPresent(Int.self, forKey: .timeoutSeconds, in: 1...3600, hint: "seconds")
    }

    public init(numvfs: Int, autoprobe: Bool?, force: Bool?, timeoutSeconds: Int? = nil) {
        self.numvfs = numvfs
        self.autoprobe = autoprobe
        self.force = force
        self.timeoutSeconds = timeoutSeconds
    }

    /// `timeoutSeconds` checked (1-3600 s), or the default 120 s.
    public func timeout() throws(SRIOVError) -> Duration {
        guard let timeoutSeconds else { return .seconds(120) }
        guard (1...3600).contains(timeoutSeconds) else {
            throw SRIOVError(.invalidArgument, "invalid timeoutSeconds \(timeoutSeconds): use whole seconds from 1 to 3600")
        }
        return .seconds(timeoutSeconds)
    }
}

/// The body of `PATCH /v1/pfs/{pf}/vfs/{n}`: `sriovctl vf set`'s settings, spelled as in a lease
/// request's `settings` (and `pf show --json`). Unknown keys are refused.
public struct VFSettingsBody: Codable, Sendable, Equatable {
    public var mac: String?
    public var vlan: Int?
    public var qos: Int?
    public var vlanProto: String?
    public var spoofCheck: Bool?
    public var trust: Bool?
    public var linkState: String?
    public var minTxRate: UInt32?
    public var maxTxRate: UInt32?
    public var queryRSS: Bool?
    /// Change a VF of the management NIC or of a protected PF, or one a lease holds (the lease is then
    /// marked drifted) or that is free in a pool (it is then quarantined until unquarantined).
    public var force: Bool?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case mac, vlan, qos, vlanProto, spoofCheck, trust, linkState, minTxRate, maxTxRate, queryRSS, force
    }

    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, allowed: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mac = try c.decodeIfPresent(String.self, forKey: .mac)
        vlan = try c.decodeIntegerIfPresent(Int.self, forKey: .vlan, in: WireVLAN.ids, hint: WireVLAN.idHint)
        qos = try c.decodeIntegerIfPresent(Int.self, forKey: .qos, in: WireVLAN.qosValues)
        vlanProto = try c.decodeIfPresent(String.self, forKey: .vlanProto)
        spoofCheck = try c.decodeIfPresent(Bool.self, forKey: .spoofCheck)
        trust = try c.decodeIfPresent(Bool.self, forKey: .trust)
        linkState = try c.decodeIfPresent(String.self, forKey: .linkState)
        minTxRate = try c.decodeIntegerIfPresent(UInt32.self, forKey: .minTxRate, in: WireRange.rate, hint: WireRange.rateHint)
        maxTxRate = try c.decodeIntegerIfPresent(UInt32.self, forKey: .maxTxRate, in: WireRange.rate, hint: WireRange.rateHint)
        queryRSS = try c.decodeIfPresent(Bool.self, forKey: .queryRSS)
        force = try c.decodeIfPresent(Bool.self, forKey: .force)
    }

    /// The body that asks for `settings` (what `DaemonClient.setVF` sends); a removed VLAN is `vlan: 0`.
    public init(_ s: VFSettings, force: Bool?) {
        mac = s.mac?.description
        (vlan, qos, vlanProto) = WireVLAN.fields(s.vlan)
        spoofCheck = s.spoofCheck
        trust = s.trust
        linkState = s.linkState?.rawValue
        minTxRate = s.minTxRate
        maxTxRate = s.maxTxRate
        queryRSS = s.queryRSS
        self.force = force
    }

    /// The settings to apply; a VLAN id of 0 removes the VLAN, as with `ip link`.
    public func settings() throws(SRIOVError) -> VFSettings {
        var s = VFSettings()
        s.vlan = try WireVLAN.parse(vlan: vlan, qos: qos, proto: vlanProto)
        if let mac { s.mac = try MACAddress(parsing: mac) }
        s.spoofCheck = spoofCheck
        s.trust = trust
        if let linkState { s.linkState = try VFLinkState(parsing: linkState) }
        s.minTxRate = minTxRate
        s.maxTxRate = maxTxRate
        s.queryRSS = queryRSS
        if s.isEmpty {
            throw SRIOVError(.invalidArgument, "nothing to set: give at least one of mac, vlan, spoofCheck, trust, linkState, minTxRate, maxTxRate, queryRSS")
        }
        try s.validate()
        return s
    }
}
