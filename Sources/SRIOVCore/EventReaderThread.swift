#if canImport(Glibc)
import Glibc
#endif

/// What an `EventReaderThread` reads: descriptors to wait on, and how to drain them once one is
/// readable. Used only by the reader thread (a drainer may keep state between calls for that reason).
public protocol EventDrainer: AnyObject, Sendable {
    /// Polled for input; the thread closes them when it ends.
    var descriptors: [Int32] { get }
    /// Reads everything queued (without blocking) and yields its events; false ends the thread.
    func drain(into continuation: AsyncStream<HostEvent>.Continuation) -> Bool
}

/// A host event source's thread: it waits in `poll(2)` on the drainer's descriptors and a wake-up
/// pipe, and delivers what the drainer reads as one `AsyncStream`.
///
/// Why a thread: a blocking read on a netlink socket or an inotify watch may wait for ever. On the
/// cooperative pool that would hold one of its threads for good (two on a 2-core host: half the
/// daemon). Ending the stream writes to the pipe, so the thread leaves `poll` and closes every
/// descriptor itself (never an fd closed under a blocked call).
public enum EventReaderThread {
    /// Starts the thread. `what` names the source in errors ("the host event reader"). On failure the
    /// drainer's descriptors are closed and nothing runs.
    public static func start(_ drainer: some EventDrainer, what: String) throws(SRIOVError) -> AsyncStream<HostEvent> {
        var fds: [Int32] = [0, 0]
        guard wakePipe(&fds) else {
            let e = errno
            for fd in drainer.descriptors { close(fd) }
            throw SRIOVError(.io, "cannot create the wake-up pipe of \(what) (\(Errno.name(e))); the process may be out of file descriptors: raise its limit (LimitNOFILE)", cause: .errno(e))
        }
        let (stream, continuation) = AsyncStream.makeStream(of: HostEvent.self, bufferingPolicy: .bufferingNewest(65_536))
        let wakeWriter = fds[1]
        let reader = Reader(drainer: drainer, wake: fds[0], wakeWriter: wakeWriter, continuation: continuation)
        continuation.onTermination = { _ in
            var byte: UInt8 = 1
            _ = write(wakeWriter, &byte, 1)
        }
        var thread = pthread_t()
        let box = Unmanaged.passRetained(reader).toOpaque()
        let rc = pthread_create(&thread, nil, { arg in
            guard let arg else { return nil }
            Unmanaged<Reader>.fromOpaque(arg).takeRetainedValue().run()
            return nil
        }, box)
        guard rc == 0 else {
            Unmanaged<Reader>.fromOpaque(box).release()
            continuation.onTermination = nil
            reader.closeAll()
            throw SRIOVError(.io, "cannot start the thread of \(what) (\(Errno.name(rc))); the process may have hit its thread limit", cause: .errno(rc))
        }
        pthread_detach(thread)
        return stream
    }

    /// A close-on-exec, non-blocking pipe (`pipe2` is not visible to Swift without _GNU_SOURCE).
    static func wakePipe(_ fds: inout [Int32]) -> Bool {
        guard pipe(&fds) == 0 else { return false }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        return true
    }

    /// The thread's descriptors (immutable; closed only by the thread, after the stream ended: the
    /// stream's `onTermination`, the only other user of `wakeWriter`, runs once, before that).
    final class Reader: Sendable {
        let drainer: any EventDrainer
        let wake: Int32
        let wakeWriter: Int32
        let continuation: AsyncStream<HostEvent>.Continuation

        init(drainer: any EventDrainer, wake: Int32, wakeWriter: Int32, continuation: AsyncStream<HostEvent>.Continuation) {
            self.drainer = drainer
            self.wake = wake
            self.wakeWriter = wakeWriter
            self.continuation = continuation
        }

        func closeAll() {
            for fd in drainer.descriptors { close(fd) }
            close(wake)
            close(wakeWriter)
        }

        func run() {
            var fds = drainer.descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            fds.append(pollfd(fd: wake, events: Int16(POLLIN), revents: 0))
            while true {
                let n = poll(&fds, nfds_t(fds.count), -1)
                if n < 0 {
                    if errno == EINTR { continue }
                    break
                }
                if fds[fds.count - 1].revents != 0 { break }
                // Let a burst finish (a lease step or a driver reload sends several messages in a row,
                // the simulator appends several lines), then read everything queued: the consumer is
                // woken once per burst, not per message (per-message wake-ups cost 15-30% of a lease
                // cycle on the simulator). Costs at most 2 ms of latency.
                var wakeOnly = [pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
                if poll(&wakeOnly, 1, 2) > 0 { break }
                if !drainer.drain(into: continuation) { break }
            }
            continuation.finish()
            closeAll()
        }
    }
}
