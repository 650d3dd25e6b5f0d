/// Decodes JSON into `Decodable` values without Foundation: the reading half of `CompactJSONEncoder`,
/// for the journal's records and snapshot and for sriovd's answers to `sriovctl`.
///
/// Why not `JSONDecoder`: in a short-lived process (every `sriovctl` command) most of its cost is the
/// first use of each type. For every value it decodes it asks the runtime whether the type is one it
/// special-cases (`Date`, `Data`, `URL`, `Decimal`, string-keyed dictionaries); the first time for each
/// type such a question scans every protocol conformance in the executable, and the answer is mostly
/// no. This decoder special-cases nothing: a value decodes through its own `init(from:)`, as the
/// encoder writes it through its `encode(to:)`. Our types carry no `Date`, `Data`, `URL` or `Decimal`
/// (Foundation would code them differently), and both halves agree on everything else with
/// Foundation's defaults: keys as written, numbers as JSON numbers, dictionaries with `String` or
/// `Int` keys as objects, other dictionaries as arrays of alternating keys and values.
///
/// Input is checked as strictly as `JSONDecoder` checks it (RFC 8259: one value, whitespace around
/// it, strings of valid UTF-8 without raw control characters, no leading zeros), nesting is limited
/// to 512 levels, and every failure is a `DecodingError` naming where it happened.
/// Stricter than `JSONDecoder` in one way: a comma before `]` or `}` is refused (RFC 8259 has none;
/// `JSONDecoder` lets it pass).
public struct CompactJSONDecoder: Sendable {
    /// Arrays and objects nested deeper than this are refused (as `JSONDecoder` does).
    public static let maximumDepth = 512

    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        let value = try bytes.withUnsafeBufferPointer { buffer in
            var parser = CompactJSONParser(buffer)
            return try parser.parseDocument()
        }
        return try T(from: CompactJSONValueDecoder(value: value, path: nil))
    }
}

/// A parsed JSON value. Numbers keep their text: each type reads it as it needs.
enum CompactJSONValue {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([CompactJSONValue])
    case object(CompactJSONObject)

    var kind: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// An object's members in document order; a key given twice keeps its first value (as `JSONDecoder`).
final class CompactJSONObject {
    let keys: [String]
    let values: [CompactJSONValue]
    /// Key -> index of its (first) value, for objects too big to search member by member.
    let index: [String: Int]?

    init(keys: [String], values: [CompactJSONValue]) {
        self.keys = keys
        self.values = values
        if keys.count > 12 {
            var index: [String: Int] = [:]
            index.reserveCapacity(keys.count)
            for (i, key) in keys.enumerated() where index[key] == nil { index[key] = i }
            self.index = index
        } else {
            index = nil
        }
    }

    func value(_ key: String) -> CompactJSONValue? {
        if let index { return index[key].map { values[$0] } }
        for i in keys.indices where keys[i] == key { return values[i] }
        return nil
    }

    /// Each key once, in document order.
    var distinctKeys: [String] {
        guard keys.count > 1 else { return keys }
        var seen = Set<String>()
        return keys.filter { seen.insert($0).inserted }
    }
}

/// RFC 8259 over a byte buffer.
struct CompactJSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var at = 0
    var depth = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    func failure(_ what: String) -> DecodingError {
        DecodingError.dataCorrupted(DecodingError.Context(
            codingPath: [], debugDescription: "The given data was not valid JSON: \(what) at byte \(at)."))
    }

    mutating func parseDocument() throws -> CompactJSONValue {
        skipSpace()
        guard at < bytes.count else { throw failure("no value") }
        let value = try parseValue()
        skipSpace()
        guard at == bytes.count else { throw failure("unexpected text after the value") }
        return value
    }

    mutating func skipSpace() {
        while at < bytes.count {
            switch bytes[at] {
            case 0x20, 0x0a, 0x0d, 0x09: at += 1
            default: return
            }
        }
    }

