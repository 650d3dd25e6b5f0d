import Foundation
import Testing
import SRIOVCore

/// The journal's decoder (`ByteJSONDecoder`) against Foundation's JSONDecoder: the same values from
/// the same bytes, JSON's escapes and numbers exactly, and a DecodingError with the path for bad input.
@Suite("ByteJSONDecoder")
struct ByteJSONDecoderTests {
    struct Inner: Codable, Equatable {
        var name: String
        var small: UInt8
        var list: [Int32]
    }

    struct Sample: Codable, Equatable {
        var text: String
        var flag: Bool
        var count: Int
        var big: UInt64
        var negative: Int64
        var ratio: Double
        var maybe: String?
        var missing: Int?
        var inner: Inner
        var map: [String: Inner]
        var nested: [[UInt16]]
    }

    static let sample = Sample(text: "a \"quoted\" \\ path/with\nnewline\tand é ✓ 𝄞", flag: true, count: -42,
                               big: UInt64.max, negative: Int64.min, ratio: 1_800_000_000.125, maybe: nil, missing: nil,
                               inner: Inner(name: "x", small: 255, list: [1, -2, 3]),
                               map: ["b": Inner(name: "", small: 0, list: []), "a": Inner(name: "ü", small: 7, list: [Int32.max])],
                               nested: [[], [0, 65_535]])

    func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try ByteJSONDecoder().decode(type, from: Array(text.utf8))
    }

    @Test func decodesWhatJSONEncoderWrites() throws {
        let bytes = Array(try JSONEncoder().encode(Self.sample))
        #expect(try ByteJSONDecoder().decode(Sample.self, from: bytes) == Self.sample)
        #expect(try JSONDecoder().decode(Sample.self, from: Data(bytes)) == Self.sample)
    }

    @Test func escapesAndSurrogates() throws {
        let text = #"["\u0041\u00e9\u2713\ud834\udd1e", "\/\b\f\n\r\t\"\\"]"#
        #expect(try decode([String].self, text) == ["Aé✓𝄞", "/\u{8}\u{c}\n\r\t\"\\"])
        for bad in [#"["\ud834"]"#, #"["\udd1e"]"#, #"["\x"]"#, #"["\u12"]"#, "[\"a\u{1}\"]", #"["open"#] {
            #expect(throws: DecodingError.self, "\(bad)") { _ = try decode([String].self, bad) }
        }
    }

    @Test func numbersAreExact() throws {
        #expect(try decode([UInt64].self, "[18446744073709551615, 0]") == [UInt64.max, 0])
        #expect(try decode([Int].self, "[3.0, 2e2, -0]") == [3, 200, 0])
        #expect(try decode([Double].self, "[0.1, -1.5e-3, 1E3]") == [0.1, -0.0015, 1000])
        for bad in ["[256]", "[-1]", "[1.5]"] {
            #expect(throws: DecodingError.self, "\(bad)") { _ = try decode([UInt8].self, bad) }
        }
        for bad in ["[01]", "[1.]", "[-]", "[1e]", "[+1]", "[.5]"] {
            #expect(throws: DecodingError.self, "\(bad)") { _ = try decode([Double].self, bad) }
        }
    }

    @Test func badDocumentsAreRefused() throws {
        for bad in ["", "{", "{\"a\":1,}", "[1,]", "{\"a\":1}x", "{\"a\":1,\"a\":2}", "tru", "nul", "{a:1}",
                    String(repeating: "[", count: 600) + String(repeating: "]", count: 600)] {
            #expect(throws: DecodingError.self, "\(bad)") { _ = try decode([String: Int].self, bad) }
        }
    }

    @Test func errorsNameThePath() throws {
        do {
            _ = try decode(Sample.self, #"{"text":"t","flag":true,"count":1,"big":1,"negative":1,"ratio":1,"inner":{"name":"n","small":1,"list":[1,"two"]},"map":{},"nested":[]}"#)
            Issue.record("a string in a list of Int32 was accepted")
        } catch DecodingError.typeMismatch(_, let context) {
            #expect(context.codingPath.map(\.stringValue) == ["inner", "list", "1"])
        }
        do {
            _ = try decode(Inner.self, #"{"name":"n","list":[]}"#)
            Issue.record("a missing key was accepted")
        } catch DecodingError.keyNotFound(let key, _) {
            #expect(key.stringValue == "small")
        }
        #expect(throws: DecodingError.self) { _ = try decode(Inner.self, #"{"name":null,"small":1,"list":[]}"#) }
    }
}
