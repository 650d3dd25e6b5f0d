import Foundation
import Testing
import SRIOVCore

/// The compact encoder must write what Foundation's JSONEncoder writes with
/// `[.sortedKeys, .withoutEscapingSlashes]`, byte for byte, and decode back to the same value.
@Suite("CompactJSONEncoder")
struct CompactJSONEncoderTests {
    struct Inner: Codable, Equatable {
        var name: String
        var weight: Double
        var tags: [String]
    }

    enum Mode: String, Codable { case alpha, beta }

    struct Outer: Codable, Equatable {
        var zeta: Int
        var alpha: String?
        var missing: String?
        var Upper: Bool
        var inner: Inner
        var list: [Inner]
        var map: [String: String]
        var numbers: [Int: Double]
        var optionals: [Int?]
        var mode: Mode
        var mac: MACAddress
        var pci: PCIAddress
        var vlan: VLAN
        var small: UInt8
        var big: UInt64
        var negative: Int64
        var nested: [[String]]
    }

    static func foundation<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    static let sample = Outer(
        zeta: -42, alpha: "quote \" backslash \\ slash / newline \n tab \t bell \u{07} é ✓ 🚀", missing: nil, Upper: true,
        inner: Inner(name: "x", weight: 1.5, tags: []),
        list: [Inner(name: "a", weight: 0, tags: ["1", "2"]), Inner(name: "b", weight: 1_800_000_000.123456, tags: ["z"])],
        map: ["b": "2", "a": "1", "B": "3", "aa": "4", "a_b": "5", "a1": "6"],
        numbers: [3: 0.1, 1: -2.25, 2: 1e300],
        optionals: [1, nil, 3], mode: .beta,
        mac: try! MACAddress(parsing: "52:54:00:12:34:56"), pci: PCIAddress("0000:3b:02.7")!, vlan: try! VLAN(id: 100, qos: 3),
        small: 255, big: UInt64.max, negative: Int64.min, nested: [[], ["x"]])

    @Test func sameBytesAsFoundation() throws {
        let ours = try CompactJSONEncoder().encode(Self.sample)
        let theirs = try Self.foundation(Self.sample)
        #expect(String(decoding: ours, as: UTF8.self) == String(decoding: theirs, as: UTF8.self))
        #expect(try JSONDecoder().decode(Outer.self, from: Data(ours)) == Self.sample)
    }

    /// `--json` output: Foundation's pretty layout, byte for byte, empty containers and strings with
    /// brackets, colons, commas and escaped quotes in them included.
    @Test func prettySameBytesAsFoundation() throws {
        struct Odd: Encodable {
            var empty: [Int] = []
            var none: [String: Int] = [:]
            var nested: [[Int]] = [[1, 2], [], [3]]
            var deep: [String: [String: [Int]]] = ["a": ["b": []], "c": [:]]
            var text = "x/y \"q\" : , { [ ] } \\ é \n"
            var number = 1.5
            var absent: Int?
        }
        let pretty = JSONEncoder()
        pretty.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        func same<T: Encodable>(_ value: T) throws {
            let ours = String(decoding: try CompactJSONEncoder().encodePretty(value), as: UTF8.self)
            let theirs = String(decoding: try pretty.encode(value), as: UTF8.self)
            #expect(ours == theirs)
        }
        try same(Self.sample)
        try same(Odd())
        try same([Odd(), Odd()])
        try same([Int]())
        try same([String: Int]())
        try same(5)
        try same("text")
    }

    @Test func doublesMatchFoundation() throws {
        for value in [0.0, -0.0, 1.0, -1.0, 0.1, 1.0 / 3.0, 123456789.125, 1_800_000_000.5, 9_007_199_254_740_993.0, 1e-7, Double.leastNonzeroMagnitude,
                      Double.greatestFiniteMagnitude, 1e21, 12345678912345678.0] {
            let ours = String(decoding: try CompactJSONEncoder().encode([value]), as: UTF8.self)
            let theirs = String(decoding: try Self.foundation([value]), as: UTF8.self)
            #expect(ours == theirs, "value \(value)")
            let back = try JSONDecoder().decode([Double].self, from: Data(ours.utf8))
            #expect(back == [value], "round trip of \(value)")
        }
    }

    @Test func refusesNonFiniteNumbers() {
        #expect(throws: (any Error).self) { try CompactJSONEncoder().encode(["x": Double.nan]) }
        #expect(throws: (any Error).self) { try CompactJSONEncoder().encode([Double.infinity]) }
    }

    @Test func controlCharactersAreEscapedOnOneLine() throws {
        let text = String(decoding: (0..<32).map { UInt8($0) } + [0x7f], as: UTF8.self)
        let ours = try CompactJSONEncoder().encode([text])
        #expect(!ours.contains(0x0a) && !ours.contains(0x0d))
        #expect(try JSONDecoder().decode([String].self, from: Data(ours)) == [text])
        #expect(String(decoding: ours, as: UTF8.self) == String(decoding: try Self.foundation([text]), as: UTF8.self))
    }

    /// Types that write through nested containers and super encoders (hand-written Codable).
    struct Manual: Encodable {
        enum K: String, CodingKey { case outer, list, sup }
        enum N: String, CodingKey { case y, x }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: K.self)
            var n = c.nestedContainer(keyedBy: N.self, forKey: .outer)
            try n.encode(2, forKey: .y)
            try n.encode("one", forKey: .x)
            var u = c.nestedUnkeyedContainer(forKey: .list)
            try u.encode(true)
            var un = u.nestedContainer(keyedBy: N.self)
            try un.encode(1.25, forKey: .x)
            try u.encodeNil()
            try ["a": 1].encode(to: c.superEncoder(forKey: .sup))
        }
    }

    @Test func nestedContainersAndSuperEncoders() throws {
        let ours = String(decoding: try CompactJSONEncoder().encode(Manual()), as: UTF8.self)
        let theirs = String(decoding: try Self.foundation(Manual()), as: UTF8.self)
        #expect(ours == theirs)
        #expect(ours == #"{"list":[true,{"x":1.25},null],"outer":{"x":"one","y":2},"sup":{"a":1}}"#)
    }
}
