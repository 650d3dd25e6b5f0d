#if canImport(Glibc)
import Glibc
#endif
import Crypto
import SRIOVConfig
import SRIOVCore

/// The bearer tokens TCP callers present, stored hashed: one `name sha256:<64 hex digits>` per line
/// (`#` comments and blank lines allowed). The hash is SHA-256 of the token's bytes, so an operator
/// makes a line with `printf '%s' "$TOKEN" | sha256sum`. A file not owned by root (or sriovd's user), or that
/// its group or others may read or write, is refused.
public struct TokenStore: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var digest: [UInt8]
    }

    public private(set) var entries: [Entry]
    /// The file it came from, for messages.
    public var source: String

    public init(entries: [Entry], source: String) {
        self.entries = entries
        self.source = source
    }

    public var names: [String] { entries.map(\.name) }

    /// The name of the token whose hash matches `presented`, or nil. Every entry is compared, each in
    /// constant time, so the time taken does not depend on which entry (or how much of it) matched.
    public func name(of presented: String) -> String? {
        let digest = Array(SHA256.hash(data: Array(presented.utf8)))
        var found: String?
        for entry in entries where ConstantTime.equal(entry.digest, digest) {
            if found == nil { found = entry.name }
        }
        return found
    }

    /// `sha256:<hex>` of a token, the form the file stores.
    public static func hashLine(_ token: String) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return "sha256:" + String(decoding: SHA256.hash(data: Array(token.utf8)).flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xf)]] },
                                  as: UTF8.self)
    }

    /// Reads the file, refusing one that is not a regular file, is owned by another user, or that its
    /// group or other users may read or write.
    /// Kernel interface: `open(2)` + `fstat(2)` + `read(2)` (the mode checked is that of the file read,
    /// after any symbolic link).
    public static func load(path: String) throws(SRIOVError) -> TokenStore {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            let code: SRIOVError.Code = e == ENOENT ? .notFound : (e == EACCES || e == EPERM) ? .permissionDenied : .io
            let hint = e == ENOENT ? "create it (one `name sha256:<hex>` line per token; Docs/Configuration.md, \"Tokens\") or fix access.tokens_file"
                : "check the path and its permissions"
            throw SRIOVError(code, "cannot open the tokens file \(path) (\(Errno.name(e))); \(hint)", cause: .errno(e))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            throw SRIOVError(.io, "cannot stat the tokens file \(path) (\(Errno.name(e)))", cause: .errno(e))
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw SRIOVError(.invalidArgument, "the tokens file \(path) is not a regular file; point access.tokens_file at a file")
        }
        if let problem = accessProblem(path: path, mode: st.st_mode, owner: st.st_uid, daemonUID: geteuid()) {
            throw SRIOVError(.permissionDenied, problem)
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                let e = errno
                if e == EINTR { continue }
                throw SRIOVError(.io, "cannot read the tokens file \(path) (\(Errno.name(e)))", cause: .errno(e))
            }
            if n == 0 { break }
            bytes += chunk[0..<n]
            guard bytes.count <= 1 << 20 else {
                throw SRIOVError(.invalidArgument, "the tokens file \(path) is over 1 MiB; it should hold one short line per token")
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw SRIOVError(.invalidArgument, "the tokens file \(path) is not UTF-8 text")
        }
        return try parse(text, source: path)
    }

    /// Why the tokens file may not be trusted, or nil. Whoever may write it can add an admin token, and
    /// whoever may read it learns every token's hash: so the owner must be root or sriovd's own user,
    /// and neither the group nor others may read or write it (mode 600 or 400).
    public static func accessProblem(path: String, mode: mode_t, owner: uid_t, daemonUID: uid_t) -> String? {
        let bits = mode & 0o777
        let chown = daemonUID == 0 ? "root" : "root (or uid \(daemonUID), sriovd's user)"
        if owner != 0 && owner != daemonUID {
            return "the tokens file \(path) is owned by uid \(owner), who could add a token of their own; run `chown \(daemonUID == 0 ? "root" : String(daemonUID)) \(path) && chmod 600 \(path)` (the owner must be \(chown)) and start sriovd again"
        }
        if bits & 0o077 != 0 {
            let who = bits & 0o007 != 0 ? "other users" : "its group"
            let what = bits & 0o022 != 0 ? "writable" : "readable"
            return "the tokens file \(path) is \(what) by \(who) (mode \(String(bits, radix: 8))); run `chmod 600 \(path)` (only its owner, root or sriovd's user, may read it) and start sriovd again"
        }
        return nil
    }

    /// Parses the file's text; errors name the line.
    public static func parse(_ text: String, source: String) throws(SRIOVError) -> TokenStore {
        var entries: [Entry] = []
        var lineOf: [String: Int] = [:]
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(raw).trimmingSpaces
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            let at = "\(source): line \(i + 1)"
            guard fields.count == 2 else {
                throw SRIOVError(.invalidArgument, "\(at): expected `name sha256:<64 hex digits>`, got \(fields.count) field\(fields.count == 1 ? "" : "s"); make the line with: printf '%s' \"$TOKEN\" | sha256sum")
            }
            let name = String(fields[0])
            if let problem = TenantConfig.tokenNameProblem(name) {
                throw SRIOVError(.invalidArgument, "\(at): invalid token name \(Quote.shell(name)): \(problem)")
            }
            let hash = String(fields[1])
            guard hash.hasPrefix("sha256:"), let digest = hexBytes(hash.dropFirst("sha256:".count)), digest.count == 32 else {
                throw SRIOVError(.invalidArgument, "\(at): token \(name)'s hash must be sha256: followed by 64 hex digits (the token itself is never stored); make it with: printf '%s' \"$TOKEN\" | sha256sum")
            }
            if let first = lineOf[name] {
                throw SRIOVError(.invalidArgument, "\(at): token \(Quote.shell(name)) is already on line \(first); names must be unique")
            }
            lineOf[name] = i + 1
            entries.append(Entry(name: name, digest: digest))
        }
        return TokenStore(entries: entries, source: source)
    }

    private static func hexBytes(_ text: Substring) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x41...0x46: return c - 0x41 + 10
            case 0x61...0x66: return c - 0x61 + 10
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var i = 0
        while i < digits.count {
            guard let hi = nibble(digits[i]), let lo = nibble(digits[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}

/// Comparisons whose time does not depend on the data.
public enum ConstantTime {
    /// True when `a` and `b` are equal. Takes the same time for every `a` of a given length: every byte
    /// is visited, and differences are OR-ed together instead of returning at the first one.
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<a.count { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}
