#if canImport(Glibc)
import Glibc
#endif
import CNetlink
import SRIOVCore

/// Owns one libnl `nl_msg`; freed when the owner goes away. Never copied, never escapes this module.
struct NetlinkMessage: ~Copyable {
    let msg: OpaquePointer

    init(type: Int32, flags: Int32) throws(SRIOVError) {
        guard let m = nlmsg_alloc_simple(type, flags) else {
            throw SRIOVError(.io, "libnl could not allocate a netlink message", cause: .netlink(Int32(NLE_NOMEM), "Out of memory"))
        }
        msg = m
    }

    deinit { nlmsg_free(msg) }

    func append<T>(_ value: T) throws(SRIOVError) {
        var v = value
        let rc = withUnsafeMutableBytes(of: &v) { nlmsg_append(msg, $0.baseAddress, $0.count, Int32(NLMSG_ALIGNTO)) }
        guard rc >= 0 else { throw NetlinkError.make(rc, "building a netlink message") }
    }

    func put<T>(_ type: Int32, _ value: T) throws(SRIOVError) {
        var v = value
        let rc = withUnsafeMutableBytes(of: &v) { nla_put(msg, type, Int32($0.count), $0.baseAddress) }
        guard rc >= 0 else { throw NetlinkError.make(rc, "building a netlink message") }
    }

    func putBytes(_ type: Int32, _ bytes: [UInt8]) throws(SRIOVError) {
        let rc = bytes.withUnsafeBytes { nla_put(msg, type, Int32($0.count), $0.baseAddress) }
        guard rc >= 0 else { throw NetlinkError.make(rc, "building a netlink message") }
    }

    /// Opens a nested attribute; `body` fills it.
    func nest(_ type: Int32, _ body: () throws(SRIOVError) -> Void) throws(SRIOVError) {
        guard let start = nla_nest_start(msg, type) else {
            throw SRIOVError(.io, "libnl could not open nested attribute \(type)", cause: .netlink(Int32(NLE_NOMEM), "Out of memory"))
        }
        try body()
        let rc = nla_nest_end(msg, start)
        guard rc >= 0 else { throw NetlinkError.make(rc, "closing a nested netlink attribute") }
    }

    var header: UnsafeMutablePointer<nlmsghdr> { nlmsg_hdr(msg) }

    /// The message's bytes as they would go on the wire.
    var bytes: [UInt8] {
        let h = header
        return Array(UnsafeRawBufferPointer(start: UnsafeRawPointer(h), count: Int(h.pointee.nlmsg_len)))
    }
}

/// Builds the RTM_SETLINK / RTM_GETLINK requests sriovd sends, with libnl's message API.
///
/// A VF's settings go as `ifinfomsg { AF_UNSPEC, ifindex }` then
/// `IFLA_VFINFO_LIST { IFLA_VF_INFO { IFLA_VF_<X> struct ... } }`, one setting or several in one
/// message, as `ip link set <pf> vf N ...` sends them.
enum RequestBuilder {
    static func setLink(ifindex: Int32, vf: Int, request: VFSettingRequest) throws(SRIOVError) -> NetlinkMessage {
        try setLink(ifindex: ifindex, vf: vf, requests: CollectionOfOne(request))
    }

