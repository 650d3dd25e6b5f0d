import Testing
import SRIOVCore
@testable import SRIOVNetlink

/// Builds RTM_NEWLINK replies byte by byte, the way the kernel's rtnl_fill_ifinfo lays them out.
struct ReplyBuilder {
    var bytes: [UInt8] = []

    static func le32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)] }

    static func attr(_ type: UInt16, _ payload: [UInt8], nested: Bool = false, declaredLength: Int? = nil) -> [UInt8] {
        let len = declaredLength ?? (4 + payload.count)
        let t = type | (nested ? 0x8000 : 0)
        var out = [UInt8(len & 0xff), UInt8(len >> 8 & 0xff), UInt8(t & 0xff), UInt8(t >> 8)] + payload
        while out.count % 4 != 0 { out.append(0) }
        return out
    }

    static func vfEntry(index: UInt32, mac: [UInt8] = [2, 0, 0, 0, 0, 1], vlan: UInt32 = 0, qos: UInt32 = 0,
                        proto: UInt16 = 0x8100, min: UInt32 = 0, max: UInt32 = 0, spoof: UInt32 = 1, trust: UInt32 = 0,
                        state: UInt32 = 0, rss: UInt32 = 0) -> [UInt8] {
        var inner: [UInt8] = []
        inner += attr(1, le32(index) + mac + [UInt8](repeating: 0, count: 26))                 // IFLA_VF_MAC
        inner += attr(2, le32(index) + le32(vlan) + le32(qos))                                  // IFLA_VF_VLAN
        inner += attr(12, attr(1, le32(index) + le32(vlan) + le32(qos) + [UInt8(proto >> 8), UInt8(proto & 0xff), 0, 0]),
                      nested: true)                                                             // IFLA_VF_VLAN_LIST
        inner += attr(3, le32(index) + le32(max))                                               // IFLA_VF_TX_RATE
        inner += attr(6, le32(index) + le32(min) + le32(max))                                   // IFLA_VF_RATE
        inner += attr(4, le32(index) + le32(spoof))                                             // IFLA_VF_SPOOFCHK
        inner += attr(5, le32(index) + le32(state))                                             // IFLA_VF_LINK_STATE
        inner += attr(7, le32(index) + le32(rss))                                               // IFLA_VF_RSS_QUERY_EN
        inner += attr(9, le32(index) + le32(trust))                                             // IFLA_VF_TRUST
        inner += attr(13, [UInt8](repeating: 0xff, count: 32))                                  // IFLA_VF_BROADCAST
        return attr(1, inner, nested: true)
    }

    /// A full message: headers, IFLA_OPERSTATE, IFLA_NUM_VF, the VF list (optionally with a declared
    /// length as the kernel's u16 would wrap it), and a trailing attribute.
    static func reply(numVFs: UInt32, entries: [[UInt8]], wrapLength: Bool = false) -> [UInt8] {
        var body: [UInt8] = []
        body += attr(3, Array("eni10np1".utf8) + [0])      // IFLA_IFNAME
        body += attr(16, [6])                               // IFLA_OPERSTATE up
        body += attr(21, le32(numVFs))                      // IFLA_NUM_VF
        let listPayload = entries.flatMap { $0 }
        let realLength = 4 + listPayload.count
        body += attr(22, listPayload, nested: true, declaredLength: wrapLength ? realLength & 0xffff : nil)
        body += attr(30, le32(1500))                        // something after the list
        let ifinfo: [UInt8] = [0, 0, 1, 0] + le32(7) + le32(0x1043) + le32(0)
        let total = UInt32(16 + ifinfo.count + body.count)
        return le32(total) + [16, 0, 0, 0] + le32(1) + le32(0) + ifinfo + body
    }
}

@Suite("RTM_NEWLINK parser")
struct ParserTests {
    let pf = InterfaceName("eni10np1")!

