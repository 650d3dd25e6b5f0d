/// A JSON decoder for the journal's own records and snapshots: it parses the bytes into a small tree
/// and decodes `Decodable` types from it with no runtime type checks. Foundation's `JSONDecoder` asks the
/// runtime, for every type it decodes, whether it is one of its special types (dates, data, URLs,
/// string-keyed dictionaries); in a static binary each first such question scans every conformance
/// record, and replaying a journal of a few hundred records cost an in-process `sriovctl` command more
/// than half of its instructions (Docs/Performance.md). The API keeps `JSONDecoder` (its error messages
/// are part of the API's answers); records written by this code's `JSONWriter` come back through here.
///
/// Numbers are decoded from their text exactly (integers out of range are refused, not rounded);
/// strings understand every JSON escape, surrogate pairs included. Errors are `DecodingError`s with the
/// coding path, as `JSONDecoder`'s are.
public struct ByteJSONDecoder: Sendable {
    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        var parser = JSONTreeParser(bytes: bytes)
        let root = try parser.parseDocument()
        return try T(from: TreeDecoder(value: root, codingPath: []))
    }
}

/// A parsed JSON value. Numbers keep their text, so that each integer type parses it exactly.
enum JSONTree: Sendable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONTree])
    case object([String: JSONTree])

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

struct JSONTreeParser {
    let bytes: [UInt8]
    var i = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    func corrupt(_ what: String) -> DecodingError {
        DecodingError.dataCorrupted(DecodingError.Context(codingPath: [], debugDescription: "invalid JSON at byte \(i): \(what)"))
    }

