import SRIOVCore
import Synchronization

/// Consumers as a Linux host shows them, each root configurable (the simulator points them into its
/// own tree): `/proc/<pid>/stat`, the cgroup v2 mount, and libvirt's QEMU run-state directory.
///
/// libvirt: the QEMU driver keeps one status file per running domain, `<name>.xml` in its state
/// directory (`/run/libvirt/qemu` for the system instance), from start-up until the domain is shut
/// off, holding `<domstatus ... pid='<qemu pid>'>` and the domain's `<uuid>`. It lives on a tmpfs, so
/// a reboot clears it. A domain is present while a status file names its UUID and the QEMU pid in that
/// file runs (a file without a pid yet, written while the domain starts, counts as present); nothing here calls libvirt (the hook may run inside libvirtd's own lock).
public struct FileConsumerProbe: ConsumerProbe {
    public static let defaultLibvirtStateDirectory = "/run/libvirt/qemu"
    public static let defaultCgroupRoot = "/sys/fs/cgroup"

    public var procfs: String
    public var cgroupRoot: String
    public var libvirtStateDirectory: String
    /// Units found outside the usual places (`findUnitCgroup`), by name: the reaper asks every few
    /// seconds, and a unit does not move while it runs. Shared by copies of the probe.
    let unitPaths = UnitPaths()

    /// A lock-guarded map from a unit's name to its cgroup path.
    final class UnitPaths: Sendable {
        let paths = Mutex<[String: String]>([:])

        func withLock<T>(_ body: (inout [String: String]) -> T) -> T { paths.withLock { body(&$0) } }
    }

    public init(procfs: String = DefaultPaths.procfs, cgroupRoot: String = FileConsumerProbe.defaultCgroupRoot,
                libvirtStateDirectory: String = FileConsumerProbe.defaultLibvirtStateDirectory) {
        self.procfs = HostPaths.trimTrailingSlash(procfs)
        self.cgroupRoot = HostPaths.trimTrailingSlash(cgroupRoot)
        self.libvirtStateDirectory = HostPaths.trimTrailingSlash(libvirtStateDirectory)
    }

    /// The probe of a tree that holds `proc/`, `sys/fs/cgroup/` and `run/libvirt/qemu/` below `root`
    /// (the simulator's layout).
    public init(root: String) {
        let r = HostPaths.trimTrailingSlash(root)
        self.init(procfs: r + "/proc", cgroupRoot: r + "/sys/fs/cgroup", libvirtStateDirectory: r + "/run/libvirt/qemu")
    }

    public func processStartTime(_ pid: Int32) -> UInt64? {
        guard pid > 0, let stat = FileSystem.read(procfs + "/\(pid)/stat") else { return nil }
        return FileConsumerProbe.startTime(stat: stat)
    }

