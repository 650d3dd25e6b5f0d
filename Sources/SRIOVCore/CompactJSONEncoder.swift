/// A one-line JSON encoder for the hot paths (journal records, API documents): the same bytes as
/// Foundation's `JSONEncoder` with `[.sortedKeys, .withoutEscapingSlashes]` (a test compares them),
/// written straight into a byte buffer instead of through an intermediate value tree, without runtime
/// casts for primitives, and with coding paths built only when something asks for one. Non-finite
/// numbers are refused, as Foundation does.
public struct CompactJSONEncoder: Sendable {
    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        try CompactJSON.write(value, path: nil, into: &out)
        return out
    }

    /// The same JSON laid out as Foundation's JSONEncoder lays it out with `[.prettyPrinted,
    /// .sortedKeys, .withoutEscapingSlashes]`, byte for byte: two spaces per level, `"key" : value`,
    /// an empty array or object as its brackets with an empty line between them.
    public func encodePretty<T: Encodable>(_ value: T) throws -> [UInt8] {
        CompactJSON.pretty(try encode(value))
    }
}

@usableFromInline
enum CompactJSON {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// A coding path as a linked list (the encoder's and `CompactJSONDecoder`'s): built per nested
    /// value without copying arrays, turned into `[CodingKey]` only when a type reads `codingPath`.
    final class Path {
        let parent: Path?
        let key: any CodingKey
        init(_ parent: Path?, _ key: any CodingKey) {
            self.parent = parent
            self.key = key
        }

        static func keys(_ path: Path?) -> [any CodingKey] {
            var keys: [any CodingKey] = []
            var node = path
            while let n = node { keys.append(n.key); node = n.parent }
            return keys.reversed()
        }
    }

    struct IndexKey: CodingKey {
        var stringValue: String { "Index \(intValue ?? 0)" }
        var intValue: Int?
        init(_ index: Int) { intValue = index }
        init?(stringValue: String) { nil }
        init?(intValue: Int) { self.intValue = intValue }
    }

