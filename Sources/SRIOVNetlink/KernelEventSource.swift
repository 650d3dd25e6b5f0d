#if canImport(Glibc)
import Glibc
#endif
import CNetlink
import SRIOVCore

/// The real host's events: kernel uevents and rtnetlink link notifications, read on a thread of their
/// own and delivered as one `AsyncStream`.
///
/// Why a thread: `recv(2)` on a netlink socket blocks until the kernel sends something, which may be
/// never. On the cooperative pool that would hold one of its threads for good (two on a 2-core host:
/// half the daemon). The thread waits in `poll(2)` on both sockets and a pipe; ending the stream writes
/// to the pipe, so the thread leaves `poll` and closes the sockets itself (never an fd closed under a
/// blocked call).
public struct KernelEventSource: HostEventSource {
    /// Receive buffer per socket: a flood of uevents (a driver reload removing 256 VFs sends ~1,000)
    /// fits without ENOBUFS. Raised with SO_RCVBUFFORCE when permitted (root), else SO_RCVBUF.
    let receiveBuffer: Int32

    public init(receiveBuffer: Int32 = 4 << 20) {
        self.receiveBuffer = receiveBuffer
    }

    /// Kernel interface: `socket(AF_NETLINK, SOCK_DGRAM, NETLINK_KOBJECT_UEVENT)` bound to group 1, and
    /// `socket(AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE)` bound to `RTMGRP_LINK` (`RTNLGRP_LINK`).
    public func events() throws(SRIOVError) -> AsyncStream<HostEvent> {
        let uevent = try Self.open(protocol: 15 /* NETLINK_KOBJECT_UEVENT */, groups: 1, what: "NETLINK_KOBJECT_UEVENT", buffer: receiveBuffer)
        let route: Int32
        do throws(SRIOVError) {
            route = try Self.open(protocol: 0 /* NETLINK_ROUTE */, groups: 1 /* RTMGRP_LINK */, what: "NETLINK_ROUTE (RTNLGRP_LINK)", buffer: receiveBuffer)
        } catch {
            close(uevent)
            throw error
        }
        var fds: [Int32] = [0, 0]
        guard Self.wakePipe(&fds) else {
            let e = errno
            close(uevent)
            close(route)
            throw SRIOVError(.io, "cannot create the wake-up pipe of the host event reader (\(Errno.name(e))); the process may be out of file descriptors: raise its limit (LimitNOFILE)", cause: .errno(e))
        }
        let (stream, continuation) = AsyncStream.makeStream(of: HostEvent.self, bufferingPolicy: .bufferingNewest(65_536))
        let wake = fds[1]
        let reader = Reader(uevent: uevent, route: route, wake: fds[0], wakeWriter: wake, continuation: continuation)
        continuation.onTermination = { _ in
            var byte: UInt8 = 1
            _ = write(wake, &byte, 1)
        }
        var thread = pthread_t()
        let box = Unmanaged.passRetained(reader).toOpaque()
        let rc = pthread_create(&thread, nil, { arg in
            guard let arg else { return nil }
            let reader = Unmanaged<Reader>.fromOpaque(arg).takeRetainedValue()
            reader.run()
            return nil
        }, box)
        guard rc == 0 else {
            Unmanaged<Reader>.fromOpaque(box).release()
            continuation.onTermination = nil
            reader.closeAll()
            throw SRIOVError(.io, "cannot start the host event reader thread (\(Errno.name(rc))); the process may have hit its thread limit", cause: .errno(rc))
        }
        pthread_detach(thread)
        return stream
    }

    static func open(protocol proto: Int32, groups: UInt32, what: String, buffer: Int32) throws(SRIOVError) -> Int32 {
        let fd = socket(16 /* AF_NETLINK */, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), proto)
        guard fd >= 0 else {
            let e = errno
            throw SRIOVError(e == EACCES || e == EPERM ? .permissionDenied : .io,
                             "cannot open a \(what) socket (\(Errno.name(e))); run sriovd as root, or turn the host watcher off (--no-host-events)",
                             cause: .errno(e))
        }
        var size = buffer
        if setsockopt(fd, SOL_SOCKET, 33 /* SO_RCVBUFFORCE */, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_nl()
        address.nl_family = sa_family_t(16)
        address.nl_groups = groups
        let rc = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_nl>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw SRIOVError(e == EACCES || e == EPERM ? .permissionDenied : .io,
                             "cannot join the \(what) multicast group (\(Errno.name(e))); run sriovd as root, or turn the host watcher off (--no-host-events)",
                             cause: .errno(e))
        }
        return fd
    }

    /// The reader thread's descriptors (immutable; closed only by that thread, after the stream ended:
    /// the stream's `onTermination`, its only other user of `wakeWriter`, runs once, before that).
    final class Reader: Sendable {
        let uevent: Int32
        let route: Int32
        let wake: Int32
        let wakeWriter: Int32
        let continuation: AsyncStream<HostEvent>.Continuation

        init(uevent: Int32, route: Int32, wake: Int32, wakeWriter: Int32, continuation: AsyncStream<HostEvent>.Continuation) {
            self.uevent = uevent
            self.route = route
            self.wake = wake
            self.wakeWriter = wakeWriter
            self.continuation = continuation
        }

        func closeAll() {
            close(uevent)
            close(route)
            close(wake)
            close(wakeWriter)
        }

        func run() {
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            var fds = [pollfd(fd: uevent, events: Int16(POLLIN), revents: 0), pollfd(fd: route, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
            loop: while true {
                let n = poll(&fds, nfds_t(fds.count), -1)
                if n < 0 {
                    if errno == EINTR { continue }
                    break
                }
                if fds[2].revents != 0 { break }
                // Let a burst finish (a lease step or a driver reload sends several messages in a row),
                // then read everything queued: the consumer is woken once per burst, not per message
                // (measured on the simulator's equivalent: per-message wake-ups cost 15-30% of a lease
                // cycle). Costs at most 2 ms of latency.
                var wakeOnly = [pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
                if poll(&wakeOnly, 1, 2) > 0 { break }
                for i in 0..<2 {
                    while true {
                        let got = buffer.withUnsafeMutableBytes { recv(fds[i].fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                        if got < 0 {
                            let e = errno
                            if e == EINTR { continue }
                            if e == EAGAIN || e == EWOULDBLOCK { break }
                            // The socket's buffer overflowed: events were lost; a full pass reads the host.
                            if e == ENOBUFS { continuation.yield(.overflow); continue }
                            break loop
                        }
                        let bytes = Array(buffer[0..<got])
                        if i == 0 {
                            if let event = UeventParser.parse(bytes) { continuation.yield(event) }
                        } else {
                            for event in LinkEventParser.parse(bytes) { continuation.yield(event) }
                        }
                    }
                }
            }
            continuation.finish()
            closeAll()
        }
    }
}

extension KernelEventSource {
    /// A close-on-exec, non-blocking pipe (`pipe2` is not visible to Swift without _GNU_SOURCE).
    static func wakePipe(_ fds: inout [Int32]) -> Bool {
        guard pipe(&fds) == 0 else { return false }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        return true
    }
}
