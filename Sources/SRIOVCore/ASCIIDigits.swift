/// Numbers written as ASCII digits straight into a byte buffer, for what is written on every lease
/// step (JSON documents and journal records, their checksums and timestamps, PCI and MAC addresses):
/// no intermediate `String` per number.
public enum ASCIIDigits {
    /// The decimal digits of `value`, zero-padded to at least `minimumDigits`, appended to `out`.
    public static func appendDecimal(_ value: UInt64, minimumDigits: Int = 1, to out: inout [UInt8]) {
        var count = 1
        var probe = value
        while probe >= 10 {
            probe /= 10
            count += 1
        }
        count = max(count, minimumDigits)
        let start = out.count
        out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: count))
        out.withUnsafeMutableBufferPointer { buffer in
            var rest = value
            var i = start + count
            while rest != 0 {
                i -= 1
                buffer[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
                rest /= 10
            }
        }
    }

    /// The low `digits` hex digits of `value` (4 bits each, most significant first), lower case,
    /// appended to `out`.
    public static func appendHex(_ value: UInt64, digits: Int, to out: inout [UInt8]) {
        for i in stride(from: digits - 1, through: 0, by: -1) {
            out.append(hexDigit(value >> (4 * UInt64(i))))
        }
    }

    /// The lower-case hex digit of `value`'s low four bits.
    @inline(__always)
    public static func hexDigit(_ value: UInt64) -> UInt8 {
        let v = UInt8(truncatingIfNeeded: value & 0xf)
        return v < 10 ? UInt8(ascii: "0") &+ v : UInt8(ascii: "a") &+ (v &- 10)
    }
}
