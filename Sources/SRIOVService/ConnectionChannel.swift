import HummingbirdCore
import Logging
import NIOCore
import Synchronization

/// What sriovd knows about one accepted connection, for every request that arrives on it (HTTP/1.1
/// keep-alive: many). The caller's SO_PEERCRED is read once, when the connection is set up: the
/// kernel records the peer's credentials at connect(2), so they cannot change for the connection's
/// life anyway. The caller it maps to is remembered too (the user database is asked at most once per
/// connection).
public final class ConnectionIdentity: Sendable {
    /// The connection of the request being handled; set by `IdentifiedHTTP1Channel` around the
    /// connection's whole request loop. nil in router tests (no connection) and for a server set up
    /// without it (requests then read SO_PEERCRED themselves).
    @TaskLocal public static var current: ConnectionIdentity?

    /// nil off a Unix socket, or when the kernel did not say.
    public let peer: PeerCredentials?
    private let resolved = Mutex<(control: AccessControl, caller: Caller)?>(nil)

    public init(peer: PeerCredentials?) {
        self.peer = peer
    }

    /// The caller `control` maps `peer` to, computed on the connection's first request.
    func caller(_ control: AccessControl, from peer: PeerCredentials) -> Caller {
        if let cached = resolved.withLock({ $0 }), cached.control === control { return cached.caller }
        let caller = control.caller(of: peer)
        resolved.withLock { $0 = (control, caller) }
        return caller
    }
}

/// Hummingbird's HTTP/1.1 channel, plus the connection's identity: SO_PEERCRED is read on the event
/// loop while the connection is set up (no extra hop), and every request on the connection finds it
/// in `ConnectionIdentity.current`.
struct IdentifiedHTTP1Channel: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        let http: HTTP1Channel.Value
        let identity: ConnectionIdentity
        var channel: any Channel { http.channel }
    }

    let http: HTTP1Channel

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let peer = PeerCredentials.read(channel)
        return http.setup(channel: channel, logger: logger).and(peer).map { http, peer in
            Value(http: http, identity: ConnectionIdentity(peer: peer))
        }
    }

    func handle(value: Value, logger: Logger) async {
        await ConnectionIdentity.$current.withValue(value.identity) {
            await http.handle(value: value.http, logger: logger)
        }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with the connection's identity (`IdentifiedHTTP1Channel`). Kept-alive connections that
    /// stay idle for `idleTimeout` are closed (a client reconnects).
    static func identifiedHTTP1(idleTimeout: TimeAmount?) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            IdentifiedHTTP1Channel(http: HTTP1Channel(responder: responder, configuration: .init(idleTimeout: idleTimeout)))
        }
    }
}
