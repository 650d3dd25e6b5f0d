import Foundation
import Testing
import SRIOVCore
@testable import SRIOVLeasing

/// The records of a lease's acquire and release are read by hand (`JSONReader`), and `Codable`
/// decodes whatever that reading misses. The reading must never accept what `Codable` refuses, nor
/// read anything differently: every record, and thousands of variations of each, decoded both ways.
@Suite("Journal records read by hand")
struct LeaseReadingTests {
    static let readByHand: Set<String> = ["lease.reserved", "vf.saved", "vf.configuring", "vf.binding", "vf.returned",
                                          "lease.activated", "lease.releasing", "lease.released", "audit"]

    @Test func everyHotRecordIsReadByHandAsCodableReadsIt() throws {
        var read = Set<String>()
        for event in LeaseRecordJSONTests.events {
            let data = event.payloadJSON()
            let byHand = LeaseRecordFormat.readEvent(type: event.type, data: data)
            if Self.readByHand.contains(event.type) {
                #expect(byHand == event, "\(event.type)")
                read.insert(event.type)
            } else {
                #expect(byHand == nil, "\(event.type) is left to Codable")
            }
            #expect(try LeaseRecordFormat.decodeEventCodable(type: event.type, data: data) == event, "\(event.type)")
            // As JSONEncoder writes it, slashes escaped.
            let escaped = Array(try LeaseRecordJSONTests.foundation(event).replacingOccurrences(of: "/", with: "\\/").utf8)
            if Self.readByHand.contains(event.type) {
                #expect(LeaseRecordFormat.readEvent(type: event.type, data: escaped) == event, "\(event.type), slashes escaped")
            }
        }
        #expect(read == Self.readByHand)
    }

    /// Each record with one thing changed anywhere in it: a member left out, null, a string, a
    /// number (negative, fractional, beyond UInt32, UInt16, UInt8), a boolean, an array, an object,
    /// a valid lease id or PCI address where something else belongs, an unknown member, a
    /// duplicated first member (the first counts), an array element added or dropped.
    @Test func variationsAreReadByHandOnlyAsCodableReadsThem() throws {
        var agreed = 0, leftToCodable = 0, codableRefused = 0
        for event in LeaseRecordJSONTests.events where Self.readByHand.contains(event.type) {
            let original = try JSONSerialization.jsonObject(with: Data(event.payloadJSON()))
            var texts: [[UInt8]] = []
            for variant in Self.variations(original) {
                texts.append(Array(try JSONSerialization.data(withJSONObject: variant, options: [.fragmentsAllowed])))
            }
            // Duplicated members: the first occurrence counts, for both.
            let text = event.payloadJSON()
            if let dict = original as? [String: Any] {
                for (key, value) in dict {
                    for replacement in Self.replacements + [value] {
                        let member = try JSONSerialization.data(withJSONObject: [key: replacement], options: [.fragmentsAllowed])
                        texts.append(Array(member.dropLast()) + [UInt8(ascii: ",")] + text.dropFirst())
                    }
                }
            }
            for data in texts {
                let byHand = LeaseRecordFormat.readEvent(type: event.type, data: data)
                do {
                    let codable = try LeaseRecordFormat.decodeEventCodable(type: event.type, data: data)
                    if let byHand {
                        #expect(byHand == codable, "\(event.type): \(String(decoding: data, as: UTF8.self))")
                        agreed += 1
                    } else {
                        leftToCodable += 1
                    }
                    #expect(try LeaseRecordFormat.decodeEvent(type: event.type, data: data) == codable)
                } catch {
                    #expect(byHand == nil, "\(event.type): read by hand, refused by Codable (\(error.message)): \(String(decoding: data, as: UTF8.self))")
                    #expect(throws: SRIOVError.self) { try LeaseRecordFormat.decodeEvent(type: event.type, data: data) }
                    codableRefused += 1
                }
            }
        }
        // Not vacuous: many variations accepted both ways, many refused.
        #expect(agreed > 500 && codableRefused > 1000, "agreed \(agreed), left to Codable \(leftToCodable), refused \(codableRefused)")
    }

