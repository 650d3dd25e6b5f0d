import Foundation
import SRIOVCore

enum JSONCoding {
    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], what: String) throws(SRIOVError) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw SRIOVError(.corrupt, "\(what) is not valid: \(error)")
        }
    }
}
