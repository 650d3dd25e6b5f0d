#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SRIOVCore

/// One journal line: `{"v":1,"seq":N,"ts":T,"type":"...","data":{...},"crc":"xxxxxxxx"}` + `\n`.
///
/// The envelope is written in this fixed key order and parsed by hand: at a million records, a
/// JSONDecoder per line would dominate start-up, and the payload is kept as raw bytes anyway. The crc
/// sits at a fixed distance from the end, so the payload never has to be scanned to find its end.
enum RecordCodec {
    static let version: UInt64 = 1
    /// `,"crc":"` + 8 hex digits + `"}`.
    static let suffixLength = 18
    static let crcMarker: [UInt8] = Array(#","crc":""#.utf8)

    /// Record types are short identifiers (`lease.reserved`), so they never need JSON escaping.
    static func isValidType(_ type: String) -> Bool {
        let utf8 = type.utf8
        guard !utf8.isEmpty, utf8.count <= 100 else { return false }
        return utf8.allSatisfy(isTypeByte)
    }

    @inline(__always)
    static func isTypeByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"),
             UInt8(ascii: ":"), UInt8(ascii: "/"):
            return true
        default:
            return false
        }
    }

    /// Unix time now, as `seconds.microseconds` digits.
    static func timestamp() -> [UInt8] {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var out: [UInt8] = []
        out.reserveCapacity(24)
        ASCIIDigits.appendDecimal(UInt64(max(0, ts.tv_sec)), to: &out)
        out.append(UInt8(ascii: "."))
        ASCIIDigits.appendDecimal(UInt64(max(0, ts.tv_nsec)) / 1000, minimumDigits: 6, to: &out)
        return out
    }

    /// Appends the line for one record (with its newline) to `out`. `type` must pass `isValidType`;
    /// `data` must be one line of JSON.
    static func encode(seq: UInt64, timestamp: [UInt8], type: String, data: [UInt8], into out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: #"{"v":1,"seq":"#.utf8)
        ASCIIDigits.appendDecimal(seq, to: &out)
        out.append(contentsOf: #","ts":"#.utf8)
        out.append(contentsOf: timestamp)
        out.append(contentsOf: #","type":""#.utf8)
        out.append(contentsOf: type.utf8)
        out.append(contentsOf: #"","data":"#.utf8)
        out.append(contentsOf: data)
        let crc = out.withUnsafeBytes { raw in recordCRC(UnsafeRawBufferPointer(rebasing: raw[start...])) }
        out.append(contentsOf: crcMarker)
        ASCIIDigits.appendHex(UInt64(crc), digits: 8, to: &out)
        out.append(contentsOf: #""}"#.utf8)
        out.append(0x0a)
    }

    /// The record's crc covers the line up to `,"crc":` followed by the closing `}`.
    static func recordCRC(_ envelope: UnsafeRawBufferPointer) -> UInt32 {
        let brace = UInt8(ascii: "}")
        return withUnsafeBytes(of: brace) { CRC32C.update(CRC32C.update(0, envelope), $0) }
    }

    /// A parsed line; ranges index into the line.
    struct Record {
        var seq: UInt64
        var time: Double
        var type: Range<Int>
        var data: Range<Int>
    }

    enum Problem: Error {
        /// Unparsable or checksum-bad: torn if it is the last line, corruption otherwise.
        case damaged(String)
        /// A complete, checksummed record of a format this build does not know.
        case unsupportedVersion(UInt64)
    }

    /// The record type of a compacted journal's first record, naming the snapshot it continues from:
    /// `{"crc":"<the snapshot's crc>","seq":<the snapshot's seq>}`, with the snapshot's seq as its own.
    /// The journal writes and reads it itself; callers never see it and may not append it.
    static let snapshotBaseTypeName = "journal.snapshot"
    static let snapshotBaseType: [UInt8] = Array(snapshotBaseTypeName.utf8)

    /// The line of a `journal.snapshot` record naming the snapshot at `seq` with checksum `crc`.
    static func snapshotBase(seq: UInt64, crc: UInt32) -> [UInt8] {
        var data: [UInt8] = Array(#"{"crc":""#.utf8)
        data.append(contentsOf: CRC32C.hex(crc))
        data.append(contentsOf: #"","seq":"#.utf8)
        data.append(contentsOf: String(seq).utf8)
        data.append(UInt8(ascii: "}"))
        var line: [UInt8] = []
        encode(seq: seq, timestamp: timestamp(), type: snapshotBaseTypeName, data: data, into: &line)
        return line
    }

    /// The snapshot a `journal.snapshot` record's data names, nil if it is not exactly that shape.
    static func decodeSnapshotBase(_ data: UnsafeRawBufferPointer) -> (seq: UInt64, crc: UInt32)? {
        var p = Parser(line: data, end: data.count)
        guard p.expect(#"{"crc":""#), p.i + 8 <= data.count,
              let crc = CRC32C.parseHex(UnsafeRawBufferPointer(rebasing: data[p.i..<(p.i + 8)])) else { return nil }
        p.i += 8
        guard p.expect(#"","seq":"#), let seq = p.unsigned(), seq >= 1, p.expect("}"), p.i == data.count else { return nil }
        return (seq, crc)
    }

    /// Parses one line (without its newline).
    static func decode(_ line: UnsafeRawBufferPointer) -> Result<Record, Problem> {
        let n = line.count
        if n == 0 { return .failure(.damaged("empty line")) }
        guard n > suffixLength + 10 else { return .failure(.damaged("too short to be a record (\(n) bytes)")) }
        let crcStart = n - suffixLength
        guard line[n - 1] == UInt8(ascii: "}"), line[n - 2] == UInt8(ascii: "\""),
              matches(line, at: crcStart, crcMarker) else {
            return .failure(.damaged("no checksum at the end of the line"))
        }
        guard let stored = CRC32C.parseHex(UnsafeRawBufferPointer(rebasing: line[(n - 10)..<(n - 2)])) else {
            return .failure(.damaged("the checksum is not 8 lower-case hex digits"))
        }
        let computed = recordCRC(UnsafeRawBufferPointer(rebasing: line[0..<crcStart]))
        guard stored == computed else {
            return .failure(.damaged("checksum mismatch (stored \(hexString(stored)), computed \(hexString(computed)))"))
        }
        var p = Parser(line: line, end: crcStart)
        guard p.expect(#"{"v":"#), let v = p.unsigned() else { return .failure(.damaged("no format version (\"v\") at the start")) }
        guard v == version else { return .failure(.unsupportedVersion(v)) }
        guard p.expect(#","seq":"#), let seq = p.unsigned() else { return .failure(.damaged("no \"seq\" after \"v\"")) }
        guard seq >= 1 else { return .failure(.damaged("seq 0 (sequence numbers start at 1)")) }
        guard p.expect(#","ts":"#), let time = p.time() else { return .failure(.damaged("no \"ts\" after \"seq\"")) }
        guard p.expect(#","type":""#) else { return .failure(.damaged("no \"type\" after \"ts\"")) }
        let typeStart = p.i
        while p.i < p.end, isTypeByte(line[p.i]) { p.i += 1 }
        let typeEnd = p.i
        guard typeEnd > typeStart, p.expect(#"","data":"#) else {
            return .failure(.damaged("\"type\" is not a record type followed by \"data\""))
        }
        guard p.i < crcStart else { return .failure(.damaged("\"data\" is empty")) }
        return .success(Record(seq: seq, time: time, type: typeStart..<typeEnd, data: p.i..<crcStart))
    }

    /// The seq of a line this process wrote or already verified (compaction's fast path).
    static func quickSeq(_ line: UnsafeRawBufferPointer) -> UInt64? {
        var p = Parser(line: line, end: line.count)
        guard p.expect(#"{"v":1,"seq":"#) else { return nil }
        return p.unsigned()
    }

    static func matches(_ bytes: UnsafeRawBufferPointer, at offset: Int, _ literal: [UInt8]) -> Bool {
        guard offset >= 0, offset + literal.count <= bytes.count else { return false }
        for (k, b) in literal.enumerated() where bytes[offset + k] != b { return false }
        return true
    }

    static func hexString(_ crc: UInt32) -> String { String(decoding: CRC32C.hex(crc), as: UTF8.self) }

    struct Parser {
        let line: UnsafeRawBufferPointer
        let end: Int
        var i = 0

        init(line: UnsafeRawBufferPointer, end: Int) {
            self.line = line
            self.end = end
        }

        mutating func expect(_ literal: StaticString) -> Bool {
            let count = literal.utf8CodeUnitCount
            guard i + count <= end else { return false }
            let lit = literal.utf8Start
            for k in 0..<count where line[i + k] != lit[k] { return false }
            i += count
            return true
        }

        /// Decimal digits, at most 19 (no overflow), no leading zeros except "0" itself.
        mutating func unsigned() -> UInt64? {
            let start = i
            var value: UInt64 = 0
            while i < end, i - start < 19 {
                let d = line[i] &- UInt8(ascii: "0")
                guard d < 10 else { break }
                value = value * 10 + UInt64(d)
                i += 1
            }
            guard i > start else { return nil }
            if line[start] == UInt8(ascii: "0") && i - start > 1 { return nil }
            if i < end, line[i] &- UInt8(ascii: "0") < 10 { return nil }
            return value
        }

        /// `seconds[.fraction]`.
        mutating func time() -> Double? {
            guard let whole = unsigned() else { return nil }
            guard i < end, line[i] == UInt8(ascii: ".") else { return Double(whole) }
            i += 1
            let start = i
            var fraction: UInt64 = 0
            var scale = 1.0
            while i < end {
                let d = line[i] &- UInt8(ascii: "0")
                guard d < 10 else { break }
                if i - start < 9 {
                    fraction = fraction * 10 + UInt64(d)
                    scale *= 10
                }
                i += 1
            }
            guard i > start else { return nil }
            return Double(whole) + Double(fraction) / scale
        }
    }
}
