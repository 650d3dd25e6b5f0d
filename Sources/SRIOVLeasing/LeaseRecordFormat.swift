import Foundation
import SRIOVCore

/// The journal payloads' codecs for other targets of this package (`Fuzz/sriov-fuzz`): what recovery
/// decodes (a record's payload, the snapshot's lease book) and what the engine writes back.
package enum LeaseRecordFormat {
    /// A record's payload as recovery decodes it.
    package static func decodeEvent(type: String, data: [UInt8]) throws(SRIOVError) -> LeaseEvent {
        try LeaseEvent.decode(type: type, data: data)
    }

    /// The same record through `Codable` alone (what the hand-written reading must agree with).
    package static func decodeEventCodable(type: String, data: [UInt8]) throws(SRIOVError) -> LeaseEvent {
        try LeaseEvent.decodeCodable(type: type, data: data)
    }

    /// The hand-written reading alone (`JSONReader`): nil for a type it does not read, or a record
    /// it leaves to `Codable`.
    package static func readEvent(type: String, data: [UInt8]) -> LeaseEvent? {
        guard let reader = JSONReader.parse(data) else { return nil }
        return try? LeaseEvent.read(type: type, reader)
    }

    /// The payload the engine journals for `event` (JSONWriter).
    package static func payloadJSON(_ event: LeaseEvent) -> [UInt8] { event.payloadJSON() }

    /// The same payload through JSONEncoder (sorted keys, slashes unescaped): the Codable form.
    package static func payloadEncoded(_ event: LeaseEvent) throws -> [UInt8] {
        try Array(encoder().encode(AnyEncodable(event.payload())))
    }

    /// The snapshot's data as recovery decodes it (the audit trail read apart, `JSONCoding.decodeBook`).
    package static func decodeBook(_ data: [UInt8]) throws(SRIOVError) -> LeaseBook {
        try JSONCoding.decodeBook(from: data, what: "journal snapshot")
    }

    /// The hand-written reading of the snapshot's book alone: nil when it leaves the book to `Codable`.
    package static func readBook(_ data: [UInt8]) -> LeaseBook? {
        guard let (document, audit) = try? CompactJSONDecoder().read(data, splitting: "audit", as: AuditRecord.self),
              var book = try? LeaseBook(reading: document) else { return nil }
        book.audit = audit
        return book
    }

    /// The same through `LeaseBook.init(from:)` alone: what the split must agree with.
    package static func decodeBookWhole(_ data: [UInt8]) throws(SRIOVError) -> LeaseBook {
        try JSONCoding.decode(LeaseBook.self, from: data, what: "journal snapshot")
    }

    package static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    private struct AnyEncodable: Encodable {
        let value: any Encodable
        init(_ value: any Encodable) { self.value = value }
        func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
    }
}
