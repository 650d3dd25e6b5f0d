/// A type read straight from `CompactJSONDecoder`'s parser, member by member, without building the
/// parsed object or going through a keyed container: for arrays of thousands of small objects, where
/// those cost most of the decoding (the snapshot's audit trail: ~20K instructions a record through
/// `init(from:)`). Members are matched by name against `flatKeys` (the first occurrence counts, as in
/// a keyed container; unknown members are checked as JSON and skipped).
public protocol CompactJSONFlatDecodable {
    /// The member names the type reads, by slot.
    static var flatKeys: [StaticString] { get }
    init(flat members: CompactJSONFlatMembers) throws
}

/// One object's members, by the slot of their name in `flatKeys`.
public struct CompactJSONFlatMembers {
    let keys: [StaticString]
    var values: [CompactJSONValue?]
    /// The array's path and this element's index in it: the element's path, built only for an error.
    let array: CompactJSON.Path
    let index: Int

    func path(_ slot: Int) -> CompactJSON.Path {
        CompactJSON.Path(CompactJSON.Path(array, CompactJSON.IndexKey(index)), MemberKey(stringValue: keys[slot].description))
    }

    func value(_ slot: Int) throws -> CompactJSONValue {
        guard let value = values[slot] else {
            throw DecodingError.keyNotFound(MemberKey(stringValue: keys[slot].description), DecodingError.Context(
                codingPath: CompactJSON.Path.keys(CompactJSON.Path(array, CompactJSON.IndexKey(index))),
                debugDescription: "No value associated with key \"\(keys[slot])\"."))
        }
        return value
    }

    public func string(_ slot: Int) throws -> String {
        let value = try value(slot)
        if case .string(let s) = value { return s }
        throw CompactJSONValueDecoder.mismatch(String.self, value, path(slot))
    }

    public func double(_ slot: Int) throws -> Double {
        let value = try value(slot)
        if case .number(let text) = value, let d = Double(text), d.isFinite { return d }
        return try CompactJSONValueDecoder.floating(Double.self, value, path(slot))
    }
}

extension CompactJSONDecoder {
    /// `JSONReader.parsing` with one member of the top-level object read apart: when `member` is an
    /// array, its elements are read as `Element`s straight from the text (`CompactJSONFlatDecodable`)
    /// and returned beside the document, in which that member is an empty array. Any other document
    /// is parsed as ever (a missing member, or one that is not an array, is for the reader to
    /// refuse). The input is checked as strictly either way.
    public func read<Element: CompactJSONFlatDecodable>(
        _ bytes: [UInt8], splitting member: String, as element: Element.Type
    ) throws -> (document: JSONReader, elements: [Element]) {
        var elements: [Element] = []
        let value = try bytes.withUnsafeBufferPointer { buffer in
            var parser = CompactJSONParser(buffer)
            parser.skipSpace()
            guard parser.at < buffer.count, buffer[parser.at] == UInt8(ascii: "{") else {
                return try parser.parseDocument()
            }
            let value = try parser.parseObject(splitting: member) { parser in
                elements = try parser.parseFlatArray(Element.self, path: CompactJSON.Path(nil, MemberKey(stringValue: member)))
            }
            parser.skipSpace()
            guard parser.at == buffer.count else { throw parser.failure("unexpected text after the value") }
            return value
        }
        return (JSONReader(value: value), elements)
    }
}

extension CompactJSONParser {
    /// The object at `at`, as `parseObject`, except that the first member named `member` whose value
    /// is an array is read by `split` and kept as an empty array.
    mutating func parseObject(splitting member: String, _ split: (inout CompactJSONParser) throws -> Void) throws -> CompactJSONValue {
        var keys: [String] = []
        var values: [CompactJSONValue] = []
        var done = false
        try forEachMember { parser in
            let key = try parser.parseString()
            keys.append(key)
            try parser.nameSeparator()
            if !done, key == member, parser.at < parser.bytes.count, parser.bytes[parser.at] == UInt8(ascii: "[") {
                done = true
                try split(&parser)
                values.append(.array([]))
            } else {
                values.append(try parser.parseValue())
            }
        }
        return .object(CompactJSONObject(keys: keys, values: values))
    }

    /// The array at `at`, each element an object read into an `Element` (`CompactJSONFlatDecodable`).
    mutating func parseFlatArray<Element: CompactJSONFlatDecodable>(_ type: Element.Type, path: CompactJSON.Path) throws -> [Element] {
        var elements: [Element] = []
        let keys = Element.flatKeys
        try forEachElement { parser in
            guard parser.at < parser.bytes.count, parser.bytes[parser.at] == UInt8(ascii: "{") else {
                let value = try parser.parseValue()
                throw CompactJSONValueDecoder.mismatch([String: Any].self, value, CompactJSON.Path(path, CompactJSON.IndexKey(elements.count)))
            }
            var members = CompactJSONFlatMembers(keys: keys, values: Array(repeating: nil, count: keys.count), array: path, index: elements.count)
            try parser.parseFlatMembers(into: &members)
            elements.append(try Element(flat: members))
        }
        return elements
    }

    /// The members of the object at `at`, by the slot of their name (names compared as bytes when
    /// they have no escapes, the usual case).
    mutating func parseFlatMembers(into members: inout CompactJSONFlatMembers) throws {
        try forEachMember { parser in
            let slot = try parser.memberSlot(members.keys)
            try parser.nameSeparator()
            let value = try parser.parseValue()
            if let slot, members.values[slot] == nil { members.values[slot] = value }
        }
    }

    /// Reads the member name at `at` (an opening quote); its slot in `keys`, or nil for another name.
    mutating func memberSlot(_ keys: [StaticString]) throws -> Int? {
        var end = at + 1
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20, bytes[end] < 0x80 {
            end += 1
        }
        guard end < bytes.count, bytes[end] == UInt8(ascii: "\"") else {
            // Escapes, non-ASCII or damage: the full string rules decide.
            let name = try parseString()
            return keys.firstIndex { $0.description == name }
        }
        let name = UnsafeBufferPointer(rebasing: bytes[(at + 1)..<end])
        at = end + 1
        for (slot, key) in keys.enumerated() where key.utf8CodeUnitCount == name.count {
            if UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount).elementsEqual(name) { return slot }
        }
        return nil
    }
}
