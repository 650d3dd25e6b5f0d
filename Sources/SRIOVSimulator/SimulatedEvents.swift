#if canImport(Glibc)
import Glibc
#endif
import SRIOVCore
import SRIOVSysfs

/// The simulated kernel's uevents and rtnetlink notifications: every mutation of a simulated host (by
/// any process: sriovd, `sriovctl --simulated`, a test editing the host) appends one line per event to
/// `<host>/events.log`, and `SimulatedEventSource` follows the file with inotify. Lines:
///
///     pci add|remove|bind|unbind|change <bdf> [driver]
///     link vfinfo|up|down <ifname>
///     overflow
///
/// The log is append-only (`O_APPEND`: lines from several processes never interleave); past
/// `rotateBytes` a writer truncates it and writes `overflow`, which a follower reads as "events were
/// lost" (a full pass), as netlink's ENOBUFS.
public enum SimulatedEventLog {
    public static let fileName = "events.log"
    static let rotateBytes: Int = 8 << 20

    public static func path(_ directory: String) -> String { directory + "/" + fileName }

    /// Appends `lines` (each without its newline) in one write. Failures are ignored: the log is a
    /// notification, the tree stays the truth (a follower's full pass finds what a lost line said).
    static func append(_ directory: String, _ lines: [String]) {
        guard !lines.isEmpty else { return }
        let fd = open(path(directory), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        // Bytes joined by hand: `joined(separator:)` is unspecialized generic code whose first use
        // costs a short-lived process ~0.3M instructions of runtime type lookups.
        var bytes: [UInt8] = []
        var st = stat()
        if fstat(fd, &st) == 0, Int(st.st_size) > rotateBytes {
            _ = ftruncate(fd, 0)
            bytes.append(contentsOf: "overflow\n".utf8)
        }
        for line in lines {
            bytes.append(contentsOf: line.utf8)
            bytes.append(UInt8(ascii: "\n"))
        }
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    static func pci(_ action: PCIDeviceEvent.Action, _ address: PCIAddress, driver: String? = nil) -> String {
        "pci \(action.rawValue) \(address)" + (driver.map { " \($0)" } ?? "")
    }

    static func vfInfo(_ interface: String) -> String { "link vfinfo \(interface)" }

    /// A PF's carrier coming or going (RTM_NEWLINK with IFLA_OPERSTATE/IFLA_CARRIER): what a simulated
    /// `ip link set <pf> up|down` appends.
    static func link(up: Bool, _ interface: String) -> String { "link \(up ? "up" : "down") \(interface)" }

    /// One line as an event; nil for a line this build does not know (a newer writer's).
    public static func parse(_ line: Substring) -> HostEvent? {
        let words = line.split(separator: " ")
        guard let kind = words.first else { return nil }
        switch kind {
        case "overflow":
            return .overflow
        case "pci" where words.count >= 3:
            guard let action = PCIDeviceEvent.Action(rawValue: String(words[1])), let address = PCIAddress(String(words[2])) else { return nil }
            return .pci(PCIDeviceEvent(action: action, address: address, driver: words.count > 3 ? String(words[3]) : nil))
        case "link" where words.count >= 3:
            let name = InterfaceName(String(words[2]))
            switch words[1] {
            case "vfinfo": return .link(LinkEvent(kind: .changed, interface: name, ifindex: 0, vfInfo: true))
            case "up": return .link(LinkEvent(kind: .changed, interface: name, ifindex: 0, operState: .up, carrier: true))
            case "down": return .link(LinkEvent(kind: .changed, interface: name, ifindex: 0, operState: .down, carrier: false))
            default: return nil
            }
        default:
            return nil
        }
    }
}

/// Follows a simulated host's `events.log` from its current end: a thread waits in `poll(2)` on an
/// inotify watch of the file and a wake-up pipe (no polling loop, and no blocking call on the
/// cooperative pool), reads what was appended, and yields each line's event.
public struct SimulatedEventSource: HostEventSource {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// Kernel interface (simulated): `<host>/events.log`, watched with `inotify(7)` (`IN_MODIFY`).
    public func events() throws(SRIOVError) -> AsyncStream<HostEvent> {
        let path = SimulatedEventLog.path(directory)
        let file = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard file >= 0 else {
            let e = errno
            throw SRIOVError(.io, "cannot open the simulated host's event log \(Quote.shell(path)) (\(Errno.name(e))); check that the simulated host exists and is writable",
                             cause: .errno(e))
        }
        let watch = inotify_init1(Int32(IN_CLOEXEC))
        guard watch >= 0, inotify_add_watch(watch, path, UInt32(IN_MODIFY)) >= 0 else {
            let e = errno
            close(file)
            if watch >= 0 { close(watch) }
            throw SRIOVError(.io, "cannot watch the simulated host's event log \(Quote.shell(path)) with inotify (\(Errno.name(e))); raise fs.inotify.max_user_instances or the descriptor limit",
                             cause: .errno(e))
        }
        var st = stat()
        let start = fstat(file, &st) == 0 ? Int(st.st_size) : 0
        return try EventReaderThread.start(Follower(file: file, watch: watch, offset: start), what: "the simulated host's event reader")
    }

    /// The event log and its inotify watch, drained on `EventReaderThread`'s thread (which closes
    /// them when it ends). Its state (offset, a partial last line) is only the reader thread's.
    final class Follower: EventDrainer {
        let file: Int32
        let watch: Int32
        nonisolated(unsafe) var offset: Int
        nonisolated(unsafe) var partial: [UInt8] = []
        nonisolated(unsafe) var buffer = [UInt8](repeating: 0, count: 1 << 16)

        init(file: Int32, watch: Int32, offset: Int) {
            self.file = file
            self.watch = watch
            self.offset = offset
        }

        var descriptors: [Int32] { [watch] }

        func drain(into continuation: AsyncStream<HostEvent>.Continuation) -> Bool {
            // Drain the inotify records; what matters is only that the file changed.
            _ = buffer.withUnsafeMutableBytes { read(watch, $0.baseAddress, $0.count) }
            var st = stat()
            guard fstat(file, &st) == 0 else { return false }
            if Int(st.st_size) < offset {
                // Rotated: whatever was appended before the truncation is gone.
                offset = 0
                partial = []
                continuation.yield(.overflow)
            }
            while true {
                let got = buffer.withUnsafeMutableBytes { pread(file, $0.baseAddress, $0.count, off_t(offset)) }
                if got < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                if got == 0 { return true }
                offset += got
                partial += buffer[0..<got]
                while let newline = partial.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = Substring(decoding: partial[..<newline], as: UTF8.self)
                    partial.removeSubrange(...newline)
                    if let event = SimulatedEventLog.parse(line) { continuation.yield(event) }
                }
            }
        }

        deinit { close(file) }
    }
}
