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
}
