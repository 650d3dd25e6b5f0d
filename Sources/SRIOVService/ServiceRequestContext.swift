import Hummingbird
import NIOCore

/// The request context of sriovd's API: Hummingbird's core plus the connection, for SO_PEERCRED.
public struct ServiceRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The accepted connection (an in-memory channel in router tests).
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }

    /// 64 KiB: a lease request is a few hundred bytes.
    public var maxUploadSize: Int { 64 * 1024 }

    /// The caller for the audit trail: `uid N` from SO_PEERCRED, or `unknown` off a Unix socket.
    public func caller() async -> String {
        if let peer = await PeerCredentials.of(channel) {
            logger.debug("caller", metadata: ["uid": "\(peer.uid)", "gid": "\(peer.gid)", "pid": "\(peer.pid)"])
            return peer.description
        }
        return "unknown"
    }
}