    mutating func parseDocument() throws -> JSONTree {
        let value = try parseValue(depth: 0)
        skipSpace()
        guard i == bytes.count else { throw corrupt("unexpected data after the value") }
        return value
    }

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0a || bytes[i] == 0x0d || bytes[i] == 0x09 { i += 1 }
    }

    mutating func expect(_ literal: StaticString, _ value: JSONTree) throws -> JSONTree {
        let n = literal.utf8CodeUnitCount
        guard i + n <= bytes.count else { throw corrupt("truncated literal") }
        for k in 0..<n where bytes[i + k] != literal.utf8Start[k] { throw corrupt("unknown literal") }
        i += n
        return value
    }

    mutating func parseValue(depth: Int) throws -> JSONTree {
        guard depth < 512 else { throw corrupt("nested more than 512 levels") }
        skipSpace()
        guard i < bytes.count else { throw corrupt("unexpected end of data") }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            i += 1
            var object: [String: JSONTree] = [:]
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(object) }
            while true {
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw corrupt("expected a key") }
                let key = try parseString()
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw corrupt("expected ':'") }
                i += 1
                let value = try parseValue(depth: depth + 1)
                guard object.updateValue(value, forKey: key) == nil else { throw corrupt("duplicate key \"\(key)\"") }
                skipSpace()
                guard i < bytes.count else { throw corrupt("unexpected end of data in an object") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                guard bytes[i] == UInt8(ascii: "}") else { throw corrupt("expected ',' or '}'") }
                i += 1
                return .object(object)
            }
        case UInt8(ascii: "["):
            i += 1
            var array: [JSONTree] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(array) }
            while true {
                array.append(try parseValue(depth: depth + 1))
                skipSpace()
                guard i < bytes.count else { throw corrupt("unexpected end of data in an array") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                guard bytes[i] == UInt8(ascii: "]") else { throw corrupt("expected ',' or ']'") }
                i += 1
                return .array(array)
            }
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "t"): return try expect("true", .bool(true))
        case UInt8(ascii: "f"): return try expect("false", .bool(false))
        case UInt8(ascii: "n"): return try expect("null", .null)
        default:
            return try parseNumber()
        }
    }

    mutating func parseNumber() throws -> JSONTree {
        let start = i
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        let digitsStart = i
        while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
        guard i > digitsStart else { throw corrupt("expected a value") }
        guard !(bytes[digitsStart] == 0x30 && i - digitsStart > 1) else { throw corrupt("a number with a leading zero") }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            let fraction = i
            while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
            guard i > fraction else { throw corrupt("a number without digits after '.'") }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            let exponent = i
            while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
            guard i > exponent else { throw corrupt("a number without exponent digits") }
        }
        return .number(String(decoding: bytes[start..<i], as: UTF8.self))
    }

    mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count else { throw corrupt("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[i]
            let d: UInt8
            switch b {
            case 0x30...0x39: d = b - 0x30
            case 0x41...0x46: d = b - 0x41 + 10
            case 0x61...0x66: d = b - 0x61 + 10
            default: throw corrupt("bad hex digit in a \\u escape")
            }
            v = v << 4 | UInt32(d)
            i += 1
        }
        return v
    }

    /// At the opening quote; returns the string and leaves `i` after the closing one.
    mutating func parseString() throws -> String {
        i += 1
        let start = i
        // The common case: no escapes.
        while i < bytes.count, bytes[i] != UInt8(ascii: "\""), bytes[i] != UInt8(ascii: "\\") {
            guard bytes[i] >= 0x20 else { throw corrupt("a control character in a string") }
            i += 1
        }
        guard i < bytes.count else { throw corrupt("unterminated string") }
        if bytes[i] == UInt8(ascii: "\"") {
            defer { i += 1 }
            return try validUTF8(bytes[start..<i])
        }
        var out = Array(bytes[start..<i])
        while true {
            guard i < bytes.count else { throw corrupt("unterminated string") }
            let b = bytes[i]
            if b == UInt8(ascii: "\"") { i += 1; break }
            if b != UInt8(ascii: "\\") {
                guard b >= 0x20 else { throw corrupt("a control character in a string") }
                out.append(b)
                i += 1
                continue
            }
            i += 1
            guard i < bytes.count else { throw corrupt("unterminated escape") }
            let e = bytes[i]
            i += 1
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
                    guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                        throw corrupt("a lone high surrogate")
                    }
                    i += 2
                    let low = try hex4()
                    guard (0xdc00...0xdfff).contains(low) else { throw corrupt("a high surrogate without its low one") }
                    scalar = 0x10000 + ((scalar - 0xd800) << 10) + (low - 0xdc00)
                } else if (0xdc00...0xdfff).contains(scalar) {
                    throw corrupt("a lone low surrogate")
                }
                guard let u = Unicode.Scalar(scalar) else { throw corrupt("an invalid \\u escape") }
                out.append(contentsOf: UTF8.encode(u)!)
            default: throw corrupt("an unknown escape")
            }
        }
        return try validUTF8(out[...])
    }

    func validUTF8(_ slice: ArraySlice<UInt8>) throws -> String {
        guard let s = String(validating: slice, as: UTF8.self) else { throw corrupt("a string that is not UTF-8") }
        return s
    }
}

// MARK: Decoding from the tree

struct TreeKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) {
        stringValue = String(intValue)
        self.intValue = intValue
    }
}

struct TreeDecoder: Decoder {
    let value: JSONTree
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let object) = value else { throw mismatch([String: Any].self, value, codingPath) }
        return KeyedDecodingContainer(TreeKeyed<Key>(object: object, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let array) = value else { throw mismatch([Any].self, value, codingPath) }
        return TreeUnkeyed(array: array, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        TreeSingle(value: value, codingPath: codingPath)
    }
}

func mismatch(_ type: Any.Type, _ value: JSONTree, _ path: [any CodingKey]) -> DecodingError {
    if case .null = value {
        return .valueNotFound(type, DecodingError.Context(codingPath: path, debugDescription: "expected \(type), found null"))
    }
    return .typeMismatch(type, DecodingError.Context(codingPath: path, debugDescription: "expected \(type), found \(value.kind)"))
}

