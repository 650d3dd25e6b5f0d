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
    /// The contents of a file, or the errno that stopped the read. Reads until end of file.
    public static func readResult(_ path: String) -> Result<String, SRIOVError> {
        readBytes(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The file's bytes, or the errno that stopped the read. Reads until end of file.
    public static func readBytes(_ path: String) -> Result<[UInt8], SRIOVError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(errnoError("cannot open \(path)")) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        let failed = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { chunk -> Bool in
            while true {
                let n = Glibc.read(fd, chunk.baseAddress, chunk.count)
                if n < 0 {
                    if errno == EINTR { continue }
                    return true
                }
                if n == 0 { return false }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[0..<n]))
            }
        }
        if failed { return .failure(errnoError("cannot read \(path)")) }
        return .success(bytes)
    }

    /// Whether the file holds `needle` (bytes, no decoding: `/proc/interrupts` and `modules.dep` are
    /// long, and a search through `String` costs ~100 times more); nil if it cannot be read.
    public static func contains(_ path: String, _ needle: String) -> Bool? {
        guard case .success(let bytes) = readBytes(path) else { return nil }
        return Bytes.contains(bytes, needle)
    }

    /// A sysfs attribute, trimmed: one `open`, one `read` (sysfs hands over a whole attribute, at most a
    /// page, in the first read), one `close`. Nil with the errno when it cannot be read.
    public static func readAttribute(_ path: String) -> (value: String?, errno: Int32) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return (nil, errno) }
        defer { close(fd) }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { buffer in
            var n: Int
            repeat { n = Glibc.read(fd, buffer.baseAddress, buffer.count) } while n < 0 && errno == EINTR
            guard n >= 0 else { return (nil, errno) }
            var end = n
            var start = 0
            while end > 0, buffer[end - 1] == 0x0a || buffer[end - 1] == 0x20 || buffer[end - 1] == 0x09 { end -= 1 }
            while start < end, buffer[start] == 0x20 || buffer[start] == 0x09 { start += 1 }
            return (String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<end]), as: UTF8.self), 0)
        }
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
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 4096) { buffer in
            let n = readlink(path, buffer.baseAddress!, buffer.count)
            guard n >= 0 else { return nil }
            return String(decoding: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<n]), as: UTF8.self)
        }
    }

    /// The last path component of a link's target (`../../../bus/pci/drivers/igb` -> `igb`).
    public static func linkBasename(_ path: String) -> String? {
        guard let target = readLink(path) else { return nil }
        // By UTF-8 byte, not by Character: sysfs paths are ASCII, and a '/' byte is never inside a
        // multi-byte sequence (Character search was ~3,500 instructions a link, several per device read).
        guard let slash = target.utf8.lastIndex(of: UInt8(ascii: "/")) else { return target }
        return String(target[target.utf8.index(after: slash)...])
    }

    /// `path`'s non-empty components split at '/' (by UTF-8 byte, as `linkBasename`).
    public static func components(_ path: String) -> [Substring] {
        var parts: [Substring] = []
        var start = path.startIndex
        for i in path.utf8.indices where path.utf8[i] == UInt8(ascii: "/") {
            if start < i { parts.append(path[start..<i]) }
            start = path.utf8.index(after: i)
        }
        if start < path.endIndex { parts.append(path[start...]) }
        return parts
    }

    /// The last `count` components of `path` (fewer if it has fewer), in order; found from the end, by
    /// UTF-8 byte, so a long link target is not split whole.
    public static func lastComponents(_ path: String, _ count: Int) -> [Substring] {
        var parts: [Substring] = []
        let utf8 = path.utf8
        var end = utf8.endIndex
        var i = end
        while i > utf8.startIndex, parts.count < count {
            let before = utf8.index(before: i)
            if utf8[before] == UInt8(ascii: "/") {
                if i < end { parts.append(path[i..<end]) }
                end = before
            }
            i = before
        }
        if parts.count < count, utf8.startIndex < end { parts.append(path[utf8.startIndex..<end]) }
        return parts.reversed()
    }

    /// The canonical absolute path (all links resolved), or nil.
    public static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
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

/// Byte-level scanning of procfs text, where `String`'s Character view (grapheme breaking) costs far
/// more than the reading: ASCII files, split on ASCII separators.
public enum Bytes {
    public static func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
        var needle = needle
        return needle.withUTF8 { n in
            haystack.withUnsafeBytes { h in
                guard let first = n.first, let wanted = n.baseAddress, let base = h.baseAddress else { return n.isEmpty }
                // memchr to each candidate first byte, then memcmp (memmem is a GNU extension).
                var offset = 0
                while h.count - offset >= n.count {
                    guard let hit = memchr(base + offset, Int32(first), h.count - offset - n.count + 1) else { return false }
                    if memcmp(hit, wanted, n.count) == 0 { return true }
                    offset = base.distance(to: UnsafeRawPointer(hit)) + 1
                }
                return false
            }
        }
    }

    /// The lines of `text` (split on `\n`), each split into fields on spaces and tabs, empty ones dropped.
    public static func fields(_ text: [UInt8]) -> [[ArraySlice<UInt8>]] {
        text.split(separator: 0x0a).map { line in
            line.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 })
        }
    }

    /// Whether `field` is exactly the ASCII text `s`.
    public static func equal(_ field: ArraySlice<UInt8>, _ s: StaticString) -> Bool {
        field.count == s.utf8CodeUnitCount && field.elementsEqual(UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }
}
