/// What uses a lease's VFs: when it is gone (for the grace period), sriovd takes the lease back.
///
/// Written as `libvirt:<uuid>`, `pid:<pid>[@<starttime>]`, `cgroup:<path>` or `unit:<name>.service`
/// (on the command line, on the wire and in the journal).
public enum LeaseConsumer: Sendable, Hashable, CustomStringConvertible {
    /// A libvirt domain, by UUID (lower case): gone when no run-state file of libvirt's QEMU driver
    /// (`/run/libvirt/qemu/<name>.xml`) names it, or the QEMU pid that file names is not running.
    case libvirt(uuid: String)
    /// A process, with its start time (field 22 of `/proc/<pid>/stat`, clock ticks since boot): gone
    /// when the pid does not exist or now belongs to a process started at another time (pid reuse).
    /// `startTime` is nil only in a request; sriovd reads it when the lease is acquired.
    case pid(Int32, startTime: UInt64?)
    /// A cgroup (v2), as a path below the cgroup mount (`/machine.slice/vm1.scope`): gone when its
    /// directory is missing or its `cgroup.events` says `populated 0`.
    case cgroup(String)
    /// A systemd unit (`.service` or `.scope`): its cgroup, with the same rules as `cgroup`. Looked for
    /// at `/system.slice/<unit>` and `/machine.slice/<unit>`, then in every slice (a template
    /// instance's `system-<name>.slice`, a `Slice=`, a user's manager).
    case unit(String)

    public static let syntax = "libvirt:<uuid>, pid:<pid>[@<starttime>], cgroup:<path> or unit:<name>.service"

    public init(parsing text: String) throws(SRIOVError) {
        guard let colon = text.firstIndex(of: ":") else {
            throw SRIOVError(.invalidArgument, "invalid consumer \(Quote.shell(text)): use \(LeaseConsumer.syntax)")
        }
        let kind = String(text[..<colon])
        let value = String(text[text.index(after: colon)...])
        switch kind {
        case "libvirt":
            self = .libvirt(uuid: try LeaseConsumer.uuid(value, in: text))
        case "pid":
            let parts = value.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
            guard let pid = Int32(parts[0]), pid > 0, parts[0].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw SRIOVError(.invalidArgument, "invalid consumer \(Quote.shell(text)): the pid must be a positive whole number (pid:<pid>[@<starttime>])")
            }
            var start: UInt64?
            if parts.count == 2 {
                guard let s = UInt64(parts[1]), parts[1].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                    throw SRIOVError(.invalidArgument, "invalid consumer \(Quote.shell(text)): the start time after '@' must be a whole number of clock ticks (field 22 of /proc/<pid>/stat), or leave it out for sriovd to read it")
                }
                start = s
            }
            self = .pid(pid, startTime: start)
        case "cgroup":
            try LeaseConsumer.checkCgroupPath(value, in: text)
            self = .cgroup(value)
        case "unit":
            try LeaseConsumer.checkUnit(value, in: text)
            self = .unit(value)
        default:
            throw SRIOVError(.invalidArgument, "invalid consumer \(Quote.shell(text)): unknown kind \(Quote.shell(kind)); use \(LeaseConsumer.syntax)")
        }
    }

    public var description: String {
        switch self {
        case .libvirt(let uuid): return "libvirt:" + uuid
        case .pid(let pid, let start): return "pid:\(pid)" + (start.map { "@\($0)" } ?? "")
        case .cgroup(let path): return "cgroup:" + path
        case .unit(let name): return "unit:" + name
        }
    }

    /// The cgroup paths a `cgroup` or `unit` consumer is looked for at first (the first existing
    /// wins; a unit in none of them is then searched for through the slices).
    public var cgroupPaths: [String] {
        switch self {
        case .cgroup(let path): return [path]
        case .unit(let name):
            return name.hasSuffix(".scope") ? ["/machine.slice/" + name, "/system.slice/" + name] : ["/system.slice/" + name, "/machine.slice/" + name]
        default: return []
        }
    }

    /// A UUID in its canonical form (8-4-4-4-12 hex digits), lower case.
    public static func uuid(_ value: String, in text: String? = nil) throws(SRIOVError) -> String {
        let lower = value.lowercased()
        let groups = lower.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.map({ $0.count }) == [8, 4, 4, 4, 12],
              groups.allSatisfy({ $0.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) } }) else {
            throw SRIOVError(.invalidArgument, "invalid \(text.map { "consumer \(Quote.shell($0))" } ?? "UUID \(Quote.shell(value))"): a libvirt domain UUID looks like 8-4-4-4-12 hex digits (`virsh domuuid <domain>`)")
        }
        return lower
    }

    static func checkCgroupPath(_ path: String, in text: String) throws(SRIOVError) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard path.hasPrefix("/"), path.utf8.count <= 1024, path.count > 1, !path.hasSuffix("/"),
              parts.dropFirst().allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }),
              path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw SRIOVError(.invalidArgument, "invalid consumer \(Quote.shell(text)): a cgroup is an absolute path below the cgroup mount without '.', '..', empty parts or spaces (e.g. cgroup:/machine.slice/vm1.scope; see /proc/<pid>/cgroup)")
        }
    }

    static func checkUnit(_ name: String, in text: String) throws(SRIOVError) {
        let allowed: (UInt8) -> Bool = { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == 0x3a || b == 0x5f || b == 0x2e || b == 0x5c || b == 0x40 || b == 0x2d
        }
        guard name.hasSuffix(".service") || name.hasSuffix(".scope"), name.utf8.count <= 255, !name.hasPrefix("."),
              name.utf8.allSatisfy(allowed), name != ".service", name != ".scope" else {
            throw SRIOVError(.invalidArgument, "invalid consumer \(Quote.shell(text)): a unit is a systemd unit name ending in .service or .scope (letters, digits, ':', '_', '.', '@', '-', '\\'), e.g. unit:qemu-vm1.service")
        }
    }
}

extension LeaseConsumer: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        do { self = try LeaseConsumer(parsing: text) } catch {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

extension LeaseConsumer: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) { w.string(description) }
}

/// What a probe found of a consumer.
public enum ConsumerPresence: Sendable, Equatable {
    case present
    /// Gone, and why (`pid 4242 now started at 999, not 123: reused`).
    case gone(String)
    /// Cannot tell (a file that cannot be read): never counted as gone.
    case unknown(String)
}

/// Looks at consumers on a host: `/proc` and `/sys/fs/cgroup` and libvirt's run-state directory
/// (`SRIOVSysfs.FileConsumerProbe`, also the simulator's under its own root), or in memory in tests.
public protocol ConsumerProbe: Sendable {
    /// Field 22 of `/proc/<pid>/stat` (start time in clock ticks since boot), nil when no such process.
    func processStartTime(_ pid: Int32) -> UInt64?
    func presence(of consumer: LeaseConsumer) -> ConsumerPresence
}

/// The probe of a host whose consumers cannot be seen: refuses to tell.
public struct UnprobedConsumers: ConsumerProbe {
    public init() {}
    public func processStartTime(_ pid: Int32) -> UInt64? { nil }
    public func presence(of consumer: LeaseConsumer) -> ConsumerPresence {
        .unknown("this host has no consumer probe")
    }
}
