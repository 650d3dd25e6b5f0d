import Foundation

enum JSONOutput {
    /// Pretty, key-sorted JSON, as every `--json` prints it.
    static func print<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        Output.line(String(decoding: data, as: UTF8.self))
    }

    /// One line of key-sorted JSON (a stream of records, one per line).
    static func printLine<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        Output.line(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}
