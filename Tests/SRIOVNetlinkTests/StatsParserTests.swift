import Testing
import SRIOVCore
@testable import SRIOVNetlink

extension ReplyBuilder {
    static func le64(_ v: UInt64) -> [UInt8] { le32(UInt32(v & 0xffff_ffff)) + le32(UInt32(v >> 32)) }

    /// IFLA_VF_STATS as rtnl_fill_vfinfo nests it: one u64 attribute per counter (nla_put_u64_64bit),
    /// with the IFLA_VF_STATS_PAD (6) filler before each where the architecture needs it, and without
    /// RX/TX_DROPPED (7, 8) as kernels before 5.x sent it.
    static func vfStats(_ values: [UInt64], pad: Bool = false, dropped: Bool = true) -> [UInt8] {
        var inner: [UInt8] = []
        for (type, value) in zip([UInt16(0), 1, 2, 3, 4, 5, 7, 8], values) where dropped || type < 6 {
            if pad { inner += attr(6, []) }
            inner += attr(type, le64(value))
        }
        return attr(8, inner, nested: true)
    }

    /// A VF entry with (or without) counters after its settings, as the kernel lays it out.
    static func vfEntry(index: UInt32, stats: [UInt8]) -> [UInt8] {
        let plain = vfEntry(index: index)
        // Re-nest: the plain entry's payload, then IFLA_VF_STATS.
        let payload = Array(plain[4...]) + stats
        return attr(1, payload, nested: true)
    }
}

@Suite("RTM_NEWLINK parser: IFLA_VF_STATS")
struct StatsParserTests {
    let pf = InterfaceName("eni10np1")!

    @Test func readsEveryCounterAndSaysWhichAreNotReported() throws {
        let big: UInt64 = 0x1_0000_0000_0005 // above 32 bits: read as u64, not u32
        let reply = ReplyBuilder.reply(numVFs: 3, entries: [
            ReplyBuilder.vfEntry(index: 0, stats: ReplyBuilder.vfStats([11, 12, big, 14, 15, 16, 17, 18])),
            ReplyBuilder.vfEntry(index: 1),                                                     // no IFLA_VF_STATS
            ReplyBuilder.vfEntry(index: 2, stats: ReplyBuilder.vfStats([21, 22, 23, 24, 25, 26], pad: true, dropped: false)),
        ])
        let r = try LinkMessageParser.parseStats(reply, interface: pf)
        #expect(r.numVFs == 3 && r.missing.isEmpty && !r.recoveredPastTruncatedLength)
        #expect(r.counters[0] == VFCounters(rxPackets: 11, txPackets: 12, rxBytes: big, txBytes: 14, broadcast: 15,
                                            multicast: 16, rxDropped: 17, txDropped: 18))
        #expect(r.counters[1] == .unreported)
        #expect(r.counters[2] == VFCounters(rxPackets: 21, txPackets: 22, rxBytes: 23, txBytes: 24, broadcast: 25, multicast: 26))
        // The settings read from the same reply are unchanged by the counters beside them.
        let settings = try LinkMessageParser.parse(reply, interface: pf)
        #expect(settings.vfs.map(\.index) == [0, 1, 2] && settings.vf(0)?.mac == MACAddress("02:00:00:00:00:01"))
    }

    @Test func readsAll256VFsPastTheWrappedListLength() throws {
        // 256 VFs with counters: ~300 bytes each, the list is ~77 KiB and its u16 length wraps.
        let entries = (0..<256).map { i in
            ReplyBuilder.vfEntry(index: UInt32(i), stats: ReplyBuilder.vfStats((0..<8).map { UInt64(i * 1000 + $0) }))
        }
        #expect(entries.flatMap { $0 }.count + 4 > 65_535)
        let reply = ReplyBuilder.reply(numVFs: 256, entries: entries, wrapLength: true)
        let r = try LinkMessageParser.parseStats(reply, interface: pf)
        #expect(r.numVFs == 256 && r.counters.count == 256 && r.missing.isEmpty)
        #expect(r.recoveredPastTruncatedLength)
        #expect(r.counters[255] == VFCounters(rxPackets: 255_000, txPackets: 255_001, rxBytes: 255_002, txBytes: 255_003,
                                              broadcast: 255_004, multicast: 255_005, rxDropped: 255_006, txDropped: 255_007))
        #expect(r.counters[34]?.txDropped == 34_007)
    }

    @Test func vfsTheReplyLeftOutAreMissingNotZero() throws {
        let entries = (0..<4).map { ReplyBuilder.vfEntry(index: UInt32($0), stats: ReplyBuilder.vfStats([1, 2, 3, 4, 5, 6, 7, 8])) }
        let r = try LinkMessageParser.parseStats(ReplyBuilder.reply(numVFs: 6, entries: entries), interface: pf)
        #expect(r.counters.keys.sorted() == [0, 1, 2, 3] && r.missing == [4, 5])
        #expect(r.counters[4] == nil)
    }

    @Test func aShortCounterIsNotReported() throws {
        // A 4-byte payload where a u64 belongs: damage, read as "not reported" rather than half a number.
        let stats = ReplyBuilder.attr(8, ReplyBuilder.attr(0, ReplyBuilder.le32(9)) + ReplyBuilder.attr(1, ReplyBuilder.le64(7)), nested: true)
        let r = try LinkMessageParser.parseStats(ReplyBuilder.reply(numVFs: 1, entries: [ReplyBuilder.vfEntry(index: 0, stats: stats)]),
                                                 interface: pf)
        #expect(r.counters[0] == VFCounters(txPackets: 7))
    }
}