    mutating func parseValue() throws -> CompactJSONValue {
        guard at < bytes.count else { throw failure("unexpected end of data") }
        switch bytes[at] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw failure("unexpected character \(Self.describe(bytes[at]))")
        }
    }

    static func describe(_ byte: UInt8) -> String {
        (0x21...0x7e).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "0x" + String(byte, radix: 16)
    }

    mutating func literal(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        guard at + n <= bytes.count else { throw failure("unexpected end of data") }
        for i in 0..<n where bytes[at + i] != word.utf8Start[i] {
            throw failure("unexpected character \(Self.describe(bytes[at + i]))")
        }
        at += n
    }

    mutating func enter() throws {
        depth += 1
        guard depth <= CompactJSONDecoder.maximumDepth else {
            throw failure("nested deeper than \(CompactJSONDecoder.maximumDepth) levels")
        }
    }

    mutating func parseArray() throws -> CompactJSONValue {
        var elements: [CompactJSONValue] = []
        try forEachElement { parser in elements.append(try parser.parseValue()) }
        return .array(elements)
    }

    /// Walks the array at `at` (its opening bracket): `element` is called at each element and reads it.
    mutating func forEachElement(_ element: (inout CompactJSONParser) throws -> Void) throws {
        try enter()
        defer { depth -= 1 }
        at += 1
        skipSpace()
        if at < bytes.count, bytes[at] == UInt8(ascii: "]") {
            at += 1
            return
        }
        while true {
            skipSpace()
            try element(&self)
            if try closes(UInt8(ascii: "]"), "an array") { return }
        }
    }

    /// After a member or element: true at the closing bracket, false at a comma (both consumed).
    mutating func closes(_ bracket: UInt8, _ container: String) throws -> Bool {
        skipSpace()
        guard at < bytes.count else { throw failure("unexpected end of data in \(container)") }
        let b = bytes[at]
        guard b == UInt8(ascii: ",") || b == bracket else {
            throw failure("expected ',' or '\(Character(Unicode.Scalar(bracket)))' in \(container), found \(Self.describe(b))")
        }
        at += 1
        return b == bracket
    }

    mutating func parseObject() throws -> CompactJSONValue {
        var keys: [String] = []
        var values: [CompactJSONValue] = []
        try forEachMember { parser in
            keys.append(try parser.parseString())
            try parser.nameSeparator()
            values.append(try parser.parseValue())
        }
        return .object(CompactJSONObject(keys: keys, values: values))
    }

    /// Walks the object at `at` (its opening brace): `member` is called at each member name's opening
    /// quote and reads the name, the separator (`nameSeparator`) and the value.
    mutating func forEachMember(_ member: (inout CompactJSONParser) throws -> Void) throws {
        try enter()
        defer { depth -= 1 }
        at += 1
        skipSpace()
        if at < bytes.count, bytes[at] == UInt8(ascii: "}") {
            at += 1
            return
        }
        while true {
            skipSpace()
            guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else {
                throw failure(at < bytes.count ? "expected a member name in quotes, found \(Self.describe(bytes[at]))" : "unexpected end of data in an object")
            }
            try member(&self)
            if try closes(UInt8(ascii: "}"), "an object") { return }
        }
    }

    /// The ':' between a member's name and its value, with the space around it.
    mutating func nameSeparator() throws {
        skipSpace()
        guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { throw failure("expected ':' after a member name") }
        at += 1
        skipSpace()
    }

    mutating func parseNumber() throws -> String {
        let start = at
        func digits() -> Int {
            let from = at
            while at < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[at]) { at += 1 }
            return at - from
        }
        if bytes[at] == UInt8(ascii: "-") { at += 1 }
        guard at < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[at]) else { throw failure("a number without digits") }
        if bytes[at] == UInt8(ascii: "0") {
            at += 1
            if at < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[at]) { throw failure("a number with a leading zero") }
        } else {
            _ = digits()
        }
        if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
            at += 1
            guard digits() > 0 else { throw failure("a number without digits after '.'") }
        }
        if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
            at += 1
            if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
            guard digits() > 0 else { throw failure("a number without digits in its exponent") }
        }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
    }

    mutating func parseString() throws -> String {
        at += 1
        let start = at
        // The common case: no escapes, one copy; ASCII needs no UTF-8 validation (String's own is
        // generic code, ~1,000 instructions a string).
        var ascii = true
        while at < bytes.count {
            let b = bytes[at]
            if b == UInt8(ascii: "\"") {
                let text = UnsafeBufferPointer(rebasing: bytes[start..<at])
                at += 1
                return ascii ? String(decoding: text, as: UTF8.self) : try Self.validated(text, self)
            }
            if b >= 0x80 { ascii = false }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw failure("an unescaped control character in a string") }
            at += 1
        }
        var out = Array(UnsafeBufferPointer(rebasing: bytes[start..<at]))
        while at < bytes.count {
            let b = bytes[at]
            if b == UInt8(ascii: "\"") {
                at += 1
                return try out.withUnsafeBufferPointer { try Self.validated($0, self) }
            }
            if b < 0x20 { throw failure("an unescaped control character in a string") }
            if b != UInt8(ascii: "\\") {
                out.append(b)
                at += 1
                continue
            }
            at += 1
            guard at < bytes.count else { break }
            let e = bytes[at]
            at += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0c)
            case UInt8(ascii: "n"): out.append(0x0a)
            case UInt8(ascii: "r"): out.append(0x0d)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xd800...0xdbff).contains(scalar) {
                    // A high surrogate must be followed by an escaped low one.
                    guard at + 1 < bytes.count, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") else {
                        throw failure("an unpaired surrogate in a \\u escape")
                    }
                    at += 2
                    let low = try hex4()
                    guard (0xdc00...0xdfff).contains(low) else { throw failure("an unpaired surrogate in a \\u escape") }
                    scalar = 0x10000 + ((scalar - 0xd800) << 10) + (low - 0xdc00)
                } else if (0xdc00...0xdfff).contains(scalar) {
                    throw failure("an unpaired surrogate in a \\u escape")
                }
                guard let u = Unicode.Scalar(scalar) else { throw failure("an invalid \\u escape") }
                out.append(contentsOf: Unicode.UTF8.encode(u)!)
            default:
                throw failure("an invalid escape \\\(Self.describe(e)) in a string")
            }
        }
        throw failure("a string without its closing quote")
    }

    mutating func hex4() throws -> UInt32 {
        guard at + 4 <= bytes.count else { throw failure("a \\u escape without four hex digits") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[at]
            let d: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b - UInt8(ascii: "A") + 10
            default: throw failure("a \\u escape without four hex digits")
            }
            v = v << 4 | UInt32(d)
            at += 1
        }
        return v
    }

    static func validated(_ text: UnsafeBufferPointer<UInt8>, _ parser: CompactJSONParser) throws -> String {
        guard let s = String(validating: text, as: UTF8.self) else { throw parser.failure("a string that is not valid UTF-8") }
        return s
    }
}

