import SRIOVCore
import Yams

/// What one parse shares: the file name for messages and the lines seen so far.
final class ParseContext {
    let source: String
    var lines = LineTable()

    init(source: String) { self.source = source }
}

/// A YAML node together with where it is, read through strict typed accessors.
///
/// Scalars are read from their text, never from Yams' YAML 1.1 guesses: `00:19:00.0` stays a PCI address
/// instead of a base-60 float, `52:54:00:12:34:56` a MAC instead of an integer. A number or a switch must
/// be written plain (unquoted); a quoted `"16"` is refused as a string, so a typo cannot slip through as a
/// differently typed value.
struct YAMLValue {
    let node: Node
    let location: ConfigLocation
    let context: ParseContext

    init(node: Node, location: ConfigLocation, context: ParseContext) {
        self.node = node
        self.location = location
        self.context = context
        context.lines.record(location)
    }

    func fail(_ reason: String) -> SRIOVError { location.error(context.source, reason) }

    /// Wraps a Core parser's error (which already says what is wrong and what is expected) with the location.
    func fail(_ error: SRIOVError) -> SRIOVError {
        location.error(context.source, error.message, code: error.code)
    }

    var isNull: Bool {
        guard case .scalar(let s) = node, s.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(s.string)
    }

    var kindName: String {
        switch node {
        case .mapping: return "a mapping (key: value lines)"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let s):
            if isNull { return "nothing (an empty value)" }
            return s.style == .plain ? "\(Quote.shell(s.string))" : "the quoted string \(Quote.shell(s.string))"
        }
    }

    // MARK: Scalars

    /// Any scalar, as written.
    func string(_ what: String) throws(SRIOVError) -> String {
        guard case .scalar(let s) = node, !isNull else {
            throw fail("expected \(what), got \(kindName)")
        }
        return s.string
    }

    /// A plain decimal integer within `range`.
    func int(_ what: String, in range: ClosedRange<Int>, hint: String? = nil) throws(SRIOVError) -> Int {
        let text = try plainScalar(expecting: "\(what) (a whole number)")
        guard let value = ConfigNumbers.decimal(text) else {
            throw fail("expected \(what) (a whole number), got \(Quote.shell(text))")
        }
        guard range.contains(value) else {
            throw fail("\(what) \(value) is out of range: it must be \(range.lowerBound)-\(range.upperBound)"
                + (hint.map { "; \($0)" } ?? ""))
        }
        return value
    }

    /// `true`/`false` (also `yes`/`no`, `on`/`off`), unquoted.
    func bool(_ what: String) throws(SRIOVError) -> Bool {
        let text = try plainScalar(expecting: "\(what) (true or false)")
        switch text {
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return true
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return false
        default: throw fail("expected \(what) (true or false), got \(Quote.shell(text))")
        }
    }

    private func plainScalar(expecting what: String) throws(SRIOVError) -> String {
        guard case .scalar(let s) = node, !isNull else {
            throw fail("expected \(what), got \(kindName)")
        }
        guard s.style == .plain else {
            throw fail("expected \(what), got \(kindName); remove the quotes")
        }
        return s.string
    }

    // MARK: Collections

    /// The items of a list; `key:` with no value is an empty list.
    func list(_ what: String) throws(SRIOVError) -> [YAMLValue] {
        if isNull { return [] }
        guard case .sequence(let seq) = node else {
            throw fail("expected \(what) (a list such as [a, b] or `- a` lines), got \(kindName)")
        }
        return seq.enumerated().map { i, item in
            YAMLValue(node: item, location: location.index(i, line: item.mark?.line), context: context)
        }
    }

    /// A list, or one scalar standing for a list of one (`pci: 0000:af:00.2`).
    func listOrScalar(_ what: String) throws(SRIOVError) -> [YAMLValue] {
        if case .scalar = node, !isNull { return [self] }
        return try list(what)
    }

    /// A mapping whose keys must all be in `keys`; an unknown key is refused with the closest known one.
    /// `key:` with no value is an empty mapping.
    func mapping(_ what: String, keys: [String]) throws(SRIOVError) -> YAMLMapping {
        if isNull { return YAMLMapping(owner: self, entries: [:]) }
        guard case .mapping(let map) = node else {
            throw fail("expected \(what) (a mapping of key: value), got \(kindName)")
        }
        var entries: [String: YAMLValue] = [:]
        for (keyNode, valueNode) in map {
            let keyLine = keyNode.mark?.line
            guard case .scalar(let keyScalar) = keyNode else {
                throw location.key("?", line: keyLine).error(context.source,
                    "a key must be a plain word; this mapping allows \(KeySuggestion.list(keys))")
            }
            let key = keyScalar.string
            let keyLocation = location.key(key, line: keyLine ?? valueNode.mark?.line)
            guard keys.contains(key) else {
                let hint = KeySuggestion.closest(to: key, in: keys).map { "did you mean \(Quote.shell($0))? " } ?? ""
                throw keyLocation.error(context.source,
                    "unknown key \(Quote.shell(key)) in \(what); \(hint)allowed keys: \(KeySuggestion.list(keys))")
            }
            entries[key] = YAMLValue(node: valueNode, location: keyLocation, context: context)
        }
        return YAMLMapping(owner: self, entries: entries)
    }
}

/// The checked entries of a YAML mapping.
struct YAMLMapping {
    let owner: YAMLValue
    let entries: [String: YAMLValue]

    /// The value of `key`, or nil when the key is absent or has no value.
    subscript(_ key: String) -> YAMLValue? {
        guard let value = entries[key], !value.isNull else { return nil }
        return value
    }

    func has(_ key: String) -> Bool { self[key] != nil }

    /// The value of a key that must be there.
    func required(_ key: String, _ explanation: String) throws(SRIOVError) -> YAMLValue {
        if let value = self[key] { return value }
        let at = entries[key]?.location ?? owner.location.key(key, line: owner.location.line)
        throw at.error(owner.context.source, "missing \(key): \(explanation)")
    }

    /// Parses `key` with `body` when present.
    func optional<T>(_ key: String, _ body: (YAMLValue) throws(SRIOVError) -> T) throws(SRIOVError) -> T? {
        guard let value = self[key] else { return nil }
        return try body(value)
    }
}

/// Decimal integers and `a-b` ranges as the config writes them.
enum ConfigNumbers {
    /// `12`, `-3`; no signs other than a leading `-`, no hex, no underscores.
    static func decimal(_ text: String) -> Int? {
        let body = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        guard !body.isEmpty, body.count <= 18, body.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int(text)
    }

    /// `7` or `0-7` (spaces around `-` allowed); nil when malformed. Does not check the order.
    static func range(_ text: String) -> (Int, Int)? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { String($0).trimmingSpaces }
        switch parts.count {
        case 1: return decimal(parts[0]).map { ($0, $0) }
        case 2:
            guard let a = decimal(parts[0]), let b = decimal(parts[1]) else { return nil }
            return (a, b)
        default: return nil
        }
    }

    /// `0-7` or `7`, for messages.
    static func show(_ range: ClosedRange<Int>) -> String {
        range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound)-\(range.upperBound)"
    }
}
