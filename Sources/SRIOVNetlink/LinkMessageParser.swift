import SRIOVCore

/// Reads an RTM_NEWLINK message (header, ifinfomsg, attributes) into a `VFReadout`. Pure Swift over the
/// bytes, so it is tested with crafted messages, including a VF list longer than 64 KiB.
///
/// Kernel fact: `IFLA_VFINFO_LIST`'s length is 16 bits. Past ~64 KiB of VF entries it wraps, and a
/// parser that trusts it sees a short list (iproute2 shows 34 of 256 VFs with stats). Each
/// `IFLA_VF_INFO` entry's own length is right, so this parser walks entries past the wrapped end while
/// they are VF entries with the expected index, up to `IFLA_NUM_VF`, and reports any still missing.
public enum LinkMessageParser {
    // Attribute numbers from <linux/if_link.h>.
    static let IFLA_OPERSTATE: UInt16 = 16
    static let IFLA_NUM_VF: UInt16 = 21
    static let IFLA_VFINFO_LIST: UInt16 = 22
    static let IFLA_VF_INFO: UInt16 = 1
    static let IFLA_VF_MAC: UInt16 = 1
    static let IFLA_VF_VLAN: UInt16 = 2
    static let IFLA_VF_TX_RATE: UInt16 = 3
    static let IFLA_VF_SPOOFCHK: UInt16 = 4
    static let IFLA_VF_LINK_STATE: UInt16 = 5
    static let IFLA_VF_RATE: UInt16 = 6
    static let IFLA_VF_RSS_QUERY_EN: UInt16 = 7
    static let IFLA_VF_STATS: UInt16 = 8
    static let IFLA_VF_TRUST: UInt16 = 9
    static let IFLA_VF_VLAN_LIST: UInt16 = 12
    static let IFLA_VF_VLAN_INFO: UInt16 = 1
    /// IFLA_VF_STATS_* (u64 each; 6 is IFLA_VF_STATS_PAD, the alignment filler of nla_put_u64_64bit).
    static let vfStatsFields: [UInt16: VFCounters.Field] = [
        0: .rxPackets, 1: .txPackets, 2: .rxBytes, 3: .txBytes, 4: .broadcast, 5: .multicast, 7: .rxDropped, 8: .txDropped,
    ]
    static let typeMask: UInt16 = 0x3fff
    static let headerSize = 16 + 16 // nlmsghdr + ifinfomsg
    /// The most VFs a PF can have: PCI SR-IOV's TotalVFs and NumVFs are 16-bit fields.
    static let maxVFs: UInt32 = 0xffff

    struct Attribute {
        var type: UInt16
        /// Payload range in the buffer.
        var payload: Range<Int>
        /// The declared length (header included).
        var declaredLength: Int
    }

    public static func parse(_ bytes: [UInt8], interface: InterfaceName) throws(SRIOVError) -> VFReadout {
        try parseAll(bytes, interface: interface).readout
    }

    /// Every VF's counters from a reply to RTM_GETLINK without RTEXT_FILTER_SKIP_STATS. The VF list is
    /// walked as `parse` walks it (past a wrapped 16-bit length, checked against IFLA_NUM_VF); a VF entry
    /// without IFLA_VF_STATS reads as `.unreported`, and a VF the reply left out is in `missing`.
    public static func parseStats(_ bytes: [UInt8], interface: InterfaceName) throws(SRIOVError) -> VFStatsReadout {
        let (readout, counters) = try parseAll(bytes, interface: interface)
        return VFStatsReadout(interface: interface, numVFs: readout.numVFs, counters: counters, missing: readout.missing,
                              recoveredPastTruncatedLength: readout.recoveredPastTruncatedLength)
    }