    @Test func parsesEverySetting() throws {
        let reply = ReplyBuilder.reply(numVFs: 3, entries: [
            ReplyBuilder.vfEntry(index: 0),
            ReplyBuilder.vfEntry(index: 1, mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56], vlan: 100, qos: 3, proto: 0x88a8,
                                 min: 10, max: 1000, spoof: 0, trust: 1, state: 2, rss: 1),
            ReplyBuilder.vfEntry(index: 2, spoof: 0xffff_ffff, trust: 0xffff_ffff, state: 1),
        ])
        let r = try LinkMessageParser.parse(reply, interface: pf)
        #expect(r.numVFs == 3 && r.vfs.count == 3 && r.missing.isEmpty && !r.recoveredPastTruncatedLength)
        #expect(r.operState == "up")
        let vf1 = try #require(r.vf(1))
        #expect(vf1.mac.description == "52:54:00:12:34:56")
        #expect(vf1.vlan == (try VLAN(id: 100, qos: 3, proto: .dot1AD)))
        #expect(vf1.minTxRate == 10 && vf1.maxTxRate == 1000)
        #expect(vf1.spoofCheck == false && vf1.trust == true && vf1.linkState == .disable && vf1.queryRSS == true)
        let vf2 = try #require(r.vf(2))
        #expect(vf2.spoofCheck == nil && vf2.trust == nil && vf2.linkState == .enable)
    }

    @Test func refusesAVFCountNoPCIDeviceCanHave() throws {
        // Found by fuzzing: IFLA_NUM_VF 0x4c000003 made the parser list 1.27 billion VFs as missing.
        let reply = ReplyBuilder.reply(numVFs: 0x4c00_0003, entries: [ReplyBuilder.vfEntry(index: 0)])
        #expect(throws: SRIOVError.self) { try LinkMessageParser.parse(reply, interface: pf) }
        do {
            _ = try LinkMessageParser.parse(reply, interface: pf)
        } catch {
            #expect(error.code == .corrupt && error.message.contains("IFLA_NUM_VF says 1275068419 VFs"))
        }
        // The largest count a PCI device can have is still read (and its VFs listed as missing).
        let most = try LinkMessageParser.parse(ReplyBuilder.reply(numVFs: 0xffff, entries: [ReplyBuilder.vfEntry(index: 0)]), interface: pf)
        #expect(most.numVFs == 65535 && most.vfs.count == 1 && most.missing.count == 65534)
    }

    @Test func recoversEntriesPastAWrappedListLength() throws {
        // 400 VFs of ~200 bytes: the list is ~80 KiB, its u16 length wraps to ~14 KiB.
        let entries = (0..<400).map { ReplyBuilder.vfEntry(index: UInt32($0), vlan: UInt32($0 % 4094)) }
        let reply = ReplyBuilder.reply(numVFs: 400, entries: entries, wrapLength: true)
        #expect(entries.flatMap { $0 }.count + 4 > 65_535)
        let r = try LinkMessageParser.parse(reply, interface: pf)
        #expect(r.numVFs == 400)
        #expect(r.vfs.count == 400)
        #expect(r.missing.isEmpty)
        #expect(r.recoveredPastTruncatedLength)
        #expect(r.vf(399)?.vlan.id == 399)
    }

    @Test func naiveReadingOfTheWrappedLengthWouldLoseVFs() throws {
        // What a parser that trusts the nest length sees: only the entries inside the wrapped length.
        let entries = (0..<400).map { ReplyBuilder.vfEntry(index: UInt32($0)) }
        let reply = ReplyBuilder.reply(numVFs: 400, entries: entries, wrapLength: true)
        let walk = LinkMessageParser.walkVFList(reply, start: 0, declaredEnd: 0, messageEnd: 0, expected: nil)
        #expect(walk.vfs.isEmpty)
        let realLength = entries.flatMap { $0 }.count + 4
        #expect((realLength & 0xffff) / entries[0].count < 400)
    }

    @Test func reportsVFsTheKernelLeftOut() throws {
        let reply = ReplyBuilder.reply(numVFs: 10, entries: (0..<6).map { ReplyBuilder.vfEntry(index: UInt32($0)) })
        let r = try LinkMessageParser.parse(reply, interface: pf)
        #expect(r.numVFs == 10 && r.vfs.count == 6 && r.missing == [6, 7, 8, 9])
    }

    @Test func noVFs() throws {
        let r = try LinkMessageParser.parse(ReplyBuilder.reply(numVFs: 0, entries: []), interface: pf)
        #expect(r.numVFs == 0 && r.vfs.isEmpty && r.missing.isEmpty)
    }

    @Test func malformedReplyIsAnError() {
        #expect {
            try LinkMessageParser.parse([1, 2, 3], interface: pf)
        } throws: { ($0 as? SRIOVError)?.code == .corrupt }
        // A length that claims more than there is: attributes past the end are ignored, not read.
        var reply = ReplyBuilder.reply(numVFs: 1, entries: [ReplyBuilder.vfEntry(index: 0)])
        reply.removeLast(20)
        let r = try? LinkMessageParser.parse(reply, interface: pf)
        #expect(r != nil)
    }
}
