import Hummingbird
import NIOCore

/// The request context of sriovd's API: Hummingbird's core plus the connection, for SO_PEERCRED.
public struct ServiceRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The accepted connection (an in-memory channel in router tests).
    public let channel: any Channel

    /// The connection's identity (SO_PEERCRED read once per connection), when the server set it up.
    public let connection: ConnectionIdentity?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
        self.connection = ConnectionIdentity.current
    }

    /// Who is calling and what it may do; set by `AccessMiddleware` before the routes run
    /// (`Authorization.require` reads it).
    public var access: RequestAccess?

    /// 64 KiB: a lease request is a few hundred bytes.
    public var maxUploadSize: Int { 64 * 1024 }

    /// The caller for the audit trail: `tenant nfv (uid 1000)` once `AccessMiddleware` identified it,
    /// else `uid N` from SO_PEERCRED, or `unknown` off a Unix socket.
    public func caller() async -> String {
        if let caller = access?.caller { return caller.description }
        if let peer = connection?.peer, case .unixDomainSocket? = channel.localAddress {
            logger.debug("caller", metadata: ["uid": "\(peer.uid)", "gid": "\(peer.gid)", "pid": "\(peer.pid)"])
            return peer.description
        }
        if let peer = await PeerCredentials.of(channel) {
            logger.debug("caller", metadata: ["uid": "\(peer.uid)", "gid": "\(peer.gid)", "pid": "\(peer.pid)"])
            return peer.description
        }
        return "unknown"
    }
}
