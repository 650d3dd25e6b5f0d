import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A program the tests run (`sriovctl`, `sriovd`, the guide's harness), started with `posix_spawn`
/// rather than Foundation's `Process`: once the suite ran its process-starting suites side by side,
/// `Process.run()` crashed inside Foundation (a `memmove` through an unmapped page) in about one
/// whole-suite run in three, even with the starts serialized, and `FileHandle.readDataToEndOfFile()`
/// crashes (`try!`) when a read is interrupted by a signal (`EINTR`). Here the output is read with
/// `read(2)`, retrying `EINTR`, from both pipes at once (`poll`), so a child filling the pipe not
/// being read cannot stall.
public final class ChildProcess: @unchecked Sendable {
    public let processIdentifier: pid_t
    fileprivate static let spawnLock = NSLock()

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which the Glibc module
    /// does not export (it is declared for _GNU_SOURCE only).
    private static let addCloseFrom: @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32 = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else {
            fatalError("this glibc has no posix_spawn_file_actions_addclosefrom_np (2.34 or later needed)")
        }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()
    private let lock = NSLock()
    // Guarded by `lock`.
    private var waitStatus: Int32?

    /// Where a standard stream of the child goes.
    public enum Stream {
        case inherit
        case pipe(Pipe)
        case file(descriptor: Int32)
        case readFrom(path: String)
    }

    /// A pipe whose read end stays with the test and whose write end is the child's.
    public final class Pipe: @unchecked Sendable {
        public let readEnd: Int32
        fileprivate var writeEnd: Int32

        public init() throws {
            var fds: [Int32] = [-1, -1]
            // Made close-on-exec under the spawn lock: a child spawned between pipe(2) and fcntl(2)
            // would hold the write end, and the read would not end before that child did.
            let made = ChildProcess.spawnLock.withLock { () -> Bool in
                guard pipe(&fds) == 0 else { return false }
                for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
                return true
            }
            guard made else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            readEnd = fds[0]
            writeEnd = fds[1]
        }

        deinit {
            close(readEnd)
            if writeEnd >= 0 { close(writeEnd) }
        }

        fileprivate func closeWriteEnd() {
            if writeEnd >= 0 { close(writeEnd) }
            writeEnd = -1
        }
    }

    /// Starts `executable` (a path) with `arguments`; `environment` nil passes this process's.
    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                stdin: Stream = .inherit, stdout: Stream = .inherit, stderr: Stream = .inherit) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var paths: [UnsafeMutablePointer<CChar>] = []
        defer { paths.forEach { free($0) } }
        for (stream, target) in [(stdin, Int32(0)), (stdout, 1), (stderr, 2)] {
            switch stream {
            case .inherit: break
            case .pipe(let pipe): posix_spawn_file_actions_adddup2(&actions, pipe.writeEnd, target)
            case .file(let fd): posix_spawn_file_actions_adddup2(&actions, fd, target)
            case .readFrom(let path):
                let p = strdup(path)!
                paths.append(p)
                posix_spawn_file_actions_addopen(&actions, target, p, O_RDONLY, 0)
            }
        }
        // Only 0-2 reach the child: a descriptor of another test (a listening socket it closes to
        // see ECONNREFUSED) must not live on in a child started meanwhile.
        _ = ChildProcess.addCloseFrom(&actions, 3)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { env.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = ChildProcess.spawnLock.withLock { posix_spawn(&pid, executable, &actions, nil, argv, env) }
        for stream in [stdin, stdout, stderr] { if case .pipe(let pipe) = stream { pipe.closeWriteEnd() } }
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
        processIdentifier = pid
    }

    /// Whether the child still runs (reaps it once it has exited).
    public var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        if waitStatus != nil { return false }
        var status: Int32 = 0
        let r = waitpid(processIdentifier, &status, WNOHANG)
        if r == processIdentifier { waitStatus = status; return false }
        return r == 0
    }

    /// Waits for the child to end.
    public func waitUntilExit() {
        lock.lock()
        defer { lock.unlock() }
        guard waitStatus == nil else { return }
        var status: Int32 = 0
        while waitpid(processIdentifier, &status, 0) < 0 && errno == EINTR {}
        waitStatus = status
    }

    /// The exit status (after `waitUntilExit`), or 128 + the signal that ended it.
    public var terminationStatus: Int32 {
        waitUntilExit()
        let status = lock.withLock { waitStatus ?? 0 }
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Whether a signal ended the child (after `waitUntilExit`).
    public var killedBySignal: Bool {
        waitUntilExit()
        let status = lock.withLock { waitStatus ?? 0 }
        return status & 0x7f != 0 && status & 0x7f != 0x7f
    }

    /// Sends SIGTERM.
    public func terminate() { kill(processIdentifier, SIGTERM) }

    /// Everything `pipe` gives until end of file.
    public static func readToEnd(_ pipe: Pipe) -> Data {
        readToEnd(pipe, nil).0
    }

    /// Everything each pipe gives until end of file, read together.
    public static func readToEnd(_ first: Pipe, _ second: Pipe?) -> (Data, Data) {
        var fds = [pollfd(fd: first.readEnd, events: Int16(POLLIN), revents: 0)]
        if let second { fds.append(pollfd(fd: second.readEnd, events: Int16(POLLIN), revents: 0)) }
        var data = [Data](repeating: Data(), count: fds.count)
        var open = fds.count
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while open > 0 {
            if poll(&fds, nfds_t(fds.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            for i in fds.indices where fds[i].fd >= 0 && fds[i].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(fds[i].fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    data[i].append(contentsOf: buffer[0..<n])
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    fds[i].fd = -1   // end of file (or an error): poll ignores it from now on
                    open -= 1
                }
            }
        }
        return (data[0], data.count > 1 ? data[1] : Data())
    }
}
