import Foundation
import SRIOVCore

/// The journal's records and snapshots, decoded without Foundation's type checks (`ByteJSONDecoder`).
enum JSONCoding {
    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], what: String) throws(SRIOVError) -> T {
        do {
            return try ByteJSONDecoder().decode(type, from: bytes)
        } catch {
            throw SRIOVError(.corrupt, "\(what) is not valid: \(error)")
        }
    }
}
