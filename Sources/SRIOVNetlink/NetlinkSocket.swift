#if canImport(Glibc)
import Glibc
#endif
import CNetlink
import SRIOVCore
import Synchronization

/// Owns one libnl `nl_sock` connected to NETLINK_ROUTE; freed in `deinit`. Used under one lock only
/// (`NetlinkVFLink`).
struct NetlinkSocket: ~Copyable {
    let sock: OpaquePointer

    init() throws(SRIOVError) {
        guard let s = nl_socket_alloc() else {
            throw SRIOVError(.io, "libnl could not allocate a netlink socket", cause: .netlink(Int32(NLE_NOMEM), "Out of memory"))
        }
        // Acks are asked for per request (NLM_F_ACK on RTM_SETLINK), not added to every message.
        nl_socket_disable_auto_ack(s)
        let rc = nl_connect(s, NETLINK_ROUTE)
        guard rc >= 0 else {
            nl_socket_free(s)
            throw NetlinkError.make(rc, "cannot open a NETLINK_ROUTE socket")
        }
        // Peek at each datagram's size before reading it, so a 256-VF reply (tens of KiB) is read
        // whole rather than cut at a fixed buffer size.
        nl_socket_enable_msg_peek(s)
        // Extended acks: the kernel's own text for a refusal, when it gives one.
        var one: Int32 = 1
        _ = setsockopt(nl_socket_get_fd(s), 270 /* SOL_NETLINK */, 11 /* NETLINK_EXT_ACK */, &one, socklen_t(MemoryLayout<Int32>.size))
        sock = s
    }

    deinit { nl_socket_free(sock) }

    /// Sends `message` (libnl fills in our port id and the next sequence number); returns the sequence.
    func send(_ message: borrowing NetlinkMessage, context: @autoclosure () -> String) throws(SRIOVError) -> UInt32 {
        let rc = nl_send_auto(sock, message.msg)
        guard rc >= 0 else { throw NetlinkError.make(rc, context()) }
        return message.header.pointee.nlmsg_seq
    }

    /// One reply to `seq`: the RTM_NEWLINK message's bytes (for a GET), or nil for a plain ack.
    /// A kernel refusal becomes an error with the errno (and the extended-ack text if any).
    func receive(seq: UInt32, context: @autoclosure () -> String) throws(SRIOVError) -> [UInt8]? {
        var result: [UInt8]?
        while true {
            var peer = sockaddr_nl()
            var buffer: UnsafeMutablePointer<UInt8>?
            let n = nl_recv(sock, &peer, &buffer, nil)
            guard n > 0, let buffer else {
                if let buffer { free(buffer) }
                throw NetlinkError.make(n == 0 ? -Int32(NLE_FAILURE) : n, context())
            }
            defer { free(buffer) }
            let bytes = Array(UnsafeBufferPointer(start: buffer, count: Int(n)))
            var offset = 0
            while offset + 16 <= bytes.count {
                let length = Int(LinkMessageParser.u32(bytes, offset))
                let type = UInt16(bytes[offset + 4]) | UInt16(bytes[offset + 5]) << 8
                let flags = UInt16(bytes[offset + 6]) | UInt16(bytes[offset + 7]) << 8
                let messageSeq = LinkMessageParser.u32(bytes, offset + 8)
                guard length >= 16, offset + length <= bytes.count else {
                    throw SRIOVError(.corrupt, "\(context()): truncated netlink reply (\(bytes.count) bytes)")
                }
                defer { offset += (length + 3) & ~3 }
                guard messageSeq == seq else { continue }
                switch Int32(type) {
                case NLMSG_ERROR:
                    let error = Int32(bitPattern: LinkMessageParser.u32(bytes, offset + 16))
                    if error == 0 { return result }
                    let errno = -error
                    let text = NetlinkSocket.extendedAckMessage(bytes, offset: offset, length: length, flags: flags)
                    throw SRIOVError(.kernelRefused,
                                     "\(context()): \(Errno.name(errno)) (\(String(cString: strerror(errno))))" + (text.map { ": \($0)" } ?? ""),
                                     cause: .errno(errno))
                case NLMSG_DONE:
                    return result
                case Int32(RTM_NEWLINK):
                    result = Array(bytes[offset..<(offset + length)])
                    // A GET without NLM_F_ACK ends with this one message.
                    if flags & UInt16(NLM_F_MULTI) == 0 { return result }
                default:
                    continue
                }
            }
        }
    }