    static func parseAll(_ bytes: [UInt8], interface: InterfaceName) throws(SRIOVError) -> (readout: VFReadout, counters: [Int: VFCounters]) {
        func corrupt(_ why: String) -> SRIOVError {
            SRIOVError(.corrupt, "\(interface): malformed RTM_NEWLINK reply from the kernel: \(why)")
        }
        guard bytes.count >= headerSize else { throw corrupt("\(bytes.count) bytes, shorter than the headers") }
        let messageLength = min(Int(u32(bytes, 0)), bytes.count)
        var numVFs: Int?
        var operState: String?
        var vfs: [VFState] = []
        var counters: [Int: VFCounters] = [:]
        var recovered = false
        var offset = headerSize
        while let attr = attribute(bytes, at: offset, end: messageLength) {
            switch attr.type {
            case IFLA_NUM_VF where attr.payload.count >= 4:
                // A PF has at most 65535 VFs (the SR-IOV capability's TotalVFs is 16 bits). A larger count is
                // damage; trusted, it would list up to 4 billion VFs as missing (found by fuzzing).
                let count = u32(bytes, attr.payload.lowerBound)
                guard count <= maxVFs else { throw corrupt("IFLA_NUM_VF says \(count) VFs; a PCI device has at most \(maxVFs)") }
                numVFs = Int(count)
            case IFLA_OPERSTATE where attr.payload.count >= 1:
                operState = operStateName(bytes[attr.payload.lowerBound])
            case IFLA_VFINFO_LIST:
                let walk = walkVFList(bytes, start: attr.payload.lowerBound, declaredEnd: attr.payload.upperBound,
                                      messageEnd: messageLength, expected: numVFs)
                vfs = walk.vfs
                counters = walk.counters
                recovered = walk.realEnd > attr.payload.upperBound
                // Resume the top-level walk after the real end of the list.
                offset = align4(walk.realEnd)
                continue
            default:
                break
            }
            offset = align4(attr.payload.lowerBound - 4 + attr.declaredLength)
        }
        let count = numVFs ?? vfs.count
        let present = Set(vfs.map(\.index))
        let missing = (0..<count).filter { !present.contains($0) }
        let readout = VFReadout(interface: interface, numVFs: count, vfs: vfs.sorted { $0.index < $1.index }, missing: missing,
                                recoveredPastTruncatedLength: recovered, operState: operState)
        return (readout, counters)
    }

    struct Walk {
        var vfs: [VFState]
        /// Each entry's IFLA_VF_STATS, by VF index (`.unreported` without one).
        var counters: [Int: VFCounters] = [:]
        var realEnd: Int
    }

    /// Walks IFLA_VF_INFO entries from `start`; within the declared end as usual, and beyond it only
    /// while entries are VF entries for the next expected index and more VFs are expected.
    static func walkVFList(_ bytes: [UInt8], start: Int, declaredEnd: Int, messageEnd: Int, expected: Int?) -> Walk {
        var vfs: [VFState] = []
        var counters: [Int: VFCounters] = [:]
        var offset = start
        while offset < declaredEnd || (expected.map { vfs.count < $0 } ?? false) {
            guard let attr = attribute(bytes, at: offset, end: messageEnd), attr.type == IFLA_VF_INFO,
                  let (state, stats) = vfEntry(bytes, attr.payload) else { break }
            let entryEnd = attr.payload.lowerBound - 4 + attr.declaredLength
            if entryEnd > declaredEnd {
                // Past the declared (wrapped) length: accept only the next VF in sequence.
                guard let expected, vfs.count < expected, state.index == (vfs.last?.index ?? -1) + 1 else { break }
            }
            vfs.append(state)
            counters[state.index] = stats
            offset = align4(entryEnd)
        }
        return Walk(vfs: vfs, counters: counters, realEnd: max(offset, declaredEnd))
    }

    static func vfInfo(_ bytes: [UInt8], _ range: Range<Int>) -> VFState? {
        vfEntry(bytes, range)?.state
    }

