#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SRIOVCore

/// `<dir>/lock`, held with flock(LOCK_EX) for as long as a process owns the state directory. flock
/// belongs to the open file description, so a second open in the same process conflicts too, and the
/// kernel drops it when the process dies: a crash never leaves a stale lock.
struct StateLock: Sendable {
    let fd: Int32
    let directory: String

    static func acquire(directory: String) throws(SRIOVError) -> StateLock {
        let path = directory + "/lock"
        let fd = try DurableFile.open(path, O_RDWR | O_CREAT)
        var retries = 0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            if e == EINTR { continue }
            let owner = holder(fd)
            // This process's own pid, after it released the lock: a child it is starting (fork, then
            // exec) holds a copy of the descriptor until its exec closes it (O_CLOEXEC). Wait that
            // out (up to 1 s) rather than call the directory busy. Seen in the test suite, which
            // starts CLI processes while it reopens journals.
            if e == EWOULDBLOCK, owner == "\(getpid())", retries < 100 {
                retries += 1
                usleep(10_000)
                continue
            }
            close(fd)
            if e == EWOULDBLOCK {
                throw SRIOVError(.busy,
                                 "state directory \(directory) is in use by another process (pid \(owner)): stop it (or `sriovctl` commands that use it) first, or pass --state-dir with another directory",
                                 cause: .errno(e))
            }
            throw DurableFile.errnoError("cannot lock \(path)", e)
        }
        // Record the owner for the message above; the lock itself is the flock, not this text.
        let pid = Array("\(getpid())\n".utf8)
        if ftruncate(fd, 0) == 0 { _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } }
        return StateLock(fd: fd, directory: directory)
    }

    private static func holder(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return "unknown" }
        let text = String(decoding: buffer[0..<n], as: UTF8.self).filter { $0.isNumber }
        return text.isEmpty ? "unknown" : text
    }

    /// Closing the descriptor releases the flock.
    func release() { close(fd) }
}