    /// Field 22 of a `/proc/<pid>/stat` line. The second field (the command, in parentheses) may hold
    /// spaces and parentheses itself, so fields are counted after its last `)`.
    public static func startTime(stat: String) -> UInt64? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        // fields[0] is field 3 (state): field 22 is fields[19].
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }

    public func presence(of consumer: LeaseConsumer) -> ConsumerPresence {
        switch consumer {
        case .pid(let pid, let start):
            guard let now = processStartTime(pid) else { return .gone("process \(pid) does not exist") }
            guard let start else { return .unknown("process \(pid) was named without its start time") }
            return now == start ? .present : .gone("pid \(pid) now belongs to a process started at \(now), not \(start) (the pid was reused)")
        case .cgroup(let path):
            return cgroupPresence(path) ?? .gone("cgroup \(path) does not exist")
        case .unit(let name):
            // The usual places first (one stat each), then wherever systemd put it: a template
            // instance `a@b.service` is in `system.slice/system-a.slice/`, a unit with `Slice=` in that
            // slice, a user's unit below `user.slice/user-<uid>.slice/user@<uid>.service/`.
            for path in consumer.cgroupPaths {
                if let presence = cgroupPresence(path) { return presence }
            }
            // Where the last search found it, while it is still there (one stat, not a search per tick).
            if let path = unitPaths.withLock({ $0[name] }), let presence = cgroupPresence(path) { return presence }
            guard let path = findUnitCgroup(name), let presence = cgroupPresence(path) else {
                unitPaths.withLock { $0[name] = nil }
                return .gone("unit \(name) has no cgroup under \(cgroupRoot) (it is not running)")
            }
            unitPaths.withLock { $0[name] = path }
            return presence
        case .libvirt(let uuid):
            guard let names = FileSystem.list(libvirtStateDirectory) else {
                return .gone("libvirt's state directory \(libvirtStateDirectory) does not exist (libvirt runs no QEMU domain)")
            }
            for name in names where name.hasSuffix(".xml") {
                guard let text = FileSystem.read(libvirtStateDirectory + "/" + name) else { continue }
                guard FileConsumerProbe.statusUUID(text)?.lowercased() == uuid else { continue }
                // pid='0' (or none): the early status libvirt writes before it forks QEMU.
                if let pid = FileConsumerProbe.statusPID(text), pid > 0, processStartTime(pid) == nil {
                    return .gone("domain \(uuid)'s QEMU (pid \(pid), in \(name)) is not running")
                }
                return .present
            }
            return .gone("no run-state file in \(libvirtStateDirectory) names domain \(uuid) (it is shut off or undefined)")
        }
    }

    /// A cgroup's presence by its `cgroup.events`, nil when the directory does not exist.
    func cgroupPresence(_ path: String) -> ConsumerPresence? {
        let dir = cgroupRoot + path
        guard FileSystem.isDirectory(dir) else { return nil }
        guard let events = FileSystem.read(dir + "/cgroup.events") else {
            return .unknown("cannot read \(dir)/cgroup.events")
        }
        let populated = events.split(separator: "\n").first { $0.hasPrefix("populated ") }
        if populated == "populated 0" { return .gone("cgroup \(path) is empty (populated 0)") }
        return .present
    }

    /// The cgroup path (below the mount) of the unit `name`: searched breadth first through slices and
    /// users' managers (`user@<uid>.service`), the only places systemd puts units, at most 6 levels
    /// deep and 4,096 directories looked at (a host has a few hundred). Nil when it is nowhere.
    func findUnitCgroup(_ name: String) -> String? {
        var queue = [""]
        var looked = 0
        var depth = 0
        while !queue.isEmpty && depth < 6 && looked < 4096 {
            var next: [String] = []
            for path in queue {
                guard let entries = FileSystem.list(cgroupRoot + path) else { continue }
                looked += 1
                if entries.contains(name), FileSystem.isDirectory(cgroupRoot + path + "/" + name) { return path + "/" + name }
                for entry in entries where entry.hasSuffix(".slice") || (entry.hasPrefix("user@") && entry.hasSuffix(".service")) {
                    next.append(path + "/" + entry)
                }
            }
            queue = next
            depth += 1
        }
        return nil
    }

    /// The `<uuid>` of a status file's domain.
    static func statusUUID(_ text: String) -> String? {
        guard let open = text.firstRange(of: "<uuid>"), let close = text[open.upperBound...].firstRange(of: "</uuid>") else { return nil }
        return String(text[open.upperBound..<close.lowerBound]).trimmingSpaces
    }

    /// The `pid` attribute of `<domstatus>`.
    static func statusPID(_ text: String) -> Int32? {
        guard let tag = text.firstRange(of: "<domstatus") else { return nil }
        let rest = text[tag.upperBound...]
        guard let end = rest.firstIndex(of: ">") else { return nil }
        let head = rest[..<end]
        for quote in ["'", "\""] {
            if let attr = head.firstRange(of: " pid=" + quote) {
                let value = head[attr.upperBound...].prefix { $0 != Character(quote) }
                return Int32(value)
            }
        }
        return nil
    }
}