    /// One IFLA_VF_INFO: the VF's settings and its IFLA_VF_STATS (`.unreported` when absent).
    static func vfEntry(_ bytes: [UInt8], _ range: Range<Int>) -> (state: VFState, counters: VFCounters)? {
        var counters = VFCounters.unreported
        var index: Int?
        var state = VFState(index: 0, spoofCheck: nil, trust: nil, linkState: nil, queryRSS: nil)
        var sawVLANList = false
        var offset = range.lowerBound
        while let a = attribute(bytes, at: offset, end: range.upperBound) {
            let p = a.payload.lowerBound
            let n = a.payload.count
            switch a.type {
            case IFLA_VF_MAC where n >= 10:
                index = Int(u32(bytes, p))
                state.mac = (try? MACAddress(octets: Array(bytes[(p + 4)..<(p + 10)]))) ?? .zero
            case IFLA_VF_VLAN where n >= 12 && !sawVLANList:
                state.vlan = (try? VLAN(id: Int(u32(bytes, p + 4)), qos: Int(u32(bytes, p + 8)))) ?? .none
            case IFLA_VF_VLAN_LIST:
                if let first = attribute(bytes, at: p, end: a.payload.upperBound), first.type == IFLA_VF_VLAN_INFO,
                   first.payload.count >= 14 {
                    let q = first.payload.lowerBound
                    let proto = UInt16(bytes[q + 12]) << 8 | UInt16(bytes[q + 13])
                    if let v = try? VLAN(id: Int(u32(bytes, q + 4)), qos: Int(u32(bytes, q + 8)),
                                         proto: (try? VLANProtocol(etherType: proto)) ?? .dot1Q) {
                        state.vlan = v
                        sawVLANList = true
                    }
                }
            case IFLA_VF_TX_RATE where n >= 8:
                if state.maxTxRate == 0 { state.maxTxRate = u32(bytes, p + 4) }
            case IFLA_VF_RATE where n >= 12:
                state.minTxRate = u32(bytes, p + 4)
                state.maxTxRate = u32(bytes, p + 8)
            case IFLA_VF_SPOOFCHK where n >= 8:
                state.spoofCheck = setting(u32(bytes, p + 4))
            case IFLA_VF_TRUST where n >= 8:
                state.trust = setting(u32(bytes, p + 4))
            case IFLA_VF_RSS_QUERY_EN where n >= 8:
                state.queryRSS = setting(u32(bytes, p + 4))
            case IFLA_VF_STATS:
                counters = vfStats(bytes, a.payload)
            case IFLA_VF_LINK_STATE where n >= 8:
                switch u32(bytes, p + 4) {
                case 0: state.linkState = .auto
                case 1: state.linkState = .enable
                case 2: state.linkState = .disable
                default: state.linkState = nil
                }
            default:
                break
            }
            offset = align4(a.payload.lowerBound - 4 + a.declaredLength)
        }
        guard let index else { return nil }
        state.index = index
        return (state, counters)
    }

    /// The IFLA_VF_STATS nest: each IFLA_VF_STATS_* a u64, 4-byte aligned only (read byte by byte).
    /// Unknown attributes (IFLA_VF_STATS_PAD, newer counters) are skipped; a short one is not reported.
    static func vfStats(_ bytes: [UInt8], _ range: Range<Int>) -> VFCounters {
        var counters = VFCounters.unreported
        var offset = range.lowerBound
        while let a = attribute(bytes, at: offset, end: range.upperBound) {
            if let field = vfStatsFields[a.type], a.payload.count >= 8 {
                counters[field] = u64(bytes, a.payload.lowerBound)
            }
            offset = align4(a.payload.lowerBound - 4 + a.declaredLength)
        }
        return counters
    }

    static func u64(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        UInt64(u32(bytes, at)) | UInt64(u32(bytes, at + 4)) << 32
    }

    /// The kernel reports -1 (0xffffffff) for a setting the driver does not report.
    static func setting(_ v: UInt32) -> Bool? { v == UInt32.max ? nil : v != 0 }

    static func operStateName(_ v: UInt8) -> String {
        switch v {
        case 1: return "notpresent"
        case 2: return "down"
        case 3: return "lowerlayerdown"
        case 4: return "testing"
        case 5: return "dormant"
        case 6: return "up"
        default: return "unknown"
        }
    }

    static func attribute(_ bytes: [UInt8], at offset: Int, end: Int) -> Attribute? {
        guard offset + 4 <= end else { return nil }
        let length = Int(UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8)
        let type = (UInt16(bytes[offset + 2]) | UInt16(bytes[offset + 3]) << 8) & typeMask
        guard length >= 4, offset + length <= end else { return nil }
        return Attribute(type: type, payload: (offset + 4)..<(offset + length), declaredLength: length)
    }

    static func u32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }

    static func align4(_ n: Int) -> Int { (n + 3) & ~3 }
}
