#if canImport(Glibc)
import Glibc
#endif
import HTTPTypes
import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

/// How many connections the API keeps open, and for how long it waits on a peer that stopped reading.
/// Without limits, anyone who can reach the TCP port (no token needed) or any member of the socket's
/// group could open connections until sriovd runs out of descriptors, and then nobody, root on the
/// Unix socket included, gets an answer. Connections past a limit are closed as soon as they are
/// accepted (counted in `sriovd_connections_refused_total`), so sriovd's work per refused connection
/// is one accept and one close.
public struct ConnectionLimits: Sendable, Equatable {
    /// TCP connections open at once, all peers together.
    public var tcpTotal: Int
    /// TCP connections open at once from one address.
    public var tcpPerAddress: Int
    /// Unix socket connections open at once from one uid. Root and sriovd's own uid have no limit:
    /// the operator always gets in.
    public var unixPerUID: Int
    /// A response the peer has not read for this long (the socket's buffers and sriovd's 64 KiB of
    /// queued output full) closes the connection: an event subscriber that stopped reading.
    public var writeStall: TimeAmount

    public init(tcpTotal: Int = 512, tcpPerAddress: Int = 64, unixPerUID: Int = 128, writeStall: TimeAmount = .seconds(30)) {
        self.tcpTotal = tcpTotal
        self.tcpPerAddress = tcpPerAddress
        self.unixPerUID = unixPerUID
        self.writeStall = writeStall
    }

    /// Descriptors sriovd should be able to open: every TCP connection, a generous number of Unix
    /// socket connections, and room for the journal, sysfs and netlink.
    public var descriptorsWanted: Int { tcpTotal + 4 * unixPerUID + 256 }
}

/// Counts the open connections per listener and peer, and admits a new one only within the limits.
public final class ConnectionTracker: Sendable {
    public let limits: ConnectionLimits
    /// uids without a limit (root and sriovd's own).
    let unlimitedUIDs: Set<UInt32>
    private let open = Mutex<(tcp: Int, perKey: [String: Int])>((0, [:]))
    /// Called with the reason of each refused connection (`tcp-total`, `tcp-address`, `unix-uid`).
    let refused: @Sendable (_ reason: String) -> Void
    private let lastWarning = Mutex<ContinuousClock.Instant?>(nil)
    let logger: Logger

    public init(limits: ConnectionLimits, unlimitedUIDs: Set<UInt32> = [0, geteuid()], logger: Logger = Logger(label: "sriovd"),
                refused: @escaping @Sendable (String) -> Void = { _ in }) {
        self.limits = limits
        self.unlimitedUIDs = unlimitedUIDs
        self.logger = logger
        self.refused = refused
    }

    /// What a connection counts against.
    enum Peer: Equatable {
        case tcp(address: String)
        case unix(uid: UInt32)
        /// Not counted: root or sriovd's uid on the Unix socket, or a peer the kernel did not name.
        case unlimited
    }

    func peer(of channel: any Channel, credentials: PeerCredentials?) -> Peer {
        switch channel.remoteAddress {
        case .v4?, .v6?:
            return .tcp(address: channel.remoteAddress?.ipAddress ?? "unknown")
        default:
            guard let uid = credentials?.uid, !unlimitedUIDs.contains(uid) else { return .unlimited }
            return .unix(uid: uid)
        }
    }

    /// Counts the connection in and returns nil, or returns why it is refused (counting nothing).
    func admit(_ peer: Peer) -> String? {
        let verdict: String? = open.withLock { state in
            switch peer {
            case .unlimited:
                return nil
            case .tcp(let address):
                if state.tcp >= limits.tcpTotal { return "tcp-total" }
                let key = "tcp " + address
                if state.perKey[key, default: 0] >= limits.tcpPerAddress { return "tcp-address" }
                state.tcp += 1
                state.perKey[key, default: 0] += 1
                return nil
            case .unix(let uid):
                let key = "uid \(uid)"
                if state.perKey[key, default: 0] >= limits.unixPerUID { return "unix-uid" }
                state.perKey[key, default: 0] += 1
                return nil
            }
        }
        if let verdict {
            refused(verdict)
            warnRefused(peer, reason: verdict)
        }
        return verdict
    }

