import Foundation
import Testing
import SRIOVCore

/// The compact decoder must read what either encoder writes, agree with Foundation's JSONDecoder on
/// what is valid JSON and what each value is, and refuse the rest with an error naming where.
@Suite("CompactJSONDecoder")
struct CompactJSONDecoderTests {
    typealias Outer = CompactJSONEncoderTests.Outer

    static func ours<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try CompactJSONDecoder().decode(type, from: Array(text.utf8))
    }

    static func theirs<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }

    @Test func readsWhatEitherEncoderWrote() throws {
        let sample = CompactJSONEncoderTests.sample
        let compact = try CompactJSONEncoder().encode(sample)
        #expect(try CompactJSONDecoder().decode(Outer.self, from: compact) == sample)
        // Foundation's defaults: keys unsorted, slashes escaped.
        let foundation = Array(try JSONEncoder().encode(sample))
        #expect(String(decoding: foundation, as: UTF8.self).contains("\\/"))
        #expect(try CompactJSONDecoder().decode(Outer.self, from: foundation) == sample)
        let pretty = JSONEncoder()
        pretty.outputFormatting = [.prettyPrinted]
        #expect(try CompactJSONDecoder().decode(Outer.self, from: Array(try pretty.encode(sample))) == sample)
    }

    @Test func agreesWithFoundationOnValues() throws {
        let strings = [#"["plain"]"#, #"["\u00e9\u2713\ud83d\ude80"]"#, #"["\"\\\/\b\f\n\r\t"]"#, #"["é ✓ 🚀"]"#, #" [ "" ] "#]
        for text in strings {
            #expect(try Self.ours([String].self, text) == (try Self.theirs([String].self, text)), "\(text)")
        }
        let doubles = ["[0]", "[-0]", "[1.5]", "[-2.25e-3]", "[1E3]", "[123456789.125]", "[1e300]", "[5e-324]"]
        for text in doubles {
            #expect(try Self.ours([Double].self, text) == (try Self.theirs([Double].self, text)), "\(text)")
        }
        let integers = ["[0]", "[-1]", "[9223372036854775807]", "[-9223372036854775808]", "[1e3]", "[2.0]"]
        for text in integers {
            #expect(try Self.ours([Int].self, text) == (try Self.theirs([Int].self, text)), "\(text)")
        }
        #expect(try Self.ours([UInt64].self, "[18446744073709551615]") == [UInt64.max])
        #expect(try Self.ours([Bool?].self, "[true, false, null]") == [true, false, nil])
        #expect(try Self.ours([Int: String].self, #"{"2": "b", "1": "a"}"#) == [1: "a", 2: "b"])
        // A key given twice: the first value, as JSONDecoder.
        #expect(try Self.ours([String: Int].self, #"{"a": 1, "a": 2}"#) == (try Self.theirs([String: Int].self, #"{"a": 1, "a": 2}"#)))
    }

    @Test func bigObjectsAreIndexed() throws {
        let map = Dictionary(uniqueKeysWithValues: (0..<500).map { ("key-\($0)", $0) })
        let bytes = try CompactJSONEncoder().encode(map)
        #expect(try CompactJSONDecoder().decode([String: Int].self, from: bytes) == map)
        struct Wide: Codable, Equatable {
            var a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, b0, b1, b2, b3, b4: Int
        }
        let wide = Wide(a0: 0, a1: 1, a2: 2, a3: 3, a4: 4, a5: 5, a6: 6, a7: 7, a8: 8, a9: 9, b0: 10, b1: 11, b2: 12, b3: 13, b4: 14)
        #expect(try CompactJSONDecoder().decode(Wide.self, from: try CompactJSONEncoder().encode(wide)) == wide)
    }

    /// Not JSON: refused by both decoders, ours with a `dataCorrupted` error saying what and where.
    @Test(arguments: [
        "", " ", "{", "01", "-01", "1.", ".5", "-", "1e", "+1", "[1] 2", #"{"a" 1}"#, "{a:1}",
        #"["\x"]"#, #"["\u12"]"#, #"["\ud800"]"#, #"["\udc00\ud800"]"#, "tru", "nul", "[true false]", "\"open",
        "[\"tab\there\"]", "NaN", "[Infinity]", "'x'",
    ])
    func refusesWhatIsNotJSON(_ text: String) {
        #expect(throws: (any Error).self) { try Self.theirs(AnyJSON.self, text) }
        do {
            _ = try Self.ours(AnyJSON.self, text)
            Issue.record("accepted \(text)")
        } catch DecodingError.dataCorrupted(let context) {
            #expect(context.debugDescription.hasPrefix("The given data was not valid JSON: "), "\(text): \(context.debugDescription)")
        } catch {
            Issue.record("\(text): \(error)")
        }
    }

    /// RFC 8259 has no comma before `]` or `}`; JSONDecoder lets one pass, this decoder does not.
    @Test func refusesTrailingCommas() {
        for text in ["[1,]", #"{"a":1,}"#, "[,]", "{,}"] {
            #expect(throws: DecodingError.self, "\(text)") { try Self.ours(AnyJSON.self, text) }
        }
    }

    @Test func refusesInvalidUTF8AndRawControlCharacters() {
        for bytes: [UInt8] in [[0x22, 0xff, 0x22], [0x22, 0xc3, 0x22], [0x22, 0x01, 0x22], [0x22, 0x5c, 0x75, 0x30, 0x30, 0x65, 0x39, 0xed, 0xa0, 0x80, 0x22]] {
            #expect(throws: DecodingError.self) { try CompactJSONDecoder().decode(String.self, from: bytes) }
            #expect(throws: (any Error).self) { try JSONDecoder().decode(String.self, from: Data(bytes)) }
        }
    }

    @Test func nestingIsLimited() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: DecodingError.self) { try Self.ours(AnyJSON.self, deep) }
        let fine = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(try Self.ours(AnyJSON.self, fine) == (try Self.theirs(AnyJSON.self, fine)))
    }

    /// `StringMembers` reads our parsed object directly and any other decoder through `allKeys`: both
    /// give the same map, keep a repeated member's first value, and refuse a member that is not a string.
    @Test func stringMembersAgreeWithFoundation() throws {
        struct Doc: Decodable { var map: StringMembers }
        for text in [#"{"map": {}}"#, #"{"map": {"0000:3b:02.0": "/dev/vfio/42", "b": ""}}"#, #"{"map": {"a": "1", "a": "2"}}"#] {
            let ours = try Self.ours(Doc.self, text).map.members
            #expect(ours == (try Self.theirs(Doc.self, text)).map.members, "\(text)")
        }
        #expect(try Self.ours(Doc.self, #"{"map": {"a": "1", "a": "2"}}"#).map.members == ["a": "1"])
        for bad in [#"{"map": {"a": 1}}"#, #"{"map": ["a"]}"#, #"{"map": null}"#] {
            #expect(throws: DecodingError.self, "\(bad)") { try Self.ours(Doc.self, bad) }
            #expect(throws: DecodingError.self, "\(bad)") { try Self.theirs(Doc.self, bad) }
        }
        do {
            _ = try Self.ours(Doc.self, #"{"map": {"x": "1", "y": true}}"#)
            Issue.record("a boolean member was accepted")
        } catch DecodingError.typeMismatch(_, let c) {
            #expect(c.codingPath.map(\.stringValue) == ["map", "y"])
        }
    }

    @Test func typeErrorsNameThePath() throws {
        struct Inner: Decodable { var weight: Double }
        struct Doc: Decodable { var name: String; var inner: Inner; var list: [UInt8] }
        func failure(_ text: String) -> DecodingError? {
            let result = Result { try CompactJSONDecoder().decode(Doc.self, from: Array(text.utf8)) }
            guard case .failure(let error) = result else { return nil }
            return error as? DecodingError
        }
        guard case .keyNotFound(let key, let c)? = failure(#"{"inner": {"weight": 1}, "list": []}"#) else { Issue.record("missing key"); return }
        #expect(key.stringValue == "name" && c.codingPath.isEmpty)
        guard case .typeMismatch(_, let c)? = failure(#"{"name": "x", "inner": {"weight": "heavy"}, "list": []}"#) else { Issue.record("mismatch"); return }
        #expect(c.codingPath.map(\.stringValue) == ["inner", "weight"] && c.debugDescription.contains("found a string"))
        guard case .valueNotFound(_, let c)? = failure(#"{"name": null, "inner": {"weight": 1}, "list": []}"#) else { Issue.record("null"); return }
        #expect(c.codingPath.map(\.stringValue) == ["name"])
        guard case .dataCorrupted(let c)? = failure(#"{"name": "x", "inner": {"weight": 1}, "list": [1, 300]}"#) else { Issue.record("range"); return }
        #expect(c.codingPath.map(\.stringValue) == ["list", "Index 1"] && c.debugDescription.contains("<300> does not fit in UInt8"))
        guard case .dataCorrupted? = failure(#"{"name": "x", "inner": {"weight": 1}, "list": [1.5]}"#) else { Issue.record("fraction"); return }
        guard case .typeMismatch(_, let c)? = failure(#"{"name": "x", "inner": {"weight": 1}, "list": 3}"#) else { Issue.record("array expected"); return }
        #expect(c.codingPath.map(\.stringValue) == ["list"] && c.debugDescription.contains("found a number"))
    }
}

/// Any JSON value, to compare what both decoders make of a document.
indirect enum AnyJSON: Decodable, Equatable {
    case null, bool(Bool), number(Double), string(String), array([AnyJSON]), object([String: AnyJSON])

    init(from decoder: any Decoder) throws {
        if let c = try? decoder.container(keyedBy: Key.self) {
            var members: [String: AnyJSON] = [:]
            for key in c.allKeys { members[key.stringValue] = try c.decode(AnyJSON.self, forKey: key) }
            self = .object(members)
        } else if var c = try? decoder.unkeyedContainer() {
            var elements: [AnyJSON] = []
            while !c.isAtEnd { elements.append(try c.decode(AnyJSON.self)) }
            self = .array(elements)
        } else {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .null }
            else if let b = try? c.decode(Bool.self) { self = .bool(b) }
            else if let n = try? c.decode(Double.self) { self = .number(n) }
            else { self = .string(try c.decode(String.self)) }
        }
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