    /// Compact JSON (no whitespace outside strings) re-laid out the way Foundation pretty-prints.
    static func pretty(_ compact: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(compact.count * 2)
        var indent = 0
        var i = 0
        func newline() {
            out.append(0x0a)
            out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * 2))
        }
        while i < compact.count {
            let b = compact[i]
            i += 1
            switch b {
            case UInt8(ascii: "\""):
                // A string, copied as it is (an escaped quote does not end it).
                out.append(b)
                while i < compact.count {
                    let c = compact[i]
                    out.append(c)
                    i += 1
                    if c == UInt8(ascii: "\\"), i < compact.count {
                        out.append(compact[i])
                        i += 1
                    } else if c == UInt8(ascii: "\"") {
                        break
                    }
                }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let close = b == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                out.append(b)
                if i < compact.count, compact[i] == close {
                    out.append(0x0a)
                    newline()
                    out.append(close)
                    i += 1
                } else {
                    indent += 1
                    newline()
                }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                indent -= 1
                newline()
                out.append(b)
            case UInt8(ascii: ","):
                out.append(b)
                newline()
            case UInt8(ascii: ":"):
                out.append(contentsOf: " : ".utf8)
            default:
                out.append(b)
            }
        }
        return out
    }

    @inline(__always)
    static func writeInteger<I: BinaryInteger>(_ v: I, into out: inout [UInt8]) {
        if let small = Int64(exactly: v) { writeInt64(small, into: &out) } else { out.append(contentsOf: String(v).utf8) }
    }

    /// The decimal digits of `v`, straight into `out` (no intermediate string).
    @usableFromInline
    static func writeInt64(_ v: Int64, into out: inout [UInt8]) {
        if v < 0 { out.append(UInt8(ascii: "-")) }
        ASCIIDigits.appendDecimal(v.magnitude, to: &out)
    }

    /// Writes `value`: primitives directly (the type compared, never cast), anything else through
    /// its `encode(to:)`.
    static func write<T: Encodable>(_ value: T, path: Path?, key: (any CodingKey)? = nil, into out: inout [UInt8]) throws {
        if T.self == String.self { writeString(unsafeBitCast(value, to: String.self), into: &out); return }
        if T.self == Int.self { writeInteger(unsafeBitCast(value, to: Int.self), into: &out); return }
        if T.self == Bool.self { out.append(contentsOf: (unsafeBitCast(value, to: Bool.self) ? "true" : "false").utf8); return }
        if T.self == Double.self { try writeDouble(unsafeBitCast(value, to: Double.self), path: key.map { Path(path, $0) } ?? path, into: &out); return }
        if T.self == UInt64.self { writeInteger(unsafeBitCast(value, to: UInt64.self), into: &out); return }
        if T.self == UInt32.self { writeInteger(unsafeBitCast(value, to: UInt32.self), into: &out); return }
        if T.self == UInt16.self { writeInteger(unsafeBitCast(value, to: UInt16.self), into: &out); return }
        if T.self == UInt8.self { writeInteger(unsafeBitCast(value, to: UInt8.self), into: &out); return }
        if T.self == Int64.self { writeInteger(unsafeBitCast(value, to: Int64.self), into: &out); return }
        if T.self == Int32.self { writeInteger(unsafeBitCast(value, to: Int32.self), into: &out); return }
        if T.self == Int16.self { writeInteger(unsafeBitCast(value, to: Int16.self), into: &out); return }
        if T.self == Int8.self { writeInteger(unsafeBitCast(value, to: Int8.self), into: &out); return }
        if T.self == UInt.self { writeInteger(unsafeBitCast(value, to: UInt.self), into: &out); return }
        if T.self == Float.self { try writeDouble(Double(unsafeBitCast(value, to: Float.self)), path: key.map { Path(path, $0) } ?? path, into: &out); return }
        // Only a value with containers of its own gets a path node (primitives never need one).
        let encoder = Writer(path: key.map { Path(path, $0) } ?? path)
        try value.encode(to: encoder)
        try encoder.finish(into: &out)
    }

    static func writeDouble(_ v: Double, path: Path?, into out: inout [UInt8]) throws {
        guard v.isFinite else {
            throw Failure(description: "cannot encode \(v) at \(Path.keys(path).map(\.stringValue).joined(separator: ".")): JSON has no non-finite numbers")
        }
        // Foundation writes the shortest round-tripping form without a trailing ".0".
        var text = v.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        out.append(contentsOf: text.utf8)
    }

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { bytes in
            // Most strings (names, addresses, ids) need no escape: one scan, one copy.
            var clean = 0
            var i = 0
            let count = bytes.count
            while i < count {
                let b = bytes[i]
                if b >= 0x20 && b != UInt8(ascii: "\"") && b != UInt8(ascii: "\\") {
                    i += 1
                    continue
                }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[clean..<i]))
                clean = i + 1
                i += 1
                out.append(UInt8(ascii: "\\"))
                switch b {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(b)
                case 0x0a: out.append(UInt8(ascii: "n"))
                case 0x0d: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                case 0x08: out.append(UInt8(ascii: "b"))
                case 0x0c: out.append(UInt8(ascii: "f"))
                default:
                    out.append(UInt8(ascii: "u"))
                    ASCIIDigits.appendHex(UInt64(b), digits: 4, to: &out)
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[clean...]))
        }
        out.append(UInt8(ascii: "\""))
    }

    /// What one `encode(to:)` produced.
    final class Writer: Encoder {
        enum Storage {
            case empty
            case single([UInt8])
            case keyed(KeyedBox)
            case unkeyed(UnkeyedBox)
        }
        let path: Path?
        var codingPath: [any CodingKey] { Path.keys(path) }
        var userInfo: [CodingUserInfoKey: Any] { [:] }
        var storage: Storage = .empty

        init(path: Path?) { self.path = path }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            let box: KeyedBox
            if case .keyed(let existing) = storage { box = existing } else {
                box = KeyedBox()
                storage = .keyed(box)
            }
            return KeyedEncodingContainer(Keyed<Key>(box: box, path: path))
        }

        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            let box: UnkeyedBox
            if case .unkeyed(let existing) = storage { box = existing } else {
                box = UnkeyedBox()
                storage = .unkeyed(box)
            }
            return Unkeyed(box: box, path: path)
        }

        func singleValueContainer() -> any SingleValueEncodingContainer { Single(writer: self) }

        func finish(into out: inout [UInt8]) throws {
            switch storage {
            case .empty: out.append(contentsOf: "{}".utf8)
            case .single(let bytes): out.append(contentsOf: bytes)
            case .keyed(let box): try box.finish(into: &out)
            case .unkeyed(let box): try box.finish(into: &out)
            }
        }
    }

    /// An object's members: values written one after another into `buffer`, ordered by key at the end.
    final class KeyedBox {
        var buffer: [UInt8] = []
        var fields: [(key: String, start: Int, end: Int)] = []
        /// Nested containers and super encoders, filled after they were handed out.
        var pending: [(key: String, finish: (inout [UInt8]) throws -> Void)] = []

        init() { buffer.reserveCapacity(128) }

        func add(_ key: String, start: Int) {
            if let i = fields.firstIndex(where: { $0.key == key }) { fields.remove(at: i) }
            fields.append((key, start, buffer.count))
        }

        func finish(into out: inout [UInt8]) throws {
            for (key, finish) in pending {
                let start = buffer.count
                try finish(&buffer)
                add(key, start: start)
            }
            pending = []
            out.append(UInt8(ascii: "{"))
            var first = true
            for field in fields.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                writeString(field.key, into: &out)
                out.append(UInt8(ascii: ":"))
                out.append(contentsOf: buffer[field.start..<field.end])
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// An array's elements, in order (nested containers are filled in at the end).
    final class UnkeyedBox {
        var elements: [[UInt8]] = []
        var pending: [(index: Int, finish: (inout [UInt8]) throws -> Void)] = []

        func finish(into out: inout [UInt8]) throws {
            for (index, finish) in pending {
                var bytes: [UInt8] = []
                try finish(&bytes)
                elements[index] = bytes
            }
            pending = []
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: element)
            }
            out.append(UInt8(ascii: "]"))
        }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let box: KeyedBox
        let path: Path?
        var codingPath: [any CodingKey] { Path.keys(path) }

        mutating func encodeNil(forKey key: Key) throws {
            let start = box.buffer.count
            box.buffer.append(contentsOf: "null".utf8)
            box.add(key.stringValue, start: start)
        }

        private func put<T: Encodable>(_ value: T, _ key: Key) throws {
            let start = box.buffer.count
            try CompactJSON.write(value, path: path, key: key, into: &box.buffer)
            box.add(key.stringValue, start: start)
        }

        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try put(value, key) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { try put(value, key) }
        mutating func encode(_ value: String, forKey key: Key) throws { try put(value, key) }
        mutating func encode(_ value: Double, forKey key: Key) throws { try put(value, key) }
        mutating func encode(_ value: Float, forKey key: Key) throws { try put(value, key) }
        mutating func encode(_ value: Int, forKey key: Key) throws { try put(value, key) }
        mutating func encode(_ value: Int8, forKey key: Key) throws { try put(value, key) }
        mutating func encode(_ value: Int16, forKey key: Key) throws { try put(value, key) }
        mutating func encode(_ value: Int32, forKey key: Key) throws { try put(value, key) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { try put(value, key) }
        mutating func encode(_ value: UInt, forKey key: Key) throws { try put(value, key) }
        mutating func encode(_ value: UInt8, forKey key: Key) throws { try put(value, key) }
        mutating func encode(_ value: UInt16, forKey key: Key) throws { try put(value, key) }
        mutating func encode(_ value: UInt32, forKey key: Key) throws { try put(value, key) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws { try put(value, key) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            let nested = KeyedBox()
            box.pending.append((key.stringValue, { out in try nested.finish(into: &out) }))
            return KeyedEncodingContainer(Keyed<NestedKey>(box: nested, path: Path(path, key)))
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            let nested = UnkeyedBox()
            box.pending.append((key.stringValue, { out in try nested.finish(into: &out) }))
            return Unkeyed(box: nested, path: Path(path, key))
        }

        mutating func superEncoder() -> any Encoder { superEncoder(named: "super") }
        mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(named: key.stringValue) }

        private func superEncoder(named key: String) -> any Encoder {
            let writer = Writer(path: path)
            box.pending.append((key, { out in try writer.finish(into: &out) }))
            return writer
        }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let box: UnkeyedBox
        let path: Path?
        var codingPath: [any CodingKey] { Path.keys(path) }
        var count: Int { box.elements.count }

        mutating func encodeNil() throws { box.elements.append(Array("null".utf8)) }

        private func put<T: Encodable>(_ value: T) throws {
            var bytes: [UInt8] = []
            try CompactJSON.write(value, path: path, key: IndexKey(box.elements.count), into: &bytes)
            box.elements.append(bytes)
        }

        mutating func encode<T: Encodable>(_ value: T) throws { try put(value) }
        mutating func encode(_ value: Bool) throws { try put(value) }
        mutating func encode(_ value: String) throws { try put(value) }
        mutating func encode(_ value: Double) throws { try put(value) }
        mutating func encode(_ value: Float) throws { try put(value) }
        mutating func encode(_ value: Int) throws { try put(value) }
        mutating func encode(_ value: Int8) throws { try put(value) }
        mutating func encode(_ value: Int16) throws { try put(value) }
        mutating func encode(_ value: Int32) throws { try put(value) }
        mutating func encode(_ value: Int64) throws { try put(value) }
        mutating func encode(_ value: UInt) throws { try put(value) }
        mutating func encode(_ value: UInt8) throws { try put(value) }
        mutating func encode(_ value: UInt16) throws { try put(value) }
        mutating func encode(_ value: UInt32) throws { try put(value) }
        mutating func encode(_ value: UInt64) throws { try put(value) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            let nested = KeyedBox()
            let element = Path(path, IndexKey(box.elements.count))
            box.pending.append((box.elements.count, { out in try nested.finish(into: &out) }))
            box.elements.append([])
            return KeyedEncodingContainer(Keyed<NestedKey>(box: nested, path: element))
        }

        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            let nested = UnkeyedBox()
            let element = Path(path, IndexKey(box.elements.count))
            box.pending.append((box.elements.count, { out in try nested.finish(into: &out) }))
            box.elements.append([])
            return Unkeyed(box: nested, path: element)
        }

        mutating func superEncoder() -> any Encoder {
            let writer = Writer(path: Path(path, IndexKey(box.elements.count)))
            box.pending.append((box.elements.count, { out in try writer.finish(into: &out) }))
            box.elements.append([])
            return writer
        }
    }

    struct Single: SingleValueEncodingContainer {
        let writer: Writer
        var codingPath: [any CodingKey] { writer.codingPath }

        mutating func encodeNil() throws { writer.storage = .single(Array("null".utf8)) }

        private func put<T: Encodable>(_ value: T) throws {
            var bytes: [UInt8] = []
            try CompactJSON.write(value, path: writer.path, into: &bytes)
            writer.storage = .single(bytes)
        }

        mutating func encode<T: Encodable>(_ value: T) throws { try put(value) }
        mutating func encode(_ value: Bool) throws { try put(value) }
        mutating func encode(_ value: String) throws { try put(value) }
        mutating func encode(_ value: Double) throws { try put(value) }
        mutating func encode(_ value: Float) throws { try put(value) }
        mutating func encode(_ value: Int) throws { try put(value) }
        mutating func encode(_ value: Int8) throws { try put(value) }
        mutating func encode(_ value: Int16) throws { try put(value) }
        mutating func encode(_ value: Int32) throws { try put(value) }
        mutating func encode(_ value: Int64) throws { try put(value) }
        mutating func encode(_ value: UInt) throws { try put(value) }
        mutating func encode(_ value: UInt8) throws { try put(value) }
        mutating func encode(_ value: UInt16) throws { try put(value) }
        mutating func encode(_ value: UInt32) throws { try put(value) }
        mutating func encode(_ value: UInt64) throws { try put(value) }
    }
}