struct CompactJSONValueDecoder: Decoder {
    let value: CompactJSONValue
    let path: CompactJSON.Path?

    var codingPath: [any CodingKey] { CompactJSON.Path.keys(path) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let object) = value else {
            throw CompactJSONValueDecoder.mismatch([String: Any].self, value, path)
        }
        return KeyedDecodingContainer(CompactJSONKeyed<Key>(object: object, path: path))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = value else {
            throw CompactJSONValueDecoder.mismatch([Any].self, value, path)
        }
        return CompactJSONUnkeyed(elements: elements, path: path)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        CompactJSONSingle(value: value, path: path)
    }

    /// The object's members, each a `Value` (`JSONMembers`), without a keyed container.
    func members<Value: Decodable>(_ type: Value.Type) throws -> [String: Value] {
        guard case .object(let object) = value else {
            throw CompactJSONValueDecoder.mismatch([String: Value].self, value, path)
        }
        var members: [String: Value] = [:]
        members.reserveCapacity(object.keys.count)
        for i in object.keys.indices where members[object.keys[i]] == nil {
            members[object.keys[i]] = try CompactJSONValueDecoder.decode(Value.self, object.values[i], CompactJSON.Path(path, MemberKey(stringValue: object.keys[i])))
        }
        return members
    }

    static func mismatch(_ type: Any.Type, _ value: CompactJSONValue, _ path: CompactJSON.Path?) -> DecodingError {
        if case .null = value {
            return DecodingError.valueNotFound(type, DecodingError.Context(
                codingPath: CompactJSON.Path.keys(path), debugDescription: "Cannot get value of type \(type) -- found null value instead"))
        }
        return DecodingError.typeMismatch(type, DecodingError.Context(
            codingPath: CompactJSON.Path.keys(path), debugDescription: "Expected to decode \(type) but found \(value.kind) instead."))
    }

    /// `value` as `T`: primitives read here, anything else through `T(from:)`.
    static func decode<T: Decodable>(_ type: T.Type, _ value: CompactJSONValue, _ path: CompactJSON.Path?) throws -> T {
        try T(from: CompactJSONValueDecoder(value: value, path: path))
    }

    static func string(_ value: CompactJSONValue, _ path: CompactJSON.Path?) throws -> String {
        guard case .string(let s) = value else { throw mismatch(String.self, value, path) }
        return s
    }

    static func bool(_ value: CompactJSONValue, _ path: CompactJSON.Path?) throws -> Bool {
        guard case .bool(let b) = value else { throw mismatch(Bool.self, value, path) }
        return b
    }

    static func integer<I: FixedWidthInteger>(_ type: I.Type, _ value: CompactJSONValue, _ path: CompactJSON.Path?) throws -> I {
        guard case .number(let text) = value else { throw mismatch(type, value, path) }
        if let n = I(text) { return n }
        // 1e3 or 2.0 are whole numbers too; a fraction or a number out of range is not one.
        if let d = Double(text), d.isFinite, let n = I(exactly: d) { return n }
        throw DecodingError.dataCorrupted(DecodingError.Context(
            codingPath: CompactJSON.Path.keys(path), debugDescription: "Parsed JSON number <\(text)> does not fit in \(type)."))
    }

    static func floating<F: BinaryFloatingPoint & LosslessStringConvertible>(_ type: F.Type, _ value: CompactJSONValue, _ path: CompactJSON.Path?) throws -> F {
        guard case .number(let text) = value else { throw mismatch(type, value, path) }
        guard let d = F(text), d.isFinite else {
            throw DecodingError.dataCorrupted(DecodingError.Context(
                codingPath: CompactJSON.Path.keys(path), debugDescription: "Parsed JSON number <\(text)> does not fit in \(type)."))
        }
        return d
    }
}

