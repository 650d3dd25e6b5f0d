#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SRIOVCore
import Synchronization

/// What the power-loss layer of the tests (`Tests/SRIOVJournalTests/PowerLossTests.swift`) is told:
/// every call that makes data or a directory entry durable, or changes what a crash could leave, right
/// after it ran. The layer keeps, per file, what was last fsync'd and, per directory, the entries as of
/// its last fsync, and checks recovery against exactly that (every write not yet fsync'd dropped).
/// Never set outside tests.
protocol DurabilityObserver: Sendable {
    func created(_ path: String)
    func synced(_ fd: Int32, path: String)
    func syncedDirectory(_ directory: String)
    func renamed(_ from: String, to: String)
    func unlinked(_ path: String)
}

/// The POSIX calls behind convention 9 (append + fsync; temp file, fsync, rename, fsync the directory),
/// each turning errno into an `SRIOVError` that names the file.
enum DurableFile {
    /// The tests' power-loss layer; nil in sriovd.
    static let observer = Mutex<(any DurabilityObserver)?>(nil)

    static func observe(_ body: (any DurabilityObserver) -> Void) {
        if let observer = observer.withLock({ $0 }) { body(observer) }
    }

    static func errnoError(_ what: String, _ e: Int32 = errno, hint: String = "") -> SRIOVError {
        let code: SRIOVError.Code
        switch e {
        case ENOENT: code = .notFound
        case EACCES, EPERM: code = .permissionDenied
        // A read-only file system is not a missing right: no user could write there (I/O error, 74).
        case EROFS: code = .io
        case EBUSY: code = .busy
        default: code = .io
        }
        var hint = hint
        if e == EROFS {
            hint = "the file system is read-only: remount it read-write, or pass --state-dir with a directory on a writable one"
        }
        let tail = hint.isEmpty ? "" : "; \(hint)"
        return SRIOVError(code, "\(what): \(Errno.name(e)) (\(String(cString: strerror(e))))\(tail)", cause: .errno(e))
    }

    /// open(2), retried on EINTR, always O_CLOEXEC so children never inherit the lock or the journal.
    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o640) throws(SRIOVError) -> Int32 {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 {
                if flags & O_CREAT != 0 { observe { $0.created(path) } }
                return fd
            }
            if errno == EINTR { continue }
            throw errnoError("cannot open \(path)")
        }
    }

    /// write(2) until every byte is written (a regular file takes it in one call unless the disk fills).
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(SRIOVError) {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, base + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw errnoError("cannot write \(bytes.count - done) bytes to \(path)", hint: "is the disk full?")
            }
            done += n
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(SRIOVError) {
        let result: Result<Void, SRIOVError> = bytes.withUnsafeBytes { raw in
            do throws(SRIOVError) { try writeAll(fd, raw, path: path); return .success(()) } catch { return .failure(error) }
        }
        try result.get()
    }

    static func sync(_ fd: Int32, path: String) throws(SRIOVError) {
        try fsyncCounted(fd, path: path)
        observe { $0.synced(fd, path: path) }
    }

    /// fsync of a directory makes a create or rename in it durable.
    static func syncDirectory(_ directory: String) throws(SRIOVError) {
        let fd = try open(directory, O_RDONLY | O_DIRECTORY)
        defer { Glibc.close(fd) }
        try fsyncCounted(fd, path: directory)
        observe { $0.syncedDirectory(directory) }
    }

    /// fsync(2), retried on EINTR, with a failpoint step before and after (and, in benchmarks only,
    /// padded to `EmulatedFsync`'s minimum).
    private static func fsyncCounted(_ fd: Int32, path: String) throws(SRIOVError) {
        Failpoints.step("before fsync \(path)")
        let started = EmulatedFsync.start()
        while fsync(fd) != 0 {
            if errno == EINTR { continue }
            throw errnoError("cannot fsync \(path)", hint: "the data may not be on disk: check the disk (dmesg) and restart sriovd")
        }
        EmulatedFsync.pad(since: started)
        Failpoints.step("after fsync \(path)")
    }

    static func rename(_ from: String, _ to: String) throws(SRIOVError) {
        guard Glibc.rename(from, to) == 0 else { throw errnoError("cannot rename \(from) to \(to)") }
        observe { $0.renamed(from, to: to) }
    }

    /// unlink(2), ignoring errors (a temp file that is already gone).
    static func unlink(_ path: String) {
        if Glibc.unlink(path) == 0 { observe { $0.unlinked(path) } }
    }

    static func truncate(_ fd: Int32, to length: Int, path: String) throws(SRIOVError) {
        while ftruncate(fd, off_t(length)) != 0 {
            if errno == EINTR { continue }
            throw errnoError("cannot truncate \(path) to \(length) bytes")
        }
    }

    /// pread(2) into `buffer` at `offset`; returns the byte count (0 at end of file).
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int, path: String) throws(SRIOVError) -> Int {
        while true {
            let n = pread(fd, buffer.baseAddress, buffer.count, off_t(offset))
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw errnoError("cannot read \(path)")
        }
    }

    /// The whole file, or nil if it does not exist.
    static func readAll(_ path: String) throws(SRIOVError) -> [UInt8]? {
        let fd: Int32
        do { fd = try open(path, O_RDONLY) } catch { if error.errno == ENOENT { return nil } else { throw error } }
        defer { Glibc.close(fd) }
        var bytes: [UInt8] = []
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { chunk.deallocate() }
        while true {
            let n = try read(fd, into: chunk, at: bytes.count, path: path)
            if n == 0 { return bytes }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
        }
    }

    /// Writes `bytes` as `path` so that a crash leaves either the old file or the new one, never a mix:
    /// `<path>.tmp`, fsync, rename, fsync the directory.
    static func replace(_ path: String, in directory: String, with bytes: [UInt8], sync doSync: Bool) throws(SRIOVError) {
        let tmp = path + ".tmp"
        let fd = try open(tmp, O_WRONLY | O_CREAT | O_TRUNC)
        do {
            try writeAll(fd, bytes, path: tmp)
            if doSync { try sync(fd, path: tmp) }
        } catch {
            Glibc.close(fd)
            DurableFile.unlink(tmp)
            throw error
        }
        Glibc.close(fd)
        try rename(tmp, path)
        if doSync { try syncDirectory(directory) }
    }

    /// mkdir -p with mode 0750 for each missing component.
    static func ensureDirectory(_ path: String) throws(SRIOVError) {
        if isDirectory(path) { return }
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o750) != 0 && errno != EEXIST {
                throw errnoError("cannot create the state directory \(path) (at \(current))",
                                 hint: "run as root or pass --state-dir with a writable directory")
            }
        }
        guard isDirectory(path) else {
            throw SRIOVError(.io, "state directory \(path) is not a directory; pass --state-dir with a directory")
        }
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }
}
