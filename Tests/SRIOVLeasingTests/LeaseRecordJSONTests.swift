import Foundation
import Testing
import SRIOVCore
@testable import SRIOVLeasing

/// The journal's records are written by hand (`LeaseEvent.payloadJSON`, `JSONWriter`); they must be
/// exactly what JSONEncoder writes for the Codable payloads, for every record type, with every
/// optional member present and absent, and must decode back to the same event.
@Suite("Journal record JSON")
struct LeaseRecordJSONTests {
    struct Erased: Encodable {
        let value: any Encodable
        func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
    }

    static func foundation(_ event: LeaseEvent) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(Erased(value: event.payload())), as: UTF8.self)
    }

    static let full: Lease = {
        let settings = VFSettings(mac: try! MACAddress(parsing: "02:11:22:33:44:55"), vlan: try! VLAN(id: 100, qos: 5, proto: .dot1AD),
                                  spoofCheck: false, trust: true, linkState: .enable, minTxRate: 10, maxTxRate: 1000, queryRSS: true)
        let saved = VFState(index: 3, mac: try! MACAddress(parsing: "aa:bb:cc:dd:ee:01"), vlan: try! VLAN(id: 7), spoofCheck: true,
                            trust: false, linkState: .auto, minTxRate: 0, maxTxRate: 5, queryRSS: false)
        let request = LeaseRequest(pool: "uplink \"quoted\" /slash", owner: "vnf-7\nline", count: 2, numaNode: 1, placement: .spread,
                                   settings: settings, ttlSeconds: 3600, requestID: "req-1",
                                   consumer: .unit("machine-qemu\\x2d1\\x2dvm.scope"), vfs: [PCIAddress("0000:3b:02.1")!, PCIAddress("0000:3b:02.0")!],
                                   deviceUser: "libvirt-qemu", deviceGroup: "107")
        let vf = LeasedVF(pciAddress: PCIAddress("0000:3b:02.1")!, pf: PCIAddress("0000:3b:00.0")!, pfInterface: try! InterfaceName(parsing: "ens1f0"),
                          index: 3, iommuGroup: 42, numaNode: 1, vfioDevice: "/dev/vfio/42", settings: settings, saved: saved,
                          previousDriver: "iavf", stage: .active)
        return Lease(id: LeaseID(unchecked: "l-0123456789abcdef"), owner: "vnf-7", pool: "uplink", request: request, vfs: [vf, vf],
                     state: .active, createdAt: 1_800_000_000.123456, expiresAt: 1_800_003_600.5, requestedBy: "uid 0 (root)",
                     problems: ["one", "two \u{1}"], vfioGrants: [grant])
    }()

    static let grant = VFIOGrant(group: 42, node: "/dev/vfio/42", granted: VFIONodeOwnership(uid: 64055, gid: 107, mode: 0o660),
                                 previous: VFIONodeOwnership(uid: 0, gid: 0, mode: 0o600))

    static let bare: Lease = {
        let request = LeaseRequest(pool: "p", owner: "o")
        let vf = LeasedVF(pciAddress: PCIAddress("0000:3b:02.1")!, pf: PCIAddress("0000:3b:00.0")!, pfInterface: nil, index: 0,
                          iommuGroup: nil, numaNode: nil, vfioDevice: nil, settings: VFSettings(),
                          saved: VFState(index: 0, spoofCheck: nil, trust: nil, linkState: nil, queryRSS: nil),
                          previousDriver: nil, stage: .reserved)
        return Lease(id: LeaseID(unchecked: "l-00000000000000ff"), owner: "o", pool: "p", request: request, vfs: [vf], state: .acquiring,
                     createdAt: 1_800_000_000, expiresAt: nil, requestedBy: nil, problems: [])
    }()

    static var events: [LeaseEvent] {
        let id = full.id
        let vf = PCIAddress("0000:3b:02.1")!
        return [
            .reserved(full), .reserved(bare),
            .saved(lease: id, vf: vf, state: full.vfs[0].saved!, driver: "iavf"),
            .saved(lease: id, vf: vf, state: bare.vfs[0].saved!, driver: nil),
            .configuring(lease: id, vf: vf), .binding(lease: id, vf: vf), .returned(lease: id, vf: vf),
            .activated(lease: id, vfioDevices: [vf: "/dev/vfio/42", PCIAddress("0000:3b:02.0")!: "/dev/vfio/41",
                                                PCIAddress("0000:af:02.0")!: "/dev/vfio/7"]),
            .activated(lease: id, vfioDevices: [:]),
            .renewed(lease: id, expiresAt: 1_800_007_200.25), .renewed(lease: id, expiresAt: nil),
            .releasing(lease: id, cause: .expired, reason: "expired (TTL passed without renew)"), .releasing(lease: id, cause: .consumerGone, reason: "consumer pid:7@9 gone for 30 s"), .marked(lease: id, condition: .lost, reason: "forced"), .released(lease: id),
            .quarantined(vf: vf, reason: "scrub failed: \"EINVAL\"", lease: id), .quarantined(vf: vf, reason: "drift", lease: nil),
            .unquarantined(vf: vf), .drift(lease: id, vf: vf, reason: "driver changed to igbvf"),
            .marked(lease: id, condition: .drifted, reason: "forced vf set by cli uid 0: vlan 7"),
            .vfDrift(DriftRecord(lease: id, vf: vf, interface: "ens1f0", index: 3,
                                 changes: [DriftChange(field: "vlan", wanted: "100", actual: "7"),
                                           DriftChange(field: "spoofchk", wanted: "on", actual: "off")], action: .restore)),
            .vfDrift(DriftRecord(lease: id, vf: vf, interface: nil, index: nil,
                                 changes: [DriftChange(field: "driver", wanted: "vfio-pci", actual: "none")], action: .quarantine)),
            .numVFsChanged(NumVFsChangeRecord(pf: "0000:3b:00.0", interface: "ens1f0", before: 4, after: 2, requestedBy: "cli uid 0")),
            .numVFsChanged(NumVFsChangeRecord(pf: "netdevsim3", interface: nil, before: 0, after: 8, requestedBy: "tenant a")),
            .audit(AuditRecord(time: 1_800_000_000.000001, who: "uid 1000 (tenant a)", action: "lease.acquire", target: "l-1 pool p", result: "ok")),
            .pfLink(PFLinkRecord(pf: "0000:3b:00.0", interface: "ens1f0", carrier: false, operState: "down", leases: [id.value])),
            .pfLink(PFLinkRecord(pf: "0000:3b:00.1", interface: nil, carrier: nil, operState: nil, leases: [])),
            .pfDraining(PFDrainRecord(pf: "0000:3b:00.0", interface: "ens1f0", since: 1_800_000_000.5, deadline: 1_800_000_600.5,
                                      evict: true, requestedBy: "cli uid 0", leases: [id.value])),
            .pfDraining(PFDrainRecord(pf: "netdevsim3", interface: nil, since: 1_800_000_001, deadline: nil, evict: false,
                                      requestedBy: "tenant a", leases: [])),
            .pfUndrained(PFUndrainRecord(pf: "netdevsim3", interface: nil, requestedBy: "tenant a")),
            .releasing(lease: id, cause: .evicted, reason: "evicted: drained"),
            .vfioGranted(lease: id, grant: grant),
        ]
    }

    @Test func sameBytesAsJSONEncoder() throws {
        for event in Self.events {
            let ours = String(decoding: event.payloadJSON(), as: UTF8.self)
            #expect(ours == (try Self.foundation(event)), "\(event.type)")
        }
    }

    @Test func snapshotBookSameBytesAsJSONEncoder() throws {
        var book = LeaseBook()
        for event in Self.events { book.apply(event, at: 1_800_000_000.75) }
        book.apply(.reserved(Self.bare))
        book.apply(.reserved(Self.full))
        book.apply(.quarantined(vf: PCIAddress("0000:af:02.3")!, reason: "x", lease: nil), at: 12.5)
        book.seq = 1234
        #expect(!book.leases.isEmpty && !book.quarantine.isEmpty && !book.requestIndex.isEmpty && !book.audit.isEmpty)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let theirs = String(decoding: try encoder.encode(book), as: UTF8.self)
        #expect(String(decoding: book.json, as: UTF8.self) == theirs)
        #expect(try JSONDecoder().decode(LeaseBook.self, from: Data(book.json)) == book)
        // What recovery decodes it with (CompactJSONDecoder), from both encoders' bytes.
        #expect(try LeaseRecordFormat.decodeBook(book.json) == book)
        #expect(try LeaseRecordFormat.decodeBook(Array(theirs.utf8)) == book)
    }

    /// The snapshot's audit trail is read apart from the rest of the book (record by record from the
    /// text); it accepts and refuses exactly what `LeaseBook.init(from:)` does, and reads the same.
    @Test(arguments: [
        // Escapes, non-ASCII, an escaped member name, whitespace, a duplicate (first counts), an
        // unknown member (skipped), numbers in other spellings, members in another order.
        #"{"audit":[{"time":1.5,"who":"cli uid 0","action":"lease.acquire","target":"l-1 \"q\" \u00e9 \ud83d\ude00 \/","result":"ok"}, { "result" : "ok" , "target":"t","action":"a","who":"w","time":1e3 },{"t\u0069me":2,"who":"é","action":"a","target":"t","result":"r","who":"second","extra":{"x":[1,null,true]}}],"draining":{},"leases":{},"quarantine":{},"requestIndex":{},"seq":7,"unarchivedAudit":[]}"#,
        #"{"seq":1,"leases":{},"quarantine":{},"requestIndex":{},"audit":[]}"#,
        #"  {"leases":{},"audit":[{"time":-0.25,"who":"","action":"","target":"","result":""}],"quarantine":{},"requestIndex":{},"seq":0,"audit":{"ignored":1}}  "#,
    ])
    func auditTrailReadApartDecodesAsTheWholeBook(text: String) throws {
        let whole = try LeaseRecordFormat.decodeBookWhole(Array(text.utf8))
        #expect(!whole.audit.isEmpty || text.contains(#""audit":[]"#))
        #expect(try LeaseRecordFormat.decodeBook(Array(text.utf8)) == whole)
    }

    @Test(arguments: [
        #"{"audit":[{"time":1,"who":"w","action":"a","target":"t"}],"leases":{},"quarantine":{},"requestIndex":{},"seq":1}"#,  // no result
        #"{"audit":[{"time":"1","who":"w","action":"a","target":"t","result":"r"}],"leases":{},"quarantine":{},"requestIndex":{},"seq":1}"#,  // a string time
        #"{"audit":[{"time":1,"who":null,"action":"a","target":"t","result":"r"}],"leases":{},"quarantine":{},"requestIndex":{},"seq":1}"#,  // null
        #"{"audit":[["time",1]],"leases":{},"quarantine":{},"requestIndex":{},"seq":1}"#,  // not an object
        #"{"audit":[{"time":1,"who":"w","action":"a","target":"t","result":"r"},],"leases":{},"quarantine":{},"requestIndex":{},"seq":1}"#,  // trailing comma
        #"{"audit":[{"time":01,"who":"w","action":"a","target":"t","result":"r"}],"leases":{},"quarantine":{},"requestIndex":{},"seq":1}"#,  // leading zero
        #"{"audit":[{"time":1e999,"who":"w","action":"a","target":"t","result":"r"}],"leases":{},"quarantine":{},"requestIndex":{},"seq":1}"#,  // not finite
        #"{"audit":[{"time":1,"who":"\x","action":"a","target":"t","result":"r"}],"leases":{},"quarantine":{},"requestIndex":{},"seq":1}"#,  // bad escape
        #"{"audit":[{"time":1,"who":"w","action":"a","target":"t","result":"r"}],"leases":{},"quarantine":{},"requestIndex":{},"seq":1} x"#,  // text after
        #"{"audit":[{"time":1,"who":"w","action":"a","target":"t","result":"r""#,  // cut short
        #"{"audit":{},"leases":{},"quarantine":{},"requestIndex":{},"seq":1}"#,  // not an array
        #"{"leases":{},"quarantine":{},"requestIndex":{},"seq":1}"#,  // no audit
    ])
    func auditTrailReadApartRefusesWhatTheWholeBookRefuses(text: String) throws {
        #expect(throws: SRIOVError.self) { try LeaseRecordFormat.decodeBookWhole(Array(text.utf8)) }
        #expect(throws: SRIOVError.self) { try LeaseRecordFormat.decodeBook(Array(text.utf8)) }
    }

    /// A refused audit record is named by its place: the member, the record's index, the field.
    @Test func aRefusedAuditRecordIsNamedByItsPlace() throws {
        let good = #"{"time":1,"who":"w","action":"a","target":"t","result":"r"}"#
        let text = #"{"audit":["# + good + "," + good + #",{"time":1,"who":7,"action":"a","target":"t","result":"r"}],"leases":{},"quarantine":{},"requestIndex":{},"seq":1}"#
        #expect {
            try LeaseRecordFormat.decodeBook(Array(text.utf8))
        } throws: { error in
            let message = (error as? SRIOVError)?.message ?? ""
            return message.contains("Path: audit[2].who") && message.contains("found a number")
        }
    }

    /// What `sriovctl lease acquire --json` prints (CompactJSONEncoder's pretty layout): Foundation's
    /// pretty output, byte for byte, for a lease with every member and one with none.
    @Test func leaseDocumentPrettySameBytesAsJSONEncoder() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        for lease in [Self.full, Self.bare] {
            let document = LeaseDocument(lease)
            let ours = String(decoding: try CompactJSONEncoder().encodePretty(document), as: UTF8.self)
            #expect(ours == String(decoding: try encoder.encode(document), as: UTF8.self), "\(lease.id)")
        }
    }

    @Test func decodesBackToTheSameEvent() throws {
        for event in Self.events {
            let back = try LeaseEvent.decode(type: event.type, data: event.payloadJSON())
            #expect(back == event, "\(event.type)")
            // Written by JSONEncoder (the Codable form, slashes escaped): the same event.
            let escaped = Array(try Self.foundation(event).replacingOccurrences(of: "/", with: "\\/").utf8)
            #expect(try LeaseEvent.decode(type: event.type, data: escaped) == event, "\(event.type), slashes escaped")
        }
    }
}