    static var book: LeaseBook {
        var book = LeaseBook()
        for event in LeaseRecordJSONTests.events where event.type != "pf.drain" { book.apply(event, at: 1_800_000_000.75) }
        book.apply(.reserved(LeaseRecordJSONTests.bare))
        book.apply(.reserved(LeaseRecordJSONTests.full))
        book.apply(.quarantined(vf: PCIAddress("0000:af:02.3")!, reason: "x", lease: nil), at: 12.5)
        book.unarchivedAudit = [AuditRecord(time: 1.5, who: "w", action: "a", target: "t", result: "r")]
        book.seq = 1234
        return book
    }

    @Test func theSnapshotsBookIsReadByHandAsCodableReadsIt() throws {
        let book = Self.book
        #expect(book.leases.count == 2 && !book.quarantine.isEmpty && !book.requestIndex.isEmpty && !book.audit.isEmpty && book.draining.isEmpty)
        #expect(LeaseRecordFormat.readBook(book.json) == book)
        #expect(try LeaseRecordFormat.decodeBookWhole(book.json) == book)
        // A drain in progress is left to Codable, which reads it.
        var draining = book
        draining.apply(.pfDraining(PFDrainRecord(pf: "0000:3b:00.0", interface: "ens1f0", since: 1, deadline: nil, evict: false,
                                                 requestedBy: "cli uid 0", leases: [])))
        #expect(!draining.draining.isEmpty)
        #expect(LeaseRecordFormat.readBook(draining.json) == nil)
        #expect(try LeaseRecordFormat.decodeBook(draining.json) == draining)
    }

    /// The book with one thing changed anywhere in it (as the records above): what the hand-written
    /// reading accepts, `LeaseBook.init(from:)` accepts as the same book.
    @Test func bookVariationsAreReadByHandOnlyAsCodableReadsThem() throws {
        var agreed = 0, refused = 0
        let original = try JSONSerialization.jsonObject(with: Data(Self.book.json))
        for variant in Self.variations(original) {
            let data = Array(try JSONSerialization.data(withJSONObject: variant, options: [.fragmentsAllowed]))
            let byHand = LeaseRecordFormat.readBook(data)
            do {
                let whole = try LeaseRecordFormat.decodeBookWhole(data)
                if let byHand {
                    #expect(byHand == whole, "\(String(decoding: data, as: UTF8.self))")
                    agreed += 1
                }
                #expect(try LeaseRecordFormat.decodeBook(data) == whole)
            } catch {
                #expect(byHand == nil, "read by hand, refused by Codable (\(error.message)): \(String(decoding: data, as: UTF8.self))")
                #expect(throws: SRIOVError.self) { try LeaseRecordFormat.decodeBook(data) }
                refused += 1
            }
        }
        #expect(agreed > 500 && refused > 500, "agreed \(agreed), refused \(refused)")
    }

    static var replacements: [Any] { [NSNull(), "x", "l-0123456789abcdef", "0000:3b:02.1", "active", 7, 0, -1, 1.5,
                                      4_294_967_296, 65_536, 256, true, [Any](), [String: Any]()] }

    static func variations(_ value: Any) -> [Any] {
        var out = replacements
        if let dict = value as? [String: Any] {
            for (key, member) in dict {
                var without = dict
                without[key] = nil
                out.append(without)
                for changed in variations(member) {
                    var d = dict
                    d[key] = changed
                    out.append(d)
                }
            }
            var extra = dict
            extra["unknownMember"] = ["x": 1]
            out.append(extra)
        } else if let array = value as? [Any] {
            for (i, element) in array.enumerated() {
                for changed in variations(element) {
                    var a = array
                    a[i] = changed
                    out.append(a)
                }
            }
            if let first = array.first { out.append(array + [first]) }
            if !array.isEmpty { out.append(Array(array.dropFirst())) }
        }
        return out
    }

    /// Numbers in other spellings are left to Codable, which reads them as whole numbers.
    @Test func otherNumberSpellingsGoThroughCodable() throws {
        let text = #"{"lease":"l-0123456789abcdef","vf":"0000:3b:02.1","state":{"index":3e0,"mac":"aa:bb:cc:dd:ee:01","vlan":{"id":7.0,"qos":0,"proto":"802.1Q"},"minTxRate":0,"maxTxRate":5}}"#
        #expect(LeaseRecordFormat.readEvent(type: "vf.saved", data: Array(text.utf8)) == nil)
        let event = try LeaseRecordFormat.decodeEvent(type: "vf.saved", data: Array(text.utf8))
        guard case .saved(_, _, let state, _) = event else { Issue.record("not a vf.saved: \(event)"); return }
        #expect(state.index == 3 && state.vlan.id == 7)
    }
}