/// Scalars out of a tree value (shared by the three containers).
enum TreeScalar {
    static func bool(_ v: JSONTree, _ path: [any CodingKey]) throws -> Bool {
        guard case .bool(let b) = v else { throw mismatch(Bool.self, v, path) }
        return b
    }

    static func string(_ v: JSONTree, _ path: [any CodingKey]) throws -> String {
        guard case .string(let s) = v else { throw mismatch(String.self, v, path) }
        return s
    }

    static func double(_ v: JSONTree, _ path: [any CodingKey]) throws -> Double {
        guard case .number(let text) = v, let d = Double(text) else { throw mismatch(Double.self, v, path) }
        return d
    }

    static func integer<T: FixedWidthInteger>(_ v: JSONTree, _ path: [any CodingKey]) throws -> T {
        guard case .number(let text) = v else { throw mismatch(T.self, v, path) }
        if let n = T(text) { return n }
        // 3.0 or 3e2 (a JSON number with an integral value) is the integer; anything else is refused.
        if let d = Double(text), d.rounded() == d, let n = T(exactly: d) { return n }
        throw DecodingError.dataCorrupted(DecodingError.Context(codingPath: path, debugDescription: "number \(text) does not fit in \(T.self)"))
    }

    static func decode<T: Decodable>(_ type: T.Type, _ v: JSONTree, _ path: [any CodingKey]) throws -> T {
        // Scalars without a detour through a single-value container.
        if T.self == String.self { return try string(v, path) as! T }
        if T.self == Bool.self { return try bool(v, path) as! T }
        if T.self == Int.self { return try integer(v, path) as Int as! T }
        if T.self == UInt64.self { return try integer(v, path) as UInt64 as! T }
        if T.self == Double.self { return try double(v, path) as! T }
        return try T(from: TreeDecoder(value: v, codingPath: path))
    }
}

struct TreeKeyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let object: [String: JSONTree]
    let codingPath: [any CodingKey]

    var allKeys: [Key] { object.keys.compactMap { Key(stringValue: $0) } }
    func contains(_ key: Key) -> Bool { object[key.stringValue] != nil }

    func value(_ key: Key) throws -> JSONTree {
        guard let v = object[key.stringValue] else {
            throw DecodingError.keyNotFound(key, DecodingError.Context(codingPath: codingPath, debugDescription: "no value for key \"\(key.stringValue)\""))
        }
        return v
    }

    func path(_ key: Key) -> [any CodingKey] { codingPath + [key] }

    func decodeNil(forKey key: Key) throws -> Bool {
        if case .null = try value(key) { return true }
        return false
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try TreeScalar.bool(try value(key), path(key)) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try TreeScalar.string(try value(key), path(key)) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try TreeScalar.double(try value(key), path(key)) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { Float(try TreeScalar.double(try value(key), path(key))) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try TreeScalar.integer(try value(key), path(key)) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try TreeScalar.integer(try value(key), path(key)) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try TreeScalar.integer(try value(key), path(key)) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try TreeScalar.integer(try value(key), path(key)) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try TreeScalar.integer(try value(key), path(key)) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try TreeScalar.integer(try value(key), path(key)) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try TreeScalar.integer(try value(key), path(key)) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try TreeScalar.integer(try value(key), path(key)) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try TreeScalar.integer(try value(key), path(key)) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try TreeScalar.integer(try value(key), path(key)) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try TreeScalar.decode(type, try value(key), path(key)) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try TreeDecoder(value: try value(key), codingPath: path(key)).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try TreeDecoder(value: try value(key), codingPath: path(key)).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        TreeDecoder(value: object["super"] ?? .null, codingPath: codingPath + [TreeKey(stringValue: "super")])
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        TreeDecoder(value: object[key.stringValue] ?? .null, codingPath: path(key))
    }
}

struct TreeUnkeyed: UnkeyedDecodingContainer {
    let array: [JSONTree]
    let codingPath: [any CodingKey]
    var currentIndex = 0

