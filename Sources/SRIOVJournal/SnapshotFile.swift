import SRIOVCore

/// `snapshot.json`: `{"v":1,"seq":N,"crc":"xxxxxxxx","data":{...}}` + `\n`, the crc over the data bytes.
/// Written whole (temp file, fsync, rename, fsync the directory), so it is never torn: damage is refused.
enum SnapshotFile {
    static let name = "snapshot.json"

    enum Problem: Error {
        case damaged(String)
        case unsupportedVersion(UInt64)
    }

    static func encode(seq: UInt64, data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 64)
        out.append(contentsOf: #"{"v":1,"seq":"#.utf8)
        out.append(contentsOf: String(seq).utf8)
        out.append(contentsOf: #","crc":""#.utf8)
        out.append(contentsOf: CRC32C.hex(CRC32C.checksum(data)))
        out.append(contentsOf: #"","data":"#.utf8)
        out.append(contentsOf: data)
        out.append(contentsOf: "}\n".utf8)
        return out
    }

    static func decode(_ bytes: [UInt8]) -> Result<JournalSnapshot, Problem> {
        bytes.withUnsafeBytes { raw -> Result<JournalSnapshot, Problem> in
            var end = raw.count
            while end > 0, raw[end - 1] == 0x0a || raw[end - 1] == 0x20 { end -= 1 }
            var p = RecordCodec.Parser(line: raw, end: end)
            guard p.expect(#"{"v":"#), let v = p.unsigned() else { return .failure(.damaged("no format version (\"v\") at the start")) }
            guard v == RecordCodec.version else { return .failure(.unsupportedVersion(v)) }
            guard p.expect(#","seq":"#), let seq = p.unsigned() else { return .failure(.damaged("no \"seq\" after \"v\"")) }
            guard p.expect(#","crc":""#), p.i + 8 <= end,
                  let stored = CRC32C.parseHex(UnsafeRawBufferPointer(rebasing: raw[p.i..<(p.i + 8)])) else {
                return .failure(.damaged("no 8-hex-digit \"crc\" after \"seq\""))
            }
            p.i += 8
            guard p.expect(#"","data":"#) else { return .failure(.damaged("no \"data\" after \"crc\"")) }
            guard end > p.i + 1, raw[end - 1] == UInt8(ascii: "}") else {
                return .failure(.damaged("the file ends before the snapshot does (truncated?)"))
            }
            let data = UnsafeRawBufferPointer(rebasing: raw[p.i..<(end - 1)])
            let computed = CRC32C.update(0, data)
            guard computed == stored else {
                return .failure(.damaged("checksum mismatch (stored \(RecordCodec.hexString(stored)), computed \(RecordCodec.hexString(computed)))"))
            }
            return .success(JournalSnapshot(seq: seq, data: Array(data)))
        }
    }

    /// The snapshot in `directory`, nil if there is none; damage is an error naming the file and the remedy.
    static func load(directory: String) throws(SRIOVError) -> JournalSnapshot? {
        let path = directory + "/" + name
        guard let bytes = try DurableFile.readAll(path) else { return nil }
        switch decode(bytes) {
        case .success(let snapshot):
            return snapshot
        case .failure(.unsupportedVersion(let v)):
            throw SRIOVError(.unsupported, "\(path): snapshot format version \(v) is not supported by this sriovd (it reads version \(RecordCodec.version)); run the sriovd that wrote it or a newer one")
        case .failure(.damaged(let reason)):
            throw SRIOVError(.corrupt, "\(path): \(reason); run `sriovctl journal verify` to see the damage, and restore \(name) from a backup (the journal was compacted after it, so it cannot be rebuilt from the journal alone)")
        }
    }

    static func write(directory: String, seq: UInt64, data: [UInt8], sync: Bool) throws(SRIOVError) {
        try DurableFile.replace(directory + "/" + name, in: directory, with: encode(seq: seq, data: data), sync: sync)
    }
}