    func closed(_ peer: Peer) {
        open.withLock { state in
            let key: String
            switch peer {
            case .unlimited: return
            case .tcp(let address):
                state.tcp -= 1
                key = "tcp " + address
            case .unix(let uid):
                key = "uid \(uid)"
            }
            let left = state.perKey[key, default: 1] - 1
            state.perKey[key] = left > 0 ? left : nil
        }
    }

    /// Open connections counted (for tests and metrics): TCP in all, and per peer.
    public var counts: (tcp: Int, perPeer: [String: Int]) { open.withLock { ($0.tcp, $0.perKey) } }

    /// At most one warning per 10 s: a flood must not flood the log too.
    private func warnRefused(_ peer: Peer, reason: String) {
        let now = ContinuousClock.now
        let due = lastWarning.withLock { last -> Bool in
            if let last, last.duration(to: now) < .seconds(10) { return false }
            last = now
            return true
        }
        guard due else { return }
        let limit: String
        switch reason {
        case "tcp-total": limit = "\(limits.tcpTotal) TCP connections in all"
        case "tcp-address": limit = "\(limits.tcpPerAddress) TCP connections from one address"
        default: limit = "\(limits.unixPerUID) Unix socket connections from one uid"
        }
        logger.warning("connection refused: at most \(limit) are kept open (further refusals in the next 10 s are only counted, in sriovd_connections_refused_total)",
                       metadata: ["peer": "\(peer)"])
    }
}

/// Sent by the tracker's check when a connection is past a limit: `IdentifiedHTTP1Channel` fails its
/// set-up, and the server closes it.
struct ConnectionRefused: Error, CustomStringConvertible {
    let reason: String
    var description: String { "connection refused: \(reason)" }
}

/// Watches one connection's HTTP exchanges (between the HTTP codec and Hummingbird's handlers) and
/// closes it where Hummingbird would keep it:
/// - after a response that says `Connection: close` (sriovd says it after a 401: a caller without a
///   valid token gets one answer per connection, not a connection to keep);
/// - when the peer has not read for `writeStall` while output waits (NIO's buffer past its high
///   watermark): an event subscriber that stopped reading;
/// - at shutdown (Hummingbird's quiesce event), at once when a request is half received (nothing
///   was acted on yet) or output is stuck; otherwise Hummingbird closes it after the response in
///   flight, as before.
final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let writeStall: TimeAmount
    private var readingRequest = false
    private var closeAfterResponse = false
    private var quiescing = false
    private var stallTimer: Scheduled<Void>?

    init(writeStall: TimeAmount) {
        self.writeStall = writeStall
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: readingRequest = true
        case .body: break
        case .end: readingRequest = false
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            if head.headerFields[.connection]?.lowercased() == "close" { closeAfterResponse = true }
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            guard closeAfterResponse else {
                context.write(data, promise: promise)
                return
            }
            context.writeAndFlush(data, promise: promise)
            context.close(promise: nil)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            stallTimer?.cancel()
            stallTimer = nil
        } else if quiescing {
            context.close(promise: nil)
        } else if stallTimer == nil {
            let loop = context.eventLoop.assumeIsolated()
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            stallTimer = loop.scheduleTask(in: writeStall) {
                let context = bound.value
                guard !context.channel.isWritable else { return }
                context.close(promise: nil)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            quiescing = true
            if readingRequest || !context.channel.isWritable {
                context.close(promise: nil)
                return
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stallTimer?.cancel()
        stallTimer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        stallTimer?.cancel()
        stallTimer = nil
        context.fireChannelInactive()
    }
}

/// RLIMIT_NOFILE: the soft limit (often 1,024) is raised to the hard one (systemd: 524,288; the unit
/// file asks for 65,536), so the connection limits, not the descriptor limit, are what a flood meets.
enum DescriptorLimit {
    static func raise(wanted: Int, logger: Logger) {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        if limit.rlim_cur != rlim_t.max && limit.rlim_cur < rlim_t(wanted) {  // rlim_t.max: RLIM_INFINITY
            logger.warning("sriovd may open only \(limit.rlim_cur) descriptors, fewer than its connection limits need (\(wanted)): a flood of connections could exhaust them; raise the limit (LimitNOFILE=65536 in sriovd.service, or ulimit -n)")
        }
    }
}