struct CompactJSONKeyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let object: CompactJSONObject
    let path: CompactJSON.Path?

    var codingPath: [any CodingKey] { CompactJSON.Path.keys(path) }
    /// A plain loop: `compactMap` here is unspecialized generic code whose first use per key type
    /// costs ~0.3M instructions of runtime type lookups in a short-lived process.
    var allKeys: [Key] {
        var keys: [Key] = []
        keys.reserveCapacity(object.keys.count)
        for name in object.distinctKeys {
            if let key = Key(stringValue: name) { keys.append(key) }
        }
        return keys
    }

    func contains(_ key: Key) -> Bool { object.value(key.stringValue) != nil }

    func member(_ key: Key) throws -> CompactJSONValue {
        guard let value = object.value(key.stringValue) else {
            throw DecodingError.keyNotFound(key, DecodingError.Context(
                codingPath: CompactJSON.Path.keys(path), debugDescription: "No value associated with key \(key) (\"\(key.stringValue)\")."))
        }
        return value
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        if case .null = try member(key) { return true }
        return false
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        try CompactJSONValueDecoder.bool(member(key), CompactJSON.Path(path, key))
    }

    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        try CompactJSONValueDecoder.string(member(key), CompactJSON.Path(path, key))
    }

    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try CompactJSONValueDecoder.floating(type, member(key), CompactJSON.Path(path, key)) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try CompactJSONValueDecoder.floating(type, member(key), CompactJSON.Path(path, key)) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try CompactJSONValueDecoder.integer(type, member(key), CompactJSON.Path(path, key)) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try CompactJSONValueDecoder.integer(type, member(key), CompactJSON.Path(path, key)) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try CompactJSONValueDecoder.integer(type, member(key), CompactJSON.Path(path, key)) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try CompactJSONValueDecoder.integer(type, member(key), CompactJSON.Path(path, key)) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try CompactJSONValueDecoder.integer(type, member(key), CompactJSON.Path(path, key)) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try CompactJSONValueDecoder.integer(type, member(key), CompactJSON.Path(path, key)) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try CompactJSONValueDecoder.integer(type, member(key), CompactJSON.Path(path, key)) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try CompactJSONValueDecoder.integer(type, member(key), CompactJSON.Path(path, key)) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try CompactJSONValueDecoder.integer(type, member(key), CompactJSON.Path(path, key)) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try CompactJSONValueDecoder.integer(type, member(key), CompactJSON.Path(path, key)) }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try CompactJSONValueDecoder.decode(type, member(key), CompactJSON.Path(path, key))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try CompactJSONValueDecoder(value: member(key), path: CompactJSON.Path(path, key)).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try CompactJSONValueDecoder(value: member(key), path: CompactJSON.Path(path, key)).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        CompactJSONValueDecoder(value: object.value("super") ?? .null, path: CompactJSON.Path(path, CompactJSONSuperKey()))
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        CompactJSONValueDecoder(value: object.value(key.stringValue) ?? .null, path: CompactJSON.Path(path, key))
    }
}

struct CompactJSONSuperKey: CodingKey {
    var stringValue: String { "super" }
    var intValue: Int? { nil }
    init() {}
    init?(stringValue: String) { nil }
    init?(intValue: Int) { nil }
}

struct CompactJSONUnkeyed: UnkeyedDecodingContainer {
    let elements: [CompactJSONValue]
    let path: CompactJSON.Path?
    var currentIndex = 0

    init(elements: [CompactJSONValue], path: CompactJSON.Path?) {
        self.elements = elements
        self.path = path
    }