    /// NLMSGERR_ATTR_MSG from an extended ack, if present.
    static func extendedAckMessage(_ bytes: [UInt8], offset: Int, length: Int, flags: UInt16) -> String? {
        guard flags & 0x200 != 0 else { return nil } // NLM_F_ACK_TLVS
        // nlmsghdr(16) + error(4) + the original header(16) [+ its payload unless NLM_F_CAPPED].
        var tlv = offset + 16 + 4 + 16
        if flags & 0x100 == 0 { // not capped: the whole original message is echoed
            tlv = offset + 16 + 4 + Int(LinkMessageParser.u32(bytes, offset + 20))
        }
        let end = offset + length
        while let attr = LinkMessageParser.attribute(bytes, at: tlv, end: end) {
            if attr.type == 1 { // NLMSGERR_ATTR_MSG
                let text = bytes[attr.payload].prefix { $0 != 0 }
                return String(decoding: text, as: UTF8.self)
            }
            tlv = LinkMessageParser.align4(attr.payload.lowerBound - 4 + attr.declaredLength)
        }
        return nil
    }
}

/// VF settings over netlink, the real kernel's side of `VFLinkControl`.
///
/// One socket, opened on first use; requests are serialized through it by a lock, held for one
/// request and its reply. Not an actor: a request is a few blocking system calls that run on the
/// caller's thread (the host-step threads, in the engine), where an actor made each request two hops
/// between threads, to its executor and back, costlier than the request itself under emulation
/// (Docs/Performance.md, fifteenth session).
public final class NetlinkVFLink: VFLinkControl, Sendable {
    /// Holds the noncopyable socket; used only with `connection`'s lock held.
    final class Connection: @unchecked Sendable {
        let socket: NetlinkSocket
        init() throws(SRIOVError) { socket = try NetlinkSocket() }
    }

    private let connection = Mutex<Connection?>(nil)

    public init() {}

