import SRIOVCore

/// A property of a parser that did not hold for an input: the replay reports it, the fuzzer traps on it
/// (so libFuzzer saves the input).
struct FuzzFailure: Error, CustomStringConvertible {
    let description: String
}

/// Fails the input with `message` unless `condition` holds.
func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
             file: StaticString = #fileID, line: UInt = #line) throws(FuzzFailure) {
    if !condition() { throw FuzzFailure(description: "\(file):\(line): \(message())") }
}

/// An error a parser threw: an `SRIOVError` (typed throws says so) that explains itself.
func requireExplained(_ error: SRIOVError, _ what: String, code: SRIOVError.Code? = nil, mentions: String? = nil,
                      file: StaticString = #fileID, line: UInt = #line) throws(FuzzFailure) {
    try require(!error.message.isEmpty, "\(what): an error with an empty message (code \(error.code))", file: file, line: line)
    if let code {
        try require(error.code == code, "\(what): error code \(error.code), expected \(code): \(error.message)", file: file, line: line)
    }
    if let mentions {
        try require(error.message.contains(mentions), "\(what): the error does not name \(mentions): \(error.message)", file: file, line: line)
    }
}

/// A `Result` of a typed-throwing call, so a failure can be inspected without `catch` boilerplate.
func attempt<T>(_ body: () throws(SRIOVError) -> T) -> Result<T, SRIOVError> {
    do throws(SRIOVError) { return .success(try body()) } catch { return .failure(error) }
}

/// A small deterministic hash of the input, to derive values (a seq, a type) from it.
func fnv1a(_ bytes: [UInt8]) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h
}

/// Bytes as text for a message: printable ASCII kept, the rest escaped, cut at 200 bytes.
func show(_ bytes: some Collection<UInt8>) -> String {
    var out = ""
    for b in bytes.prefix(200) {
        if b >= 0x20 && b < 0x7f && b != UInt8(ascii: "\\") { out.unicodeScalars.append(Unicode.Scalar(b)) } else { out += "\\x" + String(b, radix: 16) }
    }
    return bytes.count > 200 ? out + "..." : out
}

/// Whether the last input got past the target's parser (the replay counts them, to show the corpus
/// reaches the checks on accepted values and not only the refusals). One thread runs the targets.
enum Tally {
    nonisolated(unsafe) static var accepted = false
}
