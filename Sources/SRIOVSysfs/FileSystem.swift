#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SRIOVCore

/// Thin POSIX file access for sysfs/procfs: one `open` + `read`/`write` per attribute, no caching,
/// no Foundation (discovery reads thousands of small files).
public enum FileSystem {
    /// The contents of a file, or the errno that stopped the read.
    public static func readResult(_ path: String) -> Result<String, SRIOVError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(errnoError("cannot open \(path)")) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(errnoError("cannot read \(path)"))
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return .success(String(decoding: bytes, as: UTF8.self))
    }

    /// The file's contents with surrounding white space removed, or nil if it cannot be read.
    public static func read(_ path: String) -> String? {
        guard case .success(let text) = readResult(path) else { return nil }
        return text.trimmingSpaces
    }

    /// Writes `value` with a single `write(2)` on a fresh `open(2)`, as sysfs expects.
    public static func write(_ path: String, _ value: String) throws(SRIOVError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw errnoError("cannot open \(path) for writing") }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        while true {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw errnoError("writing \(Quote.shell(value)) to \(path) failed") }
            if n != bytes.count {
                throw SRIOVError(.io, "short write of \(Quote.shell(value)) to \(path): \(n) of \(bytes.count) bytes")
            }
            return
        }
    }

    /// The target of a symbolic link, or nil.
    public static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The last path component of a link's target (`../../../bus/pci/drivers/igb` -> `igb`).
    public static func linkBasename(_ path: String) -> String? {
        guard let target = readLink(path) else { return nil }
        return target.split(separator: "/").last.map(String.init)
    }

    /// Entry names of a directory (without `.` and `..`), or nil if it cannot be listed.
    public static func list(_ path: String) -> [String]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> String in
                let bytes = raw.bindMemory(to: UInt8.self)
                let len = bytes.firstIndex(of: 0) ?? bytes.count
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[0..<len]), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// True when the path exists (following links).
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    /// True when the path exists as an entry, even a dangling link.
    public static func entryExists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func errnoError(_ what: String) -> SRIOVError {
        let e = errno
        let code: SRIOVError.Code
        switch e {
        case ENOENT: code = .notFound
        case EACCES, EPERM, EROFS: code = .permissionDenied
        case EBUSY: code = .busy
        case EOPNOTSUPP: code = .unsupported
        default: code = .io
        }
        return SRIOVError(code, "\(what): \(Errno.name(e)) (\(String(cString: strerror(e))))", cause: .errno(e))
    }
}
