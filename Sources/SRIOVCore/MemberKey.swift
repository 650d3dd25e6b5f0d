/// Any member name of a JSON object, as a coding key: for objects whose members are data (a map
/// decoded member by member, per-field counters) or are checked against a list.
public struct MemberKey: CodingKey, Sendable {
    public var stringValue: String
    public var intValue: Int? { nil }
    public init(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { nil }
}
