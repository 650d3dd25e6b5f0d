/// Any member name of a JSON object, as a coding key: for objects whose members are data (a map
/// decoded member by member, per-field counters) or are checked against a list.
public struct MemberKey: CodingKey, Sendable {
    public var stringValue: String
    public var intValue: Int? { nil }
    public init(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { nil }
}

/// A JSON object whose members are all values of one type (`{"0000:3b:02.0": "/dev/vfio/42"}`,
/// `{"0000:3b:02.0": {"reason": ...}}`), as a dictionary keyed by member name.
///
/// Read straight from `CompactJSONDecoder`'s parsed object when that is the decoder: the standard
/// library's way (`[String: Value]`, or a keyed container's `allKeys`) goes through generic
/// conversions whose first use costs a short-lived process ~0.6M instructions of runtime type lookups,
/// and every `sriovctl` lease command reads such objects. Any other decoder goes that way.
/// A member given twice keeps its first value (as the decoder's objects do).
public struct JSONMembers<Value: Decodable>: Decodable {
    public var members: [String: Value]

    public init(_ members: [String: Value]) { self.members = members }

    public init(from decoder: any Decoder) throws {
        if let compact = decoder as? CompactJSONValueDecoder {
            members = try compact.members(Value.self)
            return
        }
        let c = try decoder.container(keyedBy: MemberKey.self)
        var members: [String: Value] = [:]
        for key in c.allKeys where members[key.stringValue] == nil {
            members[key.stringValue] = try c.decode(Value.self, forKey: key)
        }
        self.members = members
    }
}

extension JSONMembers: Sendable where Value: Sendable {}
extension JSONMembers: Equatable where Value: Equatable {}

/// An object of strings.
public typealias StringMembers = JSONMembers<String>

extension CompactJSONDecoder {
    /// The member names of the object `decoder` reads, each once (its first occurrence, in document
    /// order), with whether that member is `null`: what a keyed container's `allKeys` and `decodeNil`
    /// say, without them (their generic conversions cost a request ~15K instructions). nil when
    /// `decoder` is not this decoder's, or reads no object.
    public static func memberNames(of decoder: any Decoder) -> [(name: String, isNull: Bool)]? {
        guard let compact = decoder as? CompactJSONValueDecoder, case .object(let object) = compact.value else { return nil }
        return object.distinctKeys.map { key in
            if case .null? = object.value(key) { return (key, true) }
            return (key, false)
        }
    }
}
