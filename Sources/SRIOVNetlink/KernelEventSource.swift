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
        return try EventReaderThread.start(Reader(uevent: uevent, route: route), what: "the host event reader")
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

    /// The two sockets, drained on `EventReaderThread`'s thread (which closes them when it ends).
    final class Reader: EventDrainer {
        let uevent: Int32
        let route: Int32
        /// Only the reader thread uses it.
        nonisolated(unsafe) var buffer = [UInt8](repeating: 0, count: 1 << 16)

        init(uevent: Int32, route: Int32) {
            self.uevent = uevent
            self.route = route
        }

        var descriptors: [Int32] { [uevent, route] }

        func drain(into continuation: AsyncStream<HostEvent>.Continuation) -> Bool {
            for fd in [uevent, route] {
                while true {
                    let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                    if got < 0 {
                        let e = errno
                        if e == EINTR { continue }
                        if e == EAGAIN || e == EWOULDBLOCK { break }
                        // The socket's buffer overflowed: events were lost; a full pass reads the host.
                        if e == ENOBUFS { continuation.yield(.overflow); continue }
                        return false
                    }
                    let bytes = Array(buffer[0..<got])
                    if fd == uevent {
                        if let event = UeventParser.parse(bytes) { continuation.yield(event) }
                    } else {
                        for event in LinkEventParser.parse(bytes) { continuation.yield(event) }
                    }
                }
            }
            return true
        }
    }
}