    /// Sends `message` and reads its reply (`NetlinkSocket.receive`), with the connection (opened on
    /// first use) and the lock held.
    private func exchange(_ message: borrowing NetlinkMessage, context: @autoclosure () -> String) throws(SRIOVError) -> [UInt8]? {
        let outcome: Result<[UInt8]?, SRIOVError> = connection.withLock { slot in
            do throws(SRIOVError) {
                let c: Connection
                if let open = slot { c = open } else { c = try Connection(); slot = c }
                let seq = try c.socket.send(message, context: context())
                return .success(try c.socket.receive(seq: seq, context: context()))
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }

    /// Equivalent to: `ip -d link show <pf>` — RTM_GETLINK with IFLA_EXT_MASK =
    /// RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS, read whole and parsed past a wrapped VF list length.
    public func readVFs(pf: InterfaceName) async throws(SRIOVError) -> VFReadout {
        let ifindex = try NetlinkVFLink.ifindex(pf)
        let message = try RequestBuilder.getLink(ifindex: ifindex)
        // Error texts are built only for an error (`context` is an autoclosure down to the socket).
        func context() -> String { "\(pf): reading VF settings (RTM_GETLINK)" }
        let reply = try exchange(message, context: context())
        guard let reply else {
            throw SRIOVError(.corrupt, "\(context()): the kernel sent no link message")
        }
        return try LinkMessageParser.parse(reply, interface: pf)
    }

    /// Equivalent to: `ip -s -d link show <pf>` — one RTM_GETLINK with IFLA_EXT_MASK = RTEXT_FILTER_VF
    /// (statistics not skipped), every VF's IFLA_VF_STATS in one reply. With counters each VF entry is
    /// about twice as long, so the VF list's 16-bit length wraps near 220 VFs instead of ~450; the reply
    /// itself is whole (the kernel sizes it from `if_nlmsg_size`, read whole after a peek), and the parser
    /// walks the entries past the wrapped length up to IFLA_NUM_VF. VFs still left out are `missing`.
    public func readVFStats(pf: InterfaceName) async throws(SRIOVError) -> VFStatsReadout {
        let ifindex = try NetlinkVFLink.ifindex(pf)
        let message = try RequestBuilder.getLink(ifindex: ifindex, stats: true)
        func context() -> String { "\(pf): reading VF counters (RTM_GETLINK)" }
        let reply = try exchange(message, context: context())
        guard let reply else {
            throw SRIOVError(.corrupt, "\(context()): the kernel sent no link message")
        }
        return try LinkMessageParser.parseStats(reply, interface: pf)
    }

    /// Equivalent to: `ip link set <pf> vf <n> <setting>` — one RTM_SETLINK with NLM_F_ACK.
    public func apply(_ request: VFSettingRequest, vf: Int, pf: InterfaceName) async throws(SRIOVError) {
        try setLink(CollectionOfOne(request), vf: vf, pf: pf)
    }

    /// Several settings of one VF in as few RTM_SETLINKs as keep their order: a run of requests that
    /// the kernel applies in the same order as given goes as one message (one round trip instead of one
    /// per setting). When a run is refused, its settings are applied again one at a time, in order, so
    /// the refused one is named by its own errno exactly as one request per setting would (the kernel
    /// stopped at it, and the ones before it are set again to the same values).
    public func apply(_ requests: [VFSettingRequest], vf: Int, pf: InterfaceName) async -> (index: Int, error: SRIOVError)? {
        for range in NetlinkVFLink.runs(requests) {
            do throws(SRIOVError) {
                try setLink(requests[range], vf: vf, pf: pf)
            } catch {
                if range.count == 1 { return (range.lowerBound, error) }
                for index in range {
                    do throws(SRIOVError) { try setLink(CollectionOfOne(requests[index]), vf: vf, pf: pf) } catch { return (index, error) }
                }
            }
        }
        return nil
    }

    /// `requests` cut into runs the kernel applies in the order given (its order rising within each).
    static func runs(_ requests: [VFSettingRequest]) -> [Range<Int>] {
        var runs: [Range<Int>] = []
        var start = 0
        while start < requests.count {
            var end = start + 1
            while end < requests.count && RequestBuilder.kernelRank(requests[end]) > RequestBuilder.kernelRank(requests[end - 1]) {
                end += 1
            }
            runs.append(start..<end)
            start = end
        }
        return runs
    }

    /// One RTM_SETLINK with every request of `run` (one, or several of other kinds in the kernel's
    /// order), acknowledged.
    func setLink(_ run: some Collection<VFSettingRequest>, vf: Int, pf: InterfaceName) throws(SRIOVError) {
        let ifindex = try NetlinkVFLink.ifindex(pf)
        let message = try RequestBuilder.setLink(ifindex: ifindex, vf: vf, requests: run)
        _ = try exchange(message, context: "\(pf) VF \(vf): \(run.map(\.description).joined(separator: ", ")) (RTM_SETLINK)")
    }

    static func ifindex(_ name: InterfaceName) throws(SRIOVError) -> Int32 {
        let index = if_nametoindex(name.name)
        guard index != 0 else {
            throw SRIOVError(.notFound, "no network interface named \(name) in this network namespace; `ip link` lists them", cause: .errno(errno))
        }
        return Int32(index)
    }
}
