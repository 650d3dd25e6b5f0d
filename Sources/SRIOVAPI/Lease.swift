import SRIOVCore

/// A lease's id: `l-` and 16 hex digits, random.
public struct LeaseID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let value: String

    public init(parsing text: String) throws(SRIOVError) {
        let hex = text.utf8.dropFirst(2)
        guard text.hasPrefix("l-"), hex.count == 16, hex.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            throw SRIOVError(.invalidArgument, "invalid lease id \(Quote.shell(text)): lease ids look like l-0123456789abcdef (`sriovctl lease list` shows them)")
        }
        value = text
    }

    public static func random() -> LeaseID {
        var g = SystemRandomNumberGenerator()
        let n = g.next() as UInt64
        let digits = String(n, radix: 16)
        return LeaseID(unchecked: "l-" + String(repeating: "0", count: 16 - digits.count) + digits)
    }

    package init(unchecked: String) { value = unchecked }

    public var description: String { value }
    public static func < (a: LeaseID, b: LeaseID) -> Bool { a.value < b.value }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        do { self = try LeaseID(parsing: text) } catch {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(value)
    }
}

/// How a multi-VF request is placed over PFs.
public enum Placement: String, Sendable, Codable, CaseIterable {
    /// Every VF on a different PF (HA pairs).
    case spread
    /// As few PFs as possible.
    case pack
}

/// What a caller asks for.
public struct LeaseRequest: Sendable, Codable, Equatable {
    public var pool: String
    public var owner: String
    public var count: Int
    public var numaNode: Int?
    public var placement: Placement
    /// Settings for every VF of the lease, over the pool's defaults (a MAC is given to the first VF
    /// only when count > 1: two VFs cannot share an admin MAC).
    public var settings: VFSettings
    /// Seconds; nil = no expiry.
    public var ttlSeconds: Int?
    /// Idempotency key: the same id returns the same lease.
    public var requestID: String?
    /// What uses the VFs; when it is gone for the grace period, sriovd takes the lease back. A pid
    /// consumer is stored with its start time (read at acquire when the caller gave none).
    public var consumer: LeaseConsumer?
    /// Exactly these VFs (all pool members, free and healthy), instead of the allocator's choice.
    public var vfs: [PCIAddress]?
    /// The user the VM runs as (a name or a uid): sriovd makes `/dev/vfio/<group>` of each leased
    /// device its owner (mode 0600, 0660 with `deviceGroup`) and puts the node back on release.
    public var deviceUser: String?
    /// The group the VM runs as (a name or a gid): the node's group, mode 0660.
    public var deviceGroup: String?

    public init(pool: String, owner: String, count: Int = 1, numaNode: Int? = nil, placement: Placement = .pack,
                settings: VFSettings = VFSettings(), ttlSeconds: Int? = nil, requestID: String? = nil,
                consumer: LeaseConsumer? = nil, vfs: [PCIAddress]? = nil, deviceUser: String? = nil, deviceGroup: String? = nil) {
        self.deviceUser = deviceUser
        self.deviceGroup = deviceGroup
        self.pool = pool
        self.owner = owner
        self.count = count
        self.numaNode = numaNode
        self.placement = placement
        self.settings = settings
        self.ttlSeconds = ttlSeconds
        self.requestID = requestID
        self.consumer = consumer
        self.vfs = vfs
    }

    /// Checks the fields on their own (the pool's policy is checked by the allocator).
    public func validate() throws(SRIOVError) {
        guard (1...64).contains(count) else {
            throw SRIOVError(.invalidArgument, "invalid count \(count): a lease holds 1 to 64 VFs")
        }
        try LeaseRequest.checkName(owner, what: "owner")
        try LeaseRequest.checkName(pool, what: "pool")
        if let requestID {
            guard (1...128).contains(requestID.utf8.count), requestID.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
                throw SRIOVError(.invalidArgument, "invalid request id \(Quote.shell(requestID)): use 1-128 printable characters without spaces (a UUID is ideal)")
            }
        }
        if let ttlSeconds, !(1...(366 * 86400)).contains(ttlSeconds) {
            throw SRIOVError(.invalidArgument, "invalid TTL \(ttlSeconds)s: use 1s to 366d, or no TTL")
        }
        if let n = numaNode, n < 0 { throw SRIOVError(.invalidArgument, "invalid NUMA node \(n)") }
        try settings.validate()
        if let deviceUser { try DeviceAccount.check(deviceUser, what: "device user") }
        if let deviceGroup { try DeviceAccount.check(deviceGroup, what: "device group") }
        if settings.mac != nil && count > 1 {
            throw SRIOVError(.invalidArgument, "--mac with --count \(count): VFs cannot share one MAC; request them one by one, or leave the MAC to the pool")
        }
        if let vfs {
            guard vfs.count == count else {
                throw SRIOVError(.invalidArgument, "\(vfs.count) VFs named with count \(count): name as many VFs as the count, or leave the count out")
            }
            guard Set(vfs).count == vfs.count else {
                throw SRIOVError(.invalidArgument, "a VF is named twice in the request's VFs (\(vfs.map { $0.description }.joined(separator: ", "))); name each once")
            }
            if numaNode != nil {
                throw SRIOVError(.invalidArgument, "a NUMA node and exact VFs both choose the VFs: give one of them")
            }
        }
    }

    package static func checkName(_ name: String, what: String) throws(SRIOVError) {
        guard (1...128).contains(name.utf8.count),
              name.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x2d || $0 == 0x5f || $0 == 0x2e || $0 == 0x3a }) else {
            throw SRIOVError(.invalidArgument, "invalid \(what) \(Quote.shell(name)): use letters, digits, '-', '_', '.' or ':' (a VM name or UUID), 1-128 characters")
        }
    }

    /// True when a retry with the same request id asks for the same thing.
    package func sameAs(_ other: LeaseRequest) -> Bool {
        pool == other.pool && owner == other.owner && count == other.count && numaNode == other.numaNode
            && placement == other.placement && settings == other.settings && ttlSeconds == other.ttlSeconds
            && vfs == other.vfs && LeaseRequest.sameConsumer(consumer, other.consumer)
            && deviceUser == other.deviceUser && deviceGroup == other.deviceGroup
    }

    /// A retry that names a pid without its start time asks for the consumer stored with the one read.
    static func sameConsumer(_ a: LeaseConsumer?, _ b: LeaseConsumer?) -> Bool {
        if case .pid(let p, let s)? = a, case .pid(let q, let t)? = b { return p == q && (s == nil || t == nil || s == t) }
        return a == b
    }

    /// Whether the request names who the VM runs as (`deviceUser`, `deviceGroup`).
    public var wantsDeviceOwner: Bool { deviceUser != nil || deviceGroup != nil }
}

