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
            vlan = try c.decodeIntegerIfPresent(Int.self, forKey: .vlan, in: WireVLAN.ids, hint: WireVLAN.idHint)
            qos = try c.decodeIntegerIfPresent(Int.self, forKey: .qos, in: WireVLAN.qosValues)
            vlanProto = try c.decodeIfPresent(String.self, forKey: .vlanProto)
            spoofCheck = try c.decodeIfPresent(Bool.self, forKey: .spoofCheck)
            trust = try c.decodeIfPresent(Bool.self, forKey: .trust)
            minTxRate = try c.decodeIntegerIfPresent(UInt32.self, forKey: .minTxRate, in: WireRange.rate, hint: WireRange.rateHint)
            maxTxRate = try c.decodeIntegerIfPresent(UInt32.self, forKey: .maxTxRate, in: WireRange.rate, hint: WireRange.rateHint)
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
    /// `libvirt:<uuid>`, `pid:<pid>[@<starttime>]`, `cgroup:<path>` or `unit:<name>.service`.
    public var consumer: String?
    /// Exactly these VFs (PCI addresses), all from the pool.
    public var vfs: [String]?
    /// Who the VM runs as: a user name or uid, a group name or gid (`/dev/vfio/<group>` is given to them).
    public var deviceUser: String?
    public var deviceGroup: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case pool, owner, count, numaNode, placement, settings, ttlSeconds, requestId, consumer, vfs, deviceUser, deviceGroup
    }

    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, allowed: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        pool = try c.decode(String.self, forKey: .pool)
        owner = try c.decode(String.self, forKey: .owner)
        count = try c.decodeIntegerIfPresent(Int.self, forKey: .count, in: WireRange.count, hint: "VFs in one lease")
        numaNode = try c.decodeIntegerIfPresent(Int.self, forKey: .numaNode, in: 0...Int.max)
        placement = try c.decodeIfPresent(String.self, forKey: .placement)
        settings = try c.decodeIfPresent(Settings.self, forKey: .settings)
        ttlSeconds = try c.decodeIntegerIfPresent(Int.self, forKey: .ttlSeconds, in: WireRange.ttlSeconds, hint: WireRange.ttlHint)
        requestId = try c.decodeIfPresent(String.self, forKey: .requestId)
        consumer = try c.decodeIfPresent(String.self, forKey: .consumer)
        vfs = try c.decodeIfPresent([String].self, forKey: .vfs)
        deviceUser = try c.decodeIfPresent(String.self, forKey: .deviceUser)
        deviceGroup = try c.decodeIfPresent(String.self, forKey: .deviceGroup)
    }

    /// The body that asks for `request` (what `DaemonClient.acquire` sends).
    public init(_ request: LeaseRequest) {
        pool = request.pool
        owner = request.owner
        // Exact VFs carry their count.
        count = request.vfs == nil ? request.count : nil
        numaNode = request.numaNode
        placement = request.placement.rawValue
        settings = Settings(request.settings)
        ttlSeconds = request.ttlSeconds
        requestId = request.requestID
        consumer = request.consumer?.description
        vfs = request.vfs?.map { $0.description }
        deviceUser = request.deviceUser
        deviceGroup = request.deviceGroup
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
        let consumer = try self.consumer.map { text throws(SRIOVError) in try LeaseConsumer(parsing: text) }
        var exact: [PCIAddress]?
        if let vfs {
            if count != nil || numaNode != nil {
                throw SRIOVError(.invalidArgument, "vfs names the VFs, so it goes without \(count != nil ? "count" : "numaNode"): leave \(count != nil ? "count" : "numaNode") out")
            }
            guard !vfs.isEmpty, vfs.count <= WireRange.count.upperBound else {
                throw SRIOVError(.invalidArgument, "invalid vfs: name 1 to \(WireRange.count.upperBound) VFs by PCI address, or leave vfs out for the pool's choice")
            }
            var parsed: [PCIAddress] = []
            for text in vfs {
                do throws(SRIOVError) { parsed.append(try PCIAddress(parsing: text)) } catch {
                    throw SRIOVError(.invalidArgument, "invalid vfs entry \(Quote.shell(text)): \(error.message)")
                }
            }
            exact = parsed
        }
        let request = LeaseRequest(pool: pool, owner: owner, count: count ?? exact?.count ?? 1, numaNode: numaNode, placement: placement,
                                   settings: vf, ttlSeconds: ttlSeconds, requestID: idempotencyKey ?? requestId,
                                   consumer: consumer, vfs: exact, deviceUser: deviceUser, deviceGroup: deviceGroup)
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
        ttlSeconds = try c.decodeIntegerIfPresent(Int.self, forKey: .ttlSeconds, in: WireRange.ttlSeconds, hint: WireRange.ttlHint)
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
    package static func check(_ decoder: any Decoder, allowed: [String]) throws {
        // The body's members, each once: straight from the parsed object when the decoder is sriovd's
        // own (a keyed container's `allKeys` costs a request ~15K instructions of generic conversions).
        let members: [(name: String, isNull: Bool)]
        let path: [any CodingKey]
        if let parsed = CompactJSONDecoder.memberNames(of: decoder) {
            (members, path) = (parsed, decoder.codingPath)
        } else {
            let c = try decoder.container(keyedBy: MemberKey.self)
            members = try c.allKeys.map { key in (key.stringValue, try c.decodeNil(forKey: key)) }
            path = c.codingPath
        }
        if let unknown = members.first(where: { !allowed.contains($0.name) }) {
            throw DecodingError.dataCorrupted(.init(codingPath: path + [MemberKey(stringValue: unknown.name)],
                                                    debugDescription: "unknown field; known fields: \(allowed.joined(separator: ", "))"))
        }
        // No request field is nullable (Docs/openapi.yaml): `"ttlSeconds": null` is refused rather than
        // read as the field left out, which could mean another default than the sender meant.
        if let null = members.first(where: \.isNull) {
            throw DecodingError.dataCorrupted(.init(codingPath: path + [MemberKey(stringValue: null.name)],
                                                    debugDescription: "null is not a value for this field; give a value, or leave the field out for its default"))
        }
    }
}