    /// One RTM_SETLINK carrying several settings of one VF in its `IFLA_VF_INFO`, as
    /// `ip link set <pf> vf N mac ... vlan ... spoofchk ...` sends them. The kernel (`do_setvfinfo`)
    /// applies them in its own fixed order (`kernelRank`), not the message's, and stops at the first
    /// refusal, whose errno is the ack's; at most one request per kind.
    static func setLink(ifindex: Int32, vf: Int, requests: some Collection<VFSettingRequest>) throws(SRIOVError) -> NetlinkMessage {
        let message = try NetlinkMessage(type: Int32(RTM_SETLINK), flags: Int32(NLM_F_REQUEST | NLM_F_ACK))
        var ifi = ifinfomsg()
        ifi.ifi_family = UInt8(AF_UNSPEC)
        ifi.ifi_index = ifindex
        try message.append(ifi)
        let index = UInt32(vf)
        try message.nest(Int32(IFLA_VFINFO_LIST)) { () throws(SRIOVError) in
            try message.nest(Int32(IFLA_VF_INFO)) { () throws(SRIOVError) in
                for request in requests {
                    switch request {
                    case .mac(let mac):
                        var s = ifla_vf_mac()
                        s.vf = index
                        withUnsafeMutableBytes(of: &s.mac) { raw in
                            for (i, b) in mac.octets.enumerated() { raw[i] = b }
                        }
                        try message.put(Int32(IFLA_VF_MAC), s)
                    case .vlan(let vlan) where vlan.proto == .dot1Q:
                        try message.put(Int32(IFLA_VF_VLAN),
                                        ifla_vf_vlan(vf: index, vlan: UInt32(vlan.id), qos: UInt32(vlan.qos)))
                    case .vlan(let vlan):
                        // 802.1ad needs the list form, which carries the protocol (big endian).
                        try message.nest(Int32(IFLA_VF_VLAN_LIST)) { () throws(SRIOVError) in
                            try message.put(Int32(IFLA_VF_VLAN_INFO),
                                            ifla_vf_vlan_info(vf: index, vlan: UInt32(vlan.id), qos: UInt32(vlan.qos),
                                                              vlan_proto: vlan.proto.etherType.bigEndian))
                        }
                    case .rate(let min, let max):
                        try message.put(Int32(IFLA_VF_RATE), ifla_vf_rate(vf: index, min_tx_rate: min, max_tx_rate: max))
                    case .spoofCheck(let on):
                        try message.put(Int32(IFLA_VF_SPOOFCHK), ifla_vf_spoofchk(vf: index, setting: on ? 1 : 0))
                    case .trust(let on):
                        try message.put(Int32(IFLA_VF_TRUST), ifla_vf_trust(vf: index, setting: on ? 1 : 0))
                    case .linkState(let state):
                        let value: UInt32 = state == .auto ? 0 : state == .enable ? 1 : 2
                        try message.put(Int32(IFLA_VF_LINK_STATE), ifla_vf_link_state(vf: index, link_state: value))
                    case .queryRSS(let on):
                        try message.put(Int32(IFLA_VF_RSS_QUERY_EN), ifla_vf_rss_query_en(vf: index, setting: on ? 1 : 0))
                    }
                }
            }
        }
        return message
    }

    /// Where the kernel's `do_setvfinfo` (net/core/rtnetlink.c) applies each kind of setting of one
    /// `IFLA_VF_INFO`: MAC, VLAN (or VLAN list), rate, spoof checking, link state, RSS query, trust.
    static func kernelRank(_ request: VFSettingRequest) -> Int {
        switch request {
        case .mac: return 0
        case .vlan: return 1
        case .rate: return 2
        case .spoofCheck: return 3
        case .linkState: return 4
        case .queryRSS: return 5
        case .trust: return 6
        }
    }

    /// RTM_GETLINK for one interface with its VF list; statistics skipped unless asked for (they
    /// roughly double each VF entry and hasten the 64 KiB wrap of IFLA_VFINFO_LIST).
    static func getLink(ifindex: Int32, stats: Bool = false) throws(SRIOVError) -> NetlinkMessage {
        let message = try NetlinkMessage(type: Int32(RTM_GETLINK), flags: Int32(NLM_F_REQUEST))
        var ifi = ifinfomsg()
        ifi.ifi_family = UInt8(AF_UNSPEC)
        ifi.ifi_index = ifindex
        try message.append(ifi)
        let mask = UInt32(RTEXT_FILTER_VF) | (stats ? 0 : UInt32(RTEXT_FILTER_SKIP_STATS))
        try message.put(Int32(IFLA_EXT_MASK), mask)
        return message
    }
}
