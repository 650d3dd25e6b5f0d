#if canImport(Glibc)
import SRIOVRuntime
import Glibc
#endif
import SRIOVCore

/// The listening socket's path: its directory, a stale file left by a crash, and its mode.
public enum SocketFile {
    /// Creates the parent directory (0755), and removes `path` only if it is a socket nobody listens on.
    /// Kernel interface: `connect(2)` on an `AF_UNIX` stream socket (ECONNREFUSED = nobody listens).
    public static func prepare(_ path: String) throws(SRIOVError) {
        guard path.utf8.count < 108 else {
            throw SRIOVError(.invalidArgument, "socket path \(Quote.shell(path)) is \(path.utf8.count) bytes; a Unix socket path must be under 108; pass a shorter --socket")
        }
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try Directories.ensure(String(path[..<slash]), mode: 0o755, what: "socket directory")
        }
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        guard (st.st_mode & S_IFMT) == S_IFSOCK else {
            throw SRIOVError(.busy, "\(path) exists and is not a socket; remove it or pass another --socket")
        }
        if listening(path) {
            throw SRIOVError(.busy, "another sriovd (or another server) is listening on \(path); stop it first, or pass another --socket")
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            let e = errno
            throw SRIOVError(.io, "cannot remove the stale socket \(path) (\(Errno.name(e)))", cause: .errno(e))
        }
    }

    /// True when a connect to `path` succeeds.
    public static func listening(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return result == 0
    }

    /// Removes our socket file after the listener closed (a socket file outlives its listener).
    public static func remove(_ path: String) {
        var st = stat()
        if lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK { unlink(path) }
    }

    /// Kernel interface: `chown(2)` of the socket file's group (the owner stays): with mode 0660 the
    /// group's members may connect (`socket_group` / `--socket-group`).
    public static func setGroup(_ path: String, gid: UInt32) throws(SRIOVError) {
        guard chown(path, uid_t.max, gid) == 0 else {
            let e = errno
            throw SRIOVError(e == EPERM ? .permissionDenied : .io,
                             "cannot give \(path) to group \(gid) (\(Errno.name(e))); run sriovd as root or as a member of that group",
                             cause: .errno(e))
        }
    }

    /// Kernel interface: `chmod(2)` on the socket file (0660: the owner and the group may connect).
    public static func setMode(_ path: String, _ mode: mode_t = 0o660) throws(SRIOVError) {
        guard chmod(path, mode) == 0 else {
            let e = errno
            throw SRIOVError(.io, "cannot chmod \(String(mode, radix: 8)) \(path) (\(Errno.name(e)))", cause: .errno(e))
        }
    }
}