/// The lifecycle of a lease.
public enum LeaseState: String, Sendable, Codable {
    /// VFs reserved; settings, unbinding and vfio-pci binding under way.
    case acquiring
    /// Ready: every VF on vfio-pci with its settings.
    case active
    /// Being taken back: unbind, scrub, return.
    case releasing
}

/// One VF of a lease.
public struct LeasedVF: Sendable, Codable, Equatable {
    public var pciAddress: PCIAddress
    public var pf: PCIAddress
    public var pfInterface: InterfaceName?
    public var index: Int
    public var iommuGroup: Int?
    public var numaNode: Int?
    /// `/dev/vfio/<group>` once bound.
    public var vfioDevice: String?
    /// What the lease applied (pool defaults + request).
    public var settings: VFSettings
    /// The VF's settings before the lease, as read from the PF.
    public var saved: VFState?
    /// The VF's driver before the lease.
    public var previousDriver: String?
    /// How far the lease's steps got on this VF.
    public var stage: LeaseStage

    package init(pciAddress: PCIAddress, pf: PCIAddress, pfInterface: InterfaceName?, index: Int, iommuGroup: Int?, numaNode: Int?,
                 vfioDevice: String?, settings: VFSettings, saved: VFState?, previousDriver: String?, stage: LeaseStage) {
        self.pciAddress = pciAddress
        self.pf = pf
        self.pfInterface = pfInterface
        self.index = index
        self.iommuGroup = iommuGroup
        self.numaNode = numaNode
        self.vfioDevice = vfioDevice
        self.settings = settings
        self.saved = saved
        self.previousDriver = previousDriver
        self.stage = stage
    }
}

public struct Lease: Sendable, Codable, Equatable {
    public var id: LeaseID
    public var owner: String
    public var pool: String
    public var request: LeaseRequest
    public var vfs: [LeasedVF]
    public var state: LeaseState
    public var createdAt: Double
    public var expiresAt: Double?
    /// Who asked (uid, tenant or "cli"), for the audit trail.
    public var requestedBy: String?
    /// Drift found by reconciliation (VF vanished, driver changed underneath), and changes forced
    /// past the lease (`vf set --force`, `pf set-numvfs --force`), each with who and why.
    public var problems: [String]
    /// nil while the lease's VFs are as it promised; set (and never cleared) when a change it did not
    /// make was forced on them or found: `drifted` (settings or driver changed), `lost` (VFs vanished).
    public var condition: LeaseCondition?
    /// The `/dev/vfio/<group>` nodes given to the request's device user/group, with what they were
    /// before (put back on release); nil when the request named none.
    public var vfioGrants: [VFIOGrant]?

    package init(id: LeaseID, owner: String, pool: String, request: LeaseRequest, vfs: [LeasedVF], state: LeaseState,
                 createdAt: Double, expiresAt: Double?, requestedBy: String?, problems: [String], condition: LeaseCondition? = nil,
                 vfioGrants: [VFIOGrant]? = nil) {
        self.vfioGrants = vfioGrants
        self.id = id
        self.owner = owner
        self.pool = pool
        self.request = request
        self.vfs = vfs
        self.state = state
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.requestedBy = requestedBy
        self.problems = problems
        self.condition = condition
    }
}

/// What became of a lease's promise when the host changed underneath it. Ordered: `lost` outranks
/// `drifted` (a lease once lost stays lost).
public enum LeaseCondition: String, Sendable, Codable, Comparable, CaseIterable {
    /// A VF's settings or driver were changed by someone other than the lease (forced, or found).
    case drifted
    /// VFs of the lease vanished (the PF's VF count went through 0, the device was removed).
    case lost

    public static func < (a: LeaseCondition, b: LeaseCondition) -> Bool {
        a == .drifted && b == .lost
    }
}

/// Why a VF is kept out of circulation.
public struct Quarantine: Sendable, Codable, Equatable {
    public var reason: String
    public var since: Double
    public var lease: LeaseID?

    public init(reason: String, since: Double, lease: LeaseID?) {
        self.reason = reason
        self.since = since
        self.lease = lease
    }
}

/// How far a VF of a lease got; recovery reads it to decide what to undo.
public enum LeaseStage: String, Sendable, Codable {
    /// Chosen; the host is untouched.
    case reserved
    /// Its previous settings are recorded; the host is still untouched.
    case saved
    /// Settings may have been changed.
    case configuring
    /// The driver may have been changed.
    case binding
    case active
    /// Back in the pool (or quarantined).
    case returned
}
