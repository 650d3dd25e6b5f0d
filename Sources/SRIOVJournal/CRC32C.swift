import SRIOVCore

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as iSCSI, ext4 and RFC 3720 use it.
///
/// Slicing-by-8: eight 256-entry tables let the loop consume eight bytes per step, which matters when
/// start-up checks a million ~250-byte records. `update(0, a + b) == update(update(0, a), b)`.
enum CRC32C {
    /// table[k * 256 + b]: the CRC of byte `b` followed by `k` zero bytes.
    static let table: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            t[i] = c
        }
        for i in 0..<256 {
            var c = t[i]
            for k in 1..<8 {
                c = t[Int(c & 0xff)] ^ (c >> 8)
                t[k * 256 + i] = c
            }
        }
        return t
    }()

    /// The CRC of the bytes seen so far (`crc`, 0 for none) extended by `bytes`.
    static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        let n = bytes.count
        var c = ~crc
        table.withUnsafeBufferPointer { t in
            var i = 0
            while n - i >= 8 {
                let lo = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt32.self)) ^ c
                let hi = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self))
                c = t[0x700 | Int(lo & 0xff)] ^ t[0x600 | Int((lo >> 8) & 0xff)]
                    ^ t[0x500 | Int((lo >> 16) & 0xff)] ^ t[0x400 | Int(lo >> 24)]
                    ^ t[0x300 | Int(hi & 0xff)] ^ t[0x200 | Int((hi >> 8) & 0xff)]
                    ^ t[0x100 | Int((hi >> 16) & 0xff)] ^ t[Int(hi >> 24)]
                i += 8
            }
            while i < n {
                c = t[Int((c ^ UInt32(base.load(fromByteOffset: i, as: UInt8.self))) & 0xff)] ^ (c >> 8)
                i += 1
            }
        }
        return ~c
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { update(0, $0) }
    }

    /// Eight lower-case hex digits, as the journal stores a checksum.
    static func hex(_ crc: UInt32) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(8)
        ASCIIDigits.appendHex(UInt64(crc), digits: 8, to: &out)
        return out
    }

    /// Parses exactly eight lower-case hex digits; nil for anything else.
    static func parseHex(_ bytes: UnsafeRawBufferPointer) -> UInt32? {
        guard bytes.count == 8 else { return nil }
        var value: UInt32 = 0
        for b in bytes {
            let d: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - UInt8(ascii: "a") + 10
            default: return nil
            }
            value = value << 4 | UInt32(d)
        }
        return value
    }
}