    var codingPath: [any CodingKey] { CompactJSON.Path.keys(path) }
    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    mutating func next(_ type: Any.Type) throws -> (CompactJSONValue, CompactJSON.Path) {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, DecodingError.Context(
                codingPath: CompactJSON.Path.keys(CompactJSON.Path(path, CompactJSON.IndexKey(currentIndex))),
                debugDescription: "Unkeyed container is at end."))
        }
        let element = (elements[currentIndex], CompactJSON.Path(path, CompactJSON.IndexKey(currentIndex)))
        currentIndex += 1
        return element
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(Any?.self, DecodingError.Context(
                codingPath: CompactJSON.Path.keys(CompactJSON.Path(path, CompactJSON.IndexKey(currentIndex))),
                debugDescription: "Unkeyed container is at end."))
        }
        if case .null = elements[currentIndex] {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { let (v, p) = try next(type); return try CompactJSONValueDecoder.bool(v, p) }
    mutating func decode(_ type: String.Type) throws -> String { let (v, p) = try next(type); return try CompactJSONValueDecoder.string(v, p) }
    mutating func decode(_ type: Double.Type) throws -> Double { let (v, p) = try next(type); return try CompactJSONValueDecoder.floating(type, v, p) }
    mutating func decode(_ type: Float.Type) throws -> Float { let (v, p) = try next(type); return try CompactJSONValueDecoder.floating(type, v, p) }
    mutating func decode(_ type: Int.Type) throws -> Int { let (v, p) = try next(type); return try CompactJSONValueDecoder.integer(type, v, p) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { let (v, p) = try next(type); return try CompactJSONValueDecoder.integer(type, v, p) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { let (v, p) = try next(type); return try CompactJSONValueDecoder.integer(type, v, p) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { let (v, p) = try next(type); return try CompactJSONValueDecoder.integer(type, v, p) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { let (v, p) = try next(type); return try CompactJSONValueDecoder.integer(type, v, p) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { let (v, p) = try next(type); return try CompactJSONValueDecoder.integer(type, v, p) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { let (v, p) = try next(type); return try CompactJSONValueDecoder.integer(type, v, p) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { let (v, p) = try next(type); return try CompactJSONValueDecoder.integer(type, v, p) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { let (v, p) = try next(type); return try CompactJSONValueDecoder.integer(type, v, p) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { let (v, p) = try next(type); return try CompactJSONValueDecoder.integer(type, v, p) }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (v, p) = try next(type)
        return try CompactJSONValueDecoder.decode(type, v, p)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let (v, p) = try next([String: Any].self)
        return try CompactJSONValueDecoder(value: v, path: p).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (v, p) = try next([Any].self)
        return try CompactJSONValueDecoder(value: v, path: p).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        let (v, p) = try next(Any.self)
        return CompactJSONValueDecoder(value: v, path: p)
    }
}

struct CompactJSONSingle: SingleValueDecodingContainer {
    let value: CompactJSONValue
    let path: CompactJSON.Path?

    var codingPath: [any CodingKey] { CompactJSON.Path.keys(path) }

    func decodeNil() -> Bool {
        if case .null = value { return true }
        return false
    }

    func decode(_ type: Bool.Type) throws -> Bool { try CompactJSONValueDecoder.bool(value, path) }
    func decode(_ type: String.Type) throws -> String { try CompactJSONValueDecoder.string(value, path) }
    func decode(_ type: Double.Type) throws -> Double { try CompactJSONValueDecoder.floating(type, value, path) }
    func decode(_ type: Float.Type) throws -> Float { try CompactJSONValueDecoder.floating(type, value, path) }
    func decode(_ type: Int.Type) throws -> Int { try CompactJSONValueDecoder.integer(type, value, path) }
    func decode(_ type: Int8.Type) throws -> Int8 { try CompactJSONValueDecoder.integer(type, value, path) }
    func decode(_ type: Int16.Type) throws -> Int16 { try CompactJSONValueDecoder.integer(type, value, path) }
    func decode(_ type: Int32.Type) throws -> Int32 { try CompactJSONValueDecoder.integer(type, value, path) }
    func decode(_ type: Int64.Type) throws -> Int64 { try CompactJSONValueDecoder.integer(type, value, path) }
    func decode(_ type: UInt.Type) throws -> UInt { try CompactJSONValueDecoder.integer(type, value, path) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try CompactJSONValueDecoder.integer(type, value, path) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try CompactJSONValueDecoder.integer(type, value, path) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try CompactJSONValueDecoder.integer(type, value, path) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try CompactJSONValueDecoder.integer(type, value, path) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try CompactJSONValueDecoder.decode(type, value, path)
    }
}
