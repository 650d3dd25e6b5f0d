#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// Who is on the other end of a Unix socket, as the kernel says (SO_PEERCRED): not what the caller claims.
public struct PeerCredentials: Sendable, Equatable, CustomStringConvertible {
    public var uid: UInt32
    public var gid: UInt32
    public var pid: Int32

    public init(uid: UInt32, gid: UInt32, pid: Int32) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
    }

    /// How the audit trail names the caller.
    public var description: String { "uid \(uid)" }

    /// Kernel interface: `getsockopt(fd, SOL_SOCKET, SO_PEERCRED)` on the accepted connection.
    /// nil when the channel is not a socket (the in-memory test router) or not a Unix socket.
    /// `struct ucred` of <sys/socket.h> (pid_t pid; uid_t uid; gid_t gid), which Glibc's module map hides
    /// without _GNU_SOURCE; same layout, 12 bytes.
    struct UCred: Sendable {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
    }

    public static func of(_ channel: any Channel) async -> PeerCredentials? {
        try? await read(channel).get()
    }

    /// The same as a future that never fails (nil instead). On the channel's event loop (a connection
    /// being set up) the option is read at once, without a hop.
    static func read(_ channel: any Channel) -> EventLoopFuture<PeerCredentials?> {
        guard let provider = channel as? any SocketOptionProvider, case .unixDomainSocket? = channel.localAddress else {
            return channel.eventLoop.makeSucceededFuture(nil)
        }
        let cred: EventLoopFuture<UCred> = provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        return cred.map { Optional(PeerCredentials(uid: $0.uid, gid: $0.gid, pid: $0.pid)) }.recover { _ in nil }
    }
}
