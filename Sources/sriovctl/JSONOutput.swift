import Foundation

enum JSONOutput {
    /// Pretty, key-sorted JSON, as every `--json` prints it.
    static func print<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        Output.line(String(decoding: data, as: UTF8.self))
    }
}
