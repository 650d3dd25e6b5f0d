import SRIOVCore

/// The body of `POST /v1/leases`: the CLI's `lease acquire` fields. Unknown keys are refused, so a typo
/// (`vlna`) never silently leases a VF without the VLAN the caller meant.
/// `sriovctl` and `DaemonClient` send it; sriovd decodes it: one type for both ends.
public struct AcquireBody: Codable, Sendable, Equatable {
    public struct Settings: Codable, Sendable, Equatable {
        public var mac: String?
        public var vlan: Int?
        public var qos: Int?
        public var vlanProto: String?
        public var spoofCheck: Bool?
        public var trust: Bool?
        public var minTxRate: UInt32?
        public var maxTxRate: UInt32?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case mac, vlan, qos, vlanProto, spoofCheck, trust, minTxRate, maxTxRate
        }

        public init(from decoder: any Decoder) throws {
            try StrictKeys.check(decoder, allowed: CodingKeys.allCases.map(\.rawValue))
            let c = try decoder.container(keyedBy: CodingKeys.self)
            mac = try c.decodeIfPresent(String.self, forKey: .mac)
            vlan = try c.decodeIfPresent(Int.self, forKey: .vlan)
            qos = try c.decodeIfPresent(Int.self, forKey: .qos)
            vlanProto = try c.decodeIfPresent(String.self, forKey: .vlanProto)
            spoofCheck = try c.decodeIfPresent(Bool.self, forKey: .spoofCheck)
            trust = try c.decodeIfPresent(Bool.self, forKey: .trust)
            minTxRate = try c.decodeIfPresent(UInt32.self, forKey: .minTxRate)
            maxTxRate = try c.decodeIfPresent(UInt32.self, forKey: .maxTxRate)
        }

        public init() {}

        /// A lease request's settings on the wire; nil when the request sets none.
        public init?(_ s: VFSettings) {
            mac = s.mac?.description
            (vlan, qos, vlanProto) = WireVLAN.fields(s.vlan)
            spoofCheck = s.spoofCheck
            trust = s.trust
            minTxRate = s.minTxRate
            maxTxRate = s.maxTxRate
            if self == Settings() { return nil }
        }
    }

    public var pool: String
    public var owner: String
    public var count: Int?
    public var numaNode: Int?
    public var placement: String?
    public var settings: Settings?
    public var ttlSeconds: Int?
    public var requestId: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case pool, owner, count, numaNode, placement, settings, ttlSeconds, requestId
    }

    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, allowed: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        pool = try c.decode(String.self, forKey: .pool)
        owner = try c.decode(String.self, forKey: .owner)
        count = try c.decodeIfPresent(Int.self, forKey: .count)
        numaNode = try c.decodeIfPresent(Int.self, forKey: .numaNode)
        placement = try c.decodeIfPresent(String.self, forKey: .placement)
        settings = try c.decodeIfPresent(Settings.self, forKey: .settings)
        ttlSeconds = try c.decodeIfPresent(Int.self, forKey: .ttlSeconds)
        requestId = try c.decodeIfPresent(String.self, forKey: .requestId)
    }

    /// The body that asks for `request` (what `DaemonClient.acquire` sends).
    public init(_ request: LeaseRequest) {
        pool = request.pool
        owner = request.owner
        count = request.count
        numaNode = request.numaNode
        placement = request.placement.rawValue
        settings = Settings(request.settings)
        ttlSeconds = request.ttlSeconds
        requestId = request.requestID
    }

    /// The engine's request; `idempotencyKey` (the header) wins over `requestId` only when they agree.
    public func request(idempotencyKey: String?) throws(SRIOVError) -> LeaseRequest {
        if let idempotencyKey, let requestId, idempotencyKey != requestId {
            throw SRIOVError(.invalidArgument, "Idempotency-Key \(Quote.shell(idempotencyKey)) and requestId \(Quote.shell(requestId)) differ; send one of them, or the same value in both")
        }
        let placement: Placement
        if let text = self.placement {
            guard let p = Placement(rawValue: text) else {
                throw SRIOVError(.invalidArgument, "invalid placement \(Quote.shell(text)): use spread or pack")
            }
            placement = p
        } else {
            placement = .pack
        }
        var vf = VFSettings()
        if let s = settings {
            if let mac = s.mac { vf.mac = try MACAddress(parsing: mac) }
            vf.vlan = try WireVLAN.parse(vlan: s.vlan, qos: s.qos, proto: s.vlanProto, field: "settings.")
            vf.spoofCheck = s.spoofCheck
            vf.trust = s.trust
            vf.minTxRate = s.minTxRate
            vf.maxTxRate = s.maxTxRate
        }
        let request = LeaseRequest(pool: pool, owner: owner, count: count ?? 1, numaNode: numaNode, placement: placement,
                                   settings: vf, ttlSeconds: ttlSeconds, requestID: idempotencyKey ?? requestId)
        try request.validate()
        return request
    }
}

/// The body of `POST /v1/leases/{id}/renew` (optional).
public struct RenewBody: Codable, Sendable {
    public var ttlSeconds: Int?

    enum CodingKeys: String, CodingKey, CaseIterable { case ttlSeconds }

    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, allowed: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ttlSeconds = try c.decodeIfPresent(Int.self, forKey: .ttlSeconds)
    }

    public init(ttlSeconds: Int?) { self.ttlSeconds = ttlSeconds }
}

/// A body's `vlan`, `qos` and `vlanProto` fields as one VLAN (`field`: their prefix in the body, for errors).
package enum WireVLAN {
    /// A VLAN as a body's `vlan`, `qos` and `vlanProto` fields (all nil for none).
    package static func fields(_ vlan: VLAN?) -> (vlan: Int?, qos: Int?, proto: String?) {
        guard let vlan else { return (nil, nil, nil) }
        return (Int(vlan.id), Int(vlan.qos), vlan.proto.rawValue)
    }

    package static func parse(vlan: Int?, qos: Int?, proto: String?, field: String = "") throws(SRIOVError) -> VLAN? {
        guard let vlan else {
            if qos != nil || proto != nil {
                throw SRIOVError(.invalidArgument, "\(field)qos and \(field)vlanProto go with \(field)vlan; add \(field)vlan (0 for none)")
            }
            return nil
        }
        let parsed = try proto.map { text throws(SRIOVError) in try VLANProtocol(parsing: text) } ?? .dot1Q
        return try VLAN(id: vlan, qos: qos ?? 0, proto: parsed)
    }
}

package enum StrictKeys {
    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    package static func check(_ decoder: any Decoder, allowed: [String]) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        for key in c.allKeys where !allowed.contains(key.stringValue) {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [key],
                                                    debugDescription: "unknown field; known fields: \(allowed.joined(separator: ", "))"))
        }
    }
}
