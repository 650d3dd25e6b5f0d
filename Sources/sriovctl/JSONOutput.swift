import SRIOVCore

/// `--json` output, written by `CompactJSONEncoder`: the bytes Foundation's JSONEncoder writes with
/// these options (CompactJSONEncoderTests), without the cost of its first use in a short-lived process
/// (1.6M of the 2.7M instructions of a `lease acquire --json` through sriovd).
enum JSONOutput {
    /// Pretty, key-sorted JSON, as every `--json` prints it.
    static func print<T: Encodable>(_ value: T) throws {
        Output.line(String(decoding: try CompactJSONEncoder().encodePretty(value), as: UTF8.self))
    }

    /// One line of key-sorted JSON (a stream of records, one per line).
    static func printLine<T: Encodable>(_ value: T) throws {
        Output.line(String(decoding: try CompactJSONEncoder().encode(value), as: UTF8.self))
    }
}
