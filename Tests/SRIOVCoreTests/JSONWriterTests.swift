import Foundation
import Testing
import SRIOVCore

/// `JSONWriter`'s primitives write integers digit by digit, scan strings for escapes once, and write
/// PCI and MAC addresses straight into the buffer: each must give exactly what Foundation's
/// JSONEncoder (`[.sortedKeys, .withoutEscapingSlashes]`) writes for the same value.
@Suite("JSONWriter")
struct JSONWriterTests {
    static func foundation<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func written(_ body: (inout JSONWriter) -> Void) -> String {
        var w = JSONWriter()
        body(&w)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    @Test("integers: zero, signs, every width's extremes, and beyond Int64")
    func integers() throws {
        let signed: [Int64] = [0, 1, -1, 9, 10, -10, 99, 100, 12345, -987654321, Int64(Int32.max), Int64(Int32.min),
                               999_999_999_999_999_999, 1_000_000_000_000_000_000, Int64.max, Int64.min, Int64.min + 1]
        for v in signed {
            #expect(Self.written { $0.int(v) } == (try Self.foundation(v)), "\(v)")
        }
        let unsigned: [UInt64] = [0, 7, UInt64(Int64.max), UInt64(Int64.max) + 1, UInt64.max - 1, UInt64.max]
        for v in unsigned {
            #expect(Self.written { $0.int(v) } == (try Self.foundation(v)), "\(v)")
        }
        #expect(Self.written { $0.int(UInt8.max) } == "255")
        #expect(Self.written { $0.int(Int8.min) } == "-128")
        #expect(Self.written { $0.int(UInt16.max) } == "65535")
    }

    @Test("strings: clean, empty, every control byte, quotes, backslashes, slashes and non-ASCII")
    func strings() throws {
        var cases = ["", "ens1f0", "tenant local-admin (uid 0)", "a\"b", "back\\slash", "/dev/vfio/6", "é ü 日本 🚀",
                     "\"", "\\", "end\n", "\tstart", "mixed \"q\" \\ \n\r\t\u{8}\u{c} done"]
        for b in 0..<0x20 { cases.append("x\(Character(Unicode.Scalar(UInt8(b))))y") }
        cases.append(String(repeating: "long clean text ", count: 200))
        for s in cases {
            #expect(Self.written { $0.string(s) } == (try Self.foundation(s)), "\(s.debugDescription)")
        }
    }

    @Test("PCI and MAC addresses are written as their descriptions")
    func addresses() throws {
        for text in ["0000:00:00.0", "0000:3b:02.1", "ffff:ff:1f.7", "10000:00:02.0", "abcdef12:00:1f.7", "0001:0a:0b.3"] {
            let a = try PCIAddress(parsing: text)
            #expect(a.description == text)
            #expect(Self.written { a.writeJSON(&$0) } == (try Self.foundation(a)))
            var bytes: [UInt8] = [0x41]
            a.appendText(to: &bytes)
            #expect(bytes == [0x41] + Array(text.utf8))
        }
        for text in ["00:00:00:00:00:00", "02:5b:00:00:00:12", "ff:ff:ff:ff:ff:ff", "ae:66:ef:04:1c:5a"] {
            let mac = try MACAddress(parsing: text)
            #expect(mac.description == text)
            #expect(Self.written { mac.writeJSON(&$0) } == (try Self.foundation(mac)))
            var bytes: [UInt8] = []
            mac.appendText(to: &bytes)
            #expect(bytes == Array(text.utf8))
        }
    }

    @Test("members, objects and arrays: commas, nil members left out")
    func structure() {
        let out = Self.written { w in
            w.object { w in
                w.member("a", 1)
                w.member("b", nil as Int?)
                w.member("c", true)
                w.member("d", "x")
                w.key("e")
                w.array([1, 2, 3]) { w, v in w.int(v) }
                w.member("f", false)
                w.key("g")
                w.object { _ in }
                w.member("h", 2.5)
            }
        }
        #expect(out == #"{"a":1,"c":true,"d":"x","e":[1,2,3],"f":false,"g":{},"h":2.5}"#)
    }
}