    init(array: [JSONTree], codingPath: [any CodingKey]) {
        self.array = array
        self.codingPath = codingPath
    }

    var count: Int? { array.count }
    var isAtEnd: Bool { currentIndex >= array.count }

    mutating func next(_ type: Any.Type) throws -> (JSONTree, [any CodingKey]) {
        let path = codingPath + [TreeKey(intValue: currentIndex)]
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, DecodingError.Context(codingPath: path, debugDescription: "the array has only \(array.count) elements"))
        }
        defer { currentIndex += 1 }
        return (array[currentIndex], path)
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { return false }
        if case .null = array[currentIndex] {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { let (v, p) = try next(type); return try TreeScalar.bool(v, p) }
    mutating func decode(_ type: String.Type) throws -> String { let (v, p) = try next(type); return try TreeScalar.string(v, p) }
    mutating func decode(_ type: Double.Type) throws -> Double { let (v, p) = try next(type); return try TreeScalar.double(v, p) }
    mutating func decode(_ type: Float.Type) throws -> Float { let (v, p) = try next(type); return Float(try TreeScalar.double(v, p)) }
    mutating func decode(_ type: Int.Type) throws -> Int { let (v, p) = try next(type); return try TreeScalar.integer(v, p) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { let (v, p) = try next(type); return try TreeScalar.integer(v, p) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { let (v, p) = try next(type); return try TreeScalar.integer(v, p) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { let (v, p) = try next(type); return try TreeScalar.integer(v, p) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { let (v, p) = try next(type); return try TreeScalar.integer(v, p) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { let (v, p) = try next(type); return try TreeScalar.integer(v, p) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { let (v, p) = try next(type); return try TreeScalar.integer(v, p) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { let (v, p) = try next(type); return try TreeScalar.integer(v, p) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { let (v, p) = try next(type); return try TreeScalar.integer(v, p) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { let (v, p) = try next(type); return try TreeScalar.integer(v, p) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { let (v, p) = try next(type); return try TreeScalar.decode(type, v, p) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let (v, p) = try next([String: Any].self)
        return try TreeDecoder(value: v, codingPath: p).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (v, p) = try next([Any].self)
        return try TreeDecoder(value: v, codingPath: p).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        let (v, p) = try next(Any.self)
        return TreeDecoder(value: v, codingPath: p)
    }
}

struct TreeSingle: SingleValueDecodingContainer {
    let value: JSONTree
    let codingPath: [any CodingKey]

    func decodeNil() -> Bool {
        if case .null = value { return true }
        return false
    }

    func decode(_ type: Bool.Type) throws -> Bool { try TreeScalar.bool(value, codingPath) }
    func decode(_ type: String.Type) throws -> String { try TreeScalar.string(value, codingPath) }
    func decode(_ type: Double.Type) throws -> Double { try TreeScalar.double(value, codingPath) }
    func decode(_ type: Float.Type) throws -> Float { Float(try TreeScalar.double(value, codingPath)) }
    func decode(_ type: Int.Type) throws -> Int { try TreeScalar.integer(value, codingPath) }
    func decode(_ type: Int8.Type) throws -> Int8 { try TreeScalar.integer(value, codingPath) }
    func decode(_ type: Int16.Type) throws -> Int16 { try TreeScalar.integer(value, codingPath) }
    func decode(_ type: Int32.Type) throws -> Int32 { try TreeScalar.integer(value, codingPath) }
    func decode(_ type: Int64.Type) throws -> Int64 { try TreeScalar.integer(value, codingPath) }
    func decode(_ type: UInt.Type) throws -> UInt { try TreeScalar.integer(value, codingPath) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try TreeScalar.integer(value, codingPath) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try TreeScalar.integer(value, codingPath) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try TreeScalar.integer(value, codingPath) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try TreeScalar.integer(value, codingPath) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try TreeScalar.decode(type, value, codingPath) }
}
