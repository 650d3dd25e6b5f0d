import Testing
@testable import SRIOVJournal

@Suite("CRC-32C")
struct CRC32CTests {
    /// The reference bit-by-bit algorithm the tables must agree with.
    static func bitwise(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xffff_ffff
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        }
        return ~c
    }

    @Test(arguments: [
        ("123456789", 0xE306_9283 as UInt32),
        ("", 0),
        ("a", 0xC1D0_4330),
    ])
    func knownText(_ text: String, _ expected: UInt32) {
        #expect(CRC32C.checksum(Array(text.utf8)) == expected)
    }

    /// RFC 3720 (iSCSI) appendix B.4 test vectors.
    @Test func rfc3720Vectors() {
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xff, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
    }

    @Test func slicingMatchesBitwiseAtEveryLengthAndSplit() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<80 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let whole = CRC32C.checksum(bytes)
            #expect(whole == Self.bitwise(bytes))
            let split = length / 3
            let chained = bytes.withUnsafeBytes { raw in
                CRC32C.update(CRC32C.update(0, UnsafeRawBufferPointer(rebasing: raw[0..<split])),
                              UnsafeRawBufferPointer(rebasing: raw[split...]))
            }
            #expect(chained == whole)
        }
    }

    @Test func hexRoundTrip() {
        for value: UInt32 in [0, 1, 0xdead_beef, 0xffff_ffff, 0x0102_0304] {
            let hex = CRC32C.hex(value)
            #expect(hex.count == 8)
            #expect(hex.withUnsafeBytes { CRC32C.parseHex($0) } == value)
        }
        #expect(Array("DEADBEEF".utf8).withUnsafeBytes { CRC32C.parseHex($0) } == nil)
        #expect(Array("dead".utf8).withUnsafeBytes { CRC32C.parseHex($0) } == nil)
    }

    @Test func hexDigitsAreStringsOwn() {
        for crc: UInt32 in [0, 1, 0xf, 0x10, 0xdead_beef, 0x8000_0000, 0xffff_ffff, 0x0123_4567] {
            let text = String(crc, radix: 16)
            #expect(CRC32C.hex(crc) == Array((String(repeating: "0", count: 8 - text.count) + text).utf8))
        }
    }
}

/// The record line's timestamp, written digit by digit (`ASCIIDigits`, tested in SRIOVCoreTests).
@Suite("Record line numbers")
struct RecordLineNumberTests {
    @Test func timestampIsSecondsDotSixDigitMicroseconds() throws {
        let text = String(decoding: RecordCodec.timestamp(), as: UTF8.self)
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        #expect(parts.count == 2)
        #expect(parts.count == 2 && parts[1].count == 6 && parts[1].allSatisfy(\.isNumber))
        let seconds = try #require(Int(parts[0]))
        #expect(seconds > 1_700_000_000)
    }
}

