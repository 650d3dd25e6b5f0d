import Testing
import SRIOVCore

/// `ASCIIDigits` writes what `String(_:radix:)` writes, zero-padded as asked, after what the buffer held.
@Suite("ASCIIDigits")
struct ASCIIDigitsTests {
    @Test func decimalsMatchString() {
        for v: UInt64 in [0, 1, 9, 10, 99, 100, 12345, 1_796_584_551, UInt64(UInt32.max), UInt64.max / 10, UInt64.max] {
            var out: [UInt8] = []
            ASCIIDigits.appendDecimal(v, to: &out)
            #expect(out == Array(String(v).utf8))
        }
        var padded: [UInt8] = []
        ASCIIDigits.appendDecimal(42, minimumDigits: 6, to: &padded)
        #expect(padded == Array("000042".utf8))
        var wide: [UInt8] = []
        ASCIIDigits.appendDecimal(1_234_567, minimumDigits: 6, to: &wide)
        #expect(wide == Array("1234567".utf8))
    }

    @Test func hexMatchesStringAndKeepsWhatWasThere() {
        for v: UInt64 in [0, 1, 0xf, 0x10, 0xdead_beef, 0x8000_0000, 0xffff_ffff, 0x0123_4567] {
            let text = String(v, radix: 16)
            var out: [UInt8] = [0x7b]
            ASCIIDigits.appendHex(v, digits: 8, to: &out)
            #expect(out == [0x7b] + Array((String(repeating: "0", count: 8 - text.count) + text).utf8))
        }
        var low: [UInt8] = []
        ASCIIDigits.appendHex(0x1f, digits: 4, to: &low)
        #expect(low == Array("001f".utf8))
        for n: UInt64 in 0..<16 { #expect(ASCIIDigits.hexDigit(n + 0x30) == Array(String(n, radix: 16).utf8)[0]) }
    }
}
