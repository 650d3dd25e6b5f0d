import SRIOVCore
import SRIOVNetlink

/// An RTM_NEWLINK reply as the kernel would send it.
///
/// Properties: an error is `.corrupt` and names the interface; a readout lists its VFs sorted by index,
/// and every index below `numVFs` is either read or listed once in `missing` (never both); a readout's
/// VFs, written back into a reply the way the kernel lays it out, parse to the same VFs; `parseStats`
/// reads the same VFs (its counters are keyed by exactly the VFs `parse` read).
enum NetlinkTarget {
    static let interface = InterfaceName("fuzz0")!

    static func run(_ bytes: [UInt8]) throws(FuzzFailure) {
        let readout: VFReadout
        switch attempt({ () throws(SRIOVError) in try LinkMessageParser.parse(bytes, interface: interface) }) {
        case .success(let r): readout = r
        case .failure(let e):
            try requireExplained(e, "netlink parse", code: .corrupt, mentions: interface.name)
            return
        }
        Tally.accepted = true
        try check(readout)
        // The counters come from the same walk: the same VFs, the same missing ones.
        switch attempt({ () throws(SRIOVError) in try LinkMessageParser.parseStats(bytes, interface: interface) }) {
        case .success(let stats):
            try require(stats.numVFs == readout.numVFs && stats.missing == readout.missing,
                        "parseStats saw \(stats.numVFs) VFs, missing \(stats.missing); parse \(readout.numVFs), missing \(readout.missing)")
            try require(Set(stats.counters.keys) == Set(readout.vfs.map(\.index)), "counters for other VFs than the settings")
        case .failure(let e):
            throw FuzzFailure(description: "parse accepted a reply parseStats refused: \(e.message)")
        }
        // Written back (one entry per index, as the kernel sends them), the VFs read the same.
        var unique: [VFState] = []
        for vf in readout.vfs where unique.last?.index != vf.index { unique.append(vf) }
        guard unique.allSatisfy({ $0.index <= Int(UInt32.max) }) else { return }
        let reply = Reply.message(numVFs: UInt32(clamping: readout.numVFs), vfs: unique)
        switch attempt({ () throws(SRIOVError) in try LinkMessageParser.parse(reply, interface: interface) }) {
        case .success(let again):
            try check(again)
            try require(again.vfs == unique, "VFs written back read differently:\n  first \(unique)\n  again \(again.vfs)")
        case .failure(let e):
            throw FuzzFailure(description: "a reply written from a readout does not parse: \(e.message)")
        }
    }

    static func check(_ r: VFReadout) throws(FuzzFailure) {
        try require(r.interface == interface, "readout of \(r.interface), asked for \(interface)")
        try require(r.numVFs >= 0, "numVFs \(r.numVFs)")
        try require(zip(r.vfs, r.vfs.dropFirst()).allSatisfy { $0.index <= $1.index }, "VFs not sorted by index")
        try require(zip(r.missing, r.missing.dropFirst()).allSatisfy { $0 < $1 }, "missing VFs not sorted and unique")
        let read = Set(r.vfs.map(\.index))
        for m in r.missing {
            try require(m >= 0 && m < r.numVFs, "missing VF \(m) outside 0..<\(r.numVFs)")
            try require(!read.contains(m), "VF \(m) is both read and missing")
        }
        let accounted = read.filter { $0 >= 0 && $0 < r.numVFs }.count + r.missing.count
        try require(accounted == r.numVFs, "\(r.numVFs) VFs, but \(accounted) read or missing")
    }

    /// Replies laid out as the kernel's rtnl_fill_ifinfo does (the fields the parser reads).
    enum Reply {
        static func le32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)] }

        static func attr(_ type: UInt16, _ payload: [UInt8], nested: Bool = false) -> [UInt8] {
            let len = 4 + payload.count
            let t = type | (nested ? 0x8000 : 0)
            var out = [UInt8(len & 0xff), UInt8(len >> 8 & 0xff), UInt8(t & 0xff), UInt8(t >> 8)] + payload
            while out.count % 4 != 0 { out.append(0) }
            return out
        }

        static func flag(_ b: Bool?) -> UInt32 { b.map { $0 ? 1 : 0 } ?? UInt32.max }

        static func entry(_ vf: VFState) -> [UInt8] {
            let index = le32(UInt32(vf.index))
            var inner: [UInt8] = []
            inner += attr(1, index + vf.mac.octets + [UInt8](repeating: 0, count: 26))
            inner += attr(2, index + le32(UInt32(vf.vlan.id)) + le32(UInt32(vf.vlan.qos)))
            let proto = vf.vlan.proto.etherType
            inner += attr(12, attr(1, index + le32(UInt32(vf.vlan.id)) + le32(UInt32(vf.vlan.qos)) + [UInt8(proto >> 8), UInt8(proto & 0xff), 0, 0]),
                          nested: true)
            inner += attr(6, index + le32(vf.minTxRate) + le32(vf.maxTxRate))
            inner += attr(4, index + le32(flag(vf.spoofCheck)))
            let link: UInt32 = switch vf.linkState { case .auto: 0; case .enable: 1; case .disable: 2; case nil: 3 }
            inner += attr(5, index + le32(link))
            inner += attr(7, index + le32(flag(vf.queryRSS)))
            inner += attr(9, index + le32(flag(vf.trust)))
            return attr(1, inner, nested: true)
        }

        static func message(numVFs: UInt32, vfs: [VFState]) -> [UInt8] {
            var body: [UInt8] = []
            body += attr(3, Array("fuzz0".utf8) + [0])
            body += attr(21, le32(numVFs))
            var list: [UInt8] = []
            for vf in vfs { list += entry(vf) }
            // The list's u16 length wraps past 64 KiB, as the kernel's does.
            let length = 4 + list.count
            body += [UInt8(length & 0xff), UInt8(length >> 8 & 0xff), 22, 0x80] + list
            let ifinfo: [UInt8] = [0, 0, 1, 0] + le32(7) + le32(0x1043) + le32(0)
            let total = UInt32(16 + ifinfo.count + body.count)
            return le32(total) + [16, 0, 0, 0] + le32(1) + le32(0) + ifinfo + body
        }
    }
}
