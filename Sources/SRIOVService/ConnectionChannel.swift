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
/// in `ConnectionIdentity.current`. With a tracker, a connection past a limit (`ConnectionLimits`) is
/// closed right there; its set-up still succeeds (a failed set-up would end the server's accept loop).
struct IdentifiedHTTP1Channel: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        /// nil: refused by the tracker, already closed.
        let http: HTTP1Channel.Value?
        let identity: ConnectionIdentity
        let channel: any Channel
    }

    let http: HTTP1Channel
    let tracker: ConnectionTracker?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let http = self.http
        let tracker = self.tracker
        return PeerCredentials.read(channel).flatMap { credentials in
            if let tracker {
                let peer = tracker.peer(of: channel, credentials: credentials)
                if tracker.admit(peer) != nil {
                    channel.close(promise: nil)
                    return channel.eventLoop.makeSucceededFuture(Value(http: nil, identity: ConnectionIdentity(peer: credentials),
                                                                       channel: channel))
                }
                channel.closeFuture.whenComplete { _ in tracker.closed(peer) }
            }
            return http.setup(channel: channel, logger: logger).map { value in
                Value(http: value, identity: ConnectionIdentity(peer: credentials), channel: channel)
            }
        }
    }

    func handle(value: Value, logger: Logger) async {
        guard let connection = value.http else { return }
        await ConnectionIdentity.$current.withValue(value.identity) {
            await http.handle(value: connection, logger: logger)
        }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with the connection's identity (`IdentifiedHTTP1Channel`) and its guard
    /// (`ConnectionGuardHandler`). Kept-alive connections that stay idle for `idleTimeout` are closed (a
    /// client reconnects); with a tracker, connections past its limits are closed when accepted.
    static func identifiedHTTP1(idleTimeout: TimeAmount?, tracker: ConnectionTracker?,
                                writeStall: TimeAmount = ConnectionLimits().writeStall) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            IdentifiedHTTP1Channel(
                http: HTTP1Channel(responder: responder, configuration: .init(
                    additionalChannelHandlers: [ConnectionGuardHandler(writeStall: tracker?.limits.writeStall ?? writeStall)],
                    idleTimeout: idleTimeout)),
                tracker: tracker)
        }
    }
}
