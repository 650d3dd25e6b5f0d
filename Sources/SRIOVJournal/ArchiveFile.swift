#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SRIOVCore

/// An append-only file of JSON lines that is never rewritten: where records the journal's compaction
/// would drop, but that must stay readable for good, go first (the audit trail's
/// `audit-archive.jsonl`). Appends are written with one write(2) and fsync'd (the directory too, when
/// the file is new) before the caller compacts, so a power cut leaves every record either still in the
/// journal or in the archive. A crash during an append can leave a torn last line; readers skip it.
public enum ArchiveFile {
    /// Appends `lines` (each one JSON document without a newline), durably when `sync`.
    public static func append(_ lines: [[UInt8]], path: String, directory: String, sync: Bool) throws(SRIOVError) {
        guard !lines.isEmpty else { return }
        let existed = DurableFile.exists(path)
        let fd = try DurableFile.open(path, O_WRONLY | O_CREAT | O_APPEND)
        defer { Glibc.close(fd) }
        // A torn line left by an earlier crash gets its own line end, so it cannot swallow the next one.
        var st = stat()
        var bytes: [UInt8] = []
        if fstat(fd, &st) == 0 && st.st_size > 0 {
            var last: UInt8 = 0
            if pread(fd, &last, 1, st.st_size - 1) == 1 && last != 0x0a { bytes.append(0x0a) }
        }
        bytes.reserveCapacity(lines.reduce(bytes.count) { $0 + $1.count + 1 })
        for line in lines {
            bytes += line
            bytes.append(0x0a)
        }
        try DurableFile.writeAll(fd, bytes, path: path)
        if sync {
            try DurableFile.sync(fd, path: path)
            if !existed { try DurableFile.syncDirectory(directory) }
        }
    }

    /// Every line of the file (empty when it does not exist), without the torn last line a crash may
    /// have left (a last line without its newline).
    public static func read(path: String) throws(SRIOVError) -> [[UInt8]] {
        guard let bytes = try DurableFile.readAll(path) else { return [] }
        var lines: [[UInt8]] = []
        var start = 0
        for (i, byte) in bytes.enumerated() where byte == 0x0a {
            if i > start { lines.append(Array(bytes[start..<i])) }
            start = i + 1
        }
        return lines
    }
}