/// The documented ranges of the bodies' whole-number fields (Docs/openapi.yaml says the same).
package enum WireRange {
    /// VFs in one lease.
    package static let count = 1...64
    /// A lease's TTL: 1 s to 366 days.
    package static let ttlSeconds = 1...(366 * 86400)
    package static let ttlHint = "seconds, up to 366 days"
    /// Mbit/s, as the kernel's IFLA_VF_RATE carries them.
    package static let rate = UInt32.min...UInt32.max
    package static let rateHint = "Mbit/s, 0 for no limit"
}

extension WireVLAN {
    package static let ids = 0...4094
    package static let idHint = "0 for no VLAN; 4095 is reserved by 802.1Q"
    package static let qosValues = 0...7
}

extension KeyedDecodingContainer {
    /// A whole-number field within `range`. A number outside it, one the type cannot hold
    /// (99999999999999999999, 1e30) or one that is not whole (1.5) is refused naming the field and the
    /// range (`invalid settings.vlan 5000: use an integer from 0 to 4094 (...)`), not as a body that is
    /// not valid JSON. A string, boolean or object is still a type mismatch ("expected an integer").
    package func decodeInteger<T: FixedWidthInteger & Decodable>(_ type: T.Type, forKey key: Key, in range: ClosedRange<T>,
                                                                  hint: String? = nil) throws -> T {
        let value: T
        do {
            value = try decode(T.self, forKey: key)
        } catch let error as DecodingError where !Self.isDataCorrupted(error) {
            throw error  // a string, boolean, ...: "expected an integer"
        } catch {
            // The body parsed, so this is a number T cannot hold, which Foundation's JSONDecoder reports with
            // an error of its own (that it turns into "not valid JSON" for the whole body).
            throw Self.outOfRange(codingPath + [key], Self.number(try? decode(Double.self, forKey: key)), range, hint)
        }
        guard range.contains(value) else { throw Self.outOfRange(codingPath + [key], "\(value)", range, hint) }
        return value
    }

    /// `decodeInteger`, nil when the field is absent or null.
    package func decodeIntegerIfPresent<T: FixedWidthInteger & Decodable>(_ type: T.Type, forKey key: Key, in range: ClosedRange<T>,
                                                                           hint: String? = nil) throws -> T? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        return try decodeInteger(type, forKey: key, in: range, hint: hint)
    }

    private static func isDataCorrupted(_ error: DecodingError) -> Bool {
        if case .dataCorrupted = error { return true }
        return false
    }

    /// A number as its sender likely wrote it: -1, 4294967296, 1.5, 1e+30.
    private static func number(_ value: Double?) -> String? {
        guard let value else { return nil }
        if value == value.rounded(), abs(value) < 1e18 { return "\(Int64(value))" }
        return "\(value)"
    }

    private static func outOfRange<T: FixedWidthInteger>(_ path: [any CodingKey], _ value: String?, _ range: ClosedRange<T>,
                                                         _ hint: String?) -> SRIOVError {
        let field = path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        let allowed = range.upperBound == T.max && T.bitWidth >= 64 ? "an integer, \(range.lowerBound) or more" : "an integer from \(range.lowerBound) to \(range.upperBound)"
        return SRIOVError(.invalidArgument, "invalid \(field)\(value.map { " \($0)" } ?? ""): use \(allowed)\(hint.map { " (\($0))" } ?? "")")
    }
}
