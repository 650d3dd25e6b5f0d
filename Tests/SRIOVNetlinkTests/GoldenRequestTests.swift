import Testing
import SRIOVCore
@testable import SRIOVNetlink

/// The bytes libnl builds for each request, checked field by field against <linux/if_link.h> by hand:
/// nlmsghdr {len, RTM_SETLINK=19, NLM_F_REQUEST|NLM_F_ACK=5, seq 1, pid 0}, ifinfomsg {AF_UNSPEC,
/// ifindex 7}, IFLA_VFINFO_LIST (22|NLA_F_NESTED) { IFLA_VF_INFO (1|NLA_F_NESTED) { IFLA_VF_<X> } }.
@Suite("Golden netlink requests")
struct GoldenRequestTests {
    static let header = "000000" + "13000500" + "01000000" + "00000000" + "00000000" + "07000000" + "00000000" + "00000000"

    static let cases: [(VFSettingRequest, String)] = [
        (.mac(MACAddress("52:54:00:12:34:56")!),
         "50" + header + "30001680" + "2c000180" + "28000100" + "03000000" + "525400123456" + String(repeating: "00", count: 26)),
        (.vlan(try! VLAN(id: 100, qos: 3)),
         "38" + header + "18001680" + "14000180" + "10000200" + "03000000" + "64000000" + "03000000"),
        (.vlan(try! VLAN(id: 100, qos: 3, proto: .dot1AD)),
         "40" + header + "20001680" + "1c000180" + "18000c80" + "14000100" + "03000000" + "64000000" + "03000000" + "88a80000"),
        (.rate(min: 10, max: 1000),
         "38" + header + "18001680" + "14000180" + "10000600" + "03000000" + "0a000000" + "e8030000"),
        (.spoofCheck(false), "34" + header + "14001680" + "10000180" + "0c000400" + "03000000" + "00000000"),
        (.trust(true), "34" + header + "14001680" + "10000180" + "0c000900" + "03000000" + "01000000"),
        (.linkState(.disable), "34" + header + "14001680" + "10000180" + "0c000500" + "03000000" + "02000000"),
        (.linkState(.enable), "34" + header + "14001680" + "10000180" + "0c000500" + "03000000" + "01000000"),
        (.queryRSS(true), "34" + header + "14001680" + "10000180" + "0c000700" + "03000000" + "01000000"),
    ]

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    @Test("RTM_SETLINK per setting", arguments: cases)
    func setLink(request: VFSettingRequest, expected: String) throws {
        let message = try RequestBuilder.setLink(ifindex: 7, vf: 3, request: request)
        message.header.pointee.nlmsg_seq = 1
        message.header.pointee.nlmsg_pid = 0
        #expect(Self.hex(message.bytes) == expected)
    }

    @Test func severalSettingsGoInOneVFInfo() throws {
        let message = try RequestBuilder.setLink(ifindex: 7, vf: 3, requests: [.vlan(try VLAN(id: 100, qos: 3)), .spoofCheck(false), .trust(true)])
        message.header.pointee.nlmsg_seq = 1
        message.header.pointee.nlmsg_pid = 0
        // IFLA_VFINFO_LIST 48 bytes { IFLA_VF_INFO 44 { VLAN 16, SPOOFCHK 12, TRUST 12 } }
        #expect(Self.hex(message.bytes) == "50" + Self.header + "30001680" + "2c000180"
                + "10000200" + "03000000" + "64000000" + "03000000"
                + "0c000400" + "03000000" + "00000000"
                + "0c000900" + "03000000" + "01000000")
    }

    /// A lease's usual settings go as one message; a run breaks where the kernel's order (trust after
    /// link state and RSS query) would apply a later request before an earlier one.
    @Test func runsFollowTheKernelsOrder() throws {
        let mac = VFSettingRequest.mac(MACAddress("52:54:00:12:34:56")!)
        let vlan = VFSettingRequest.vlan(try VLAN(id: 100))
        #expect(NetlinkVFLink.runs([mac, vlan, .spoofCheck(true), .trust(false)]) == [0..<4])
        #expect(NetlinkVFLink.runs([mac, vlan, .rate(min: 0, max: 100), .spoofCheck(true), .trust(true), .linkState(.auto), .queryRSS(false)])
                == [0..<5, 5..<7])
        #expect(NetlinkVFLink.runs([.trust(true)]) == [0..<1])
        #expect(NetlinkVFLink.runs([]) == [])
        let fields = VFConfigurator.requests(for: VFSettings(mac: MACAddress("52:54:00:12:34:56")!, vlan: try VLAN(id: 5), spoofCheck: true, trust: false), current: nil)
        #expect(NetlinkVFLink.runs(fields) == [0..<4])
    }

    @Test func getLinkAsksForVFsWithoutStats() throws {
        let message = try RequestBuilder.getLink(ifindex: 7)
        message.header.pointee.nlmsg_seq = 1
        // RTM_GETLINK=18, NLM_F_REQUEST; IFLA_EXT_MASK (29) = RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS = 9
        #expect(Self.hex(message.bytes) == "28000000" + "12000100" + "01000000" + "00000000"
                + "00000000" + "07000000" + "00000000" + "00000000" + "08001d00" + "09000000")
        let withStats = try RequestBuilder.getLink(ifindex: 7, stats: true)
        #expect(Self.hex(withStats.bytes).hasSuffix("08001d0001000000"))
    }
}
