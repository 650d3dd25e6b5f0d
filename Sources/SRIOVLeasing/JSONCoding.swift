import SRIOVCore

enum JSONCoding {
    /// The journal's records and snapshot, as `CompactJSONEncoder` wrote them (without Foundation's
    /// JSONDecoder, whose first use of each type is most of a short-lived command's replay).
    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], what: String) throws(SRIOVError) -> T {
        do {
            return try CompactJSONDecoder().decode(type, from: bytes)
        } catch {
            throw SRIOVError(.corrupt, "\(what) is not valid: \(error)")
        }
    }

    /// The lease book of a snapshot: as `decode`, with the audit trail (up to 12,500 records, most of
    /// the snapshot) read record by record straight from the text (`CompactJSONFlatDecodable`) instead
    /// of through the parsed tree and a keyed container per record, ~8 times the instructions.
    /// The rest of the book is read by hand (`LeaseBook.init(reading:)`) when it can be; `Codable`
    /// decodes (and names the problem of) anything that reading misses.
    /// The text is parsed once either way.
    static func decodeBook(from bytes: [UInt8], what: String) throws(SRIOVError) -> LeaseBook {
        do {
            let (document, audit) = try CompactJSONDecoder().read(bytes, splitting: "audit", as: AuditRecord.self)
            var book = try (try? LeaseBook(reading: document)) ?? document.decode(LeaseBook.self)
            book.audit = audit
            return book
        } catch {
            throw SRIOVError(.corrupt, "\(what) is not valid: \(error)")
        }
    }
}
