import SRIOVCore

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
        case .cgroup, .unit:
            var reasons: [String] = []
            for path in consumer.cgroupPaths {
                let dir = cgroupRoot + path
                guard FileSystem.isDirectory(dir) else {
                    reasons.append("cgroup \(path) does not exist")
                    continue
                }
                guard let events = FileSystem.read(dir + "/cgroup.events") else {
                    return .unknown("cannot read \(dir)/cgroup.events")
                }
                let populated = events.split(separator: "\n").first { $0.hasPrefix("populated ") }
                if populated == "populated 0" { return .gone("cgroup \(path) is empty (populated 0)") }
                return .present
            }
            return .gone(reasons.joined(separator: "; "))
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
