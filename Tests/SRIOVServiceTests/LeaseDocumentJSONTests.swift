import Foundation
import SRIOVCore
import SRIOVLeasing
@testable import SRIOVService
import Testing

/// The hand-written lease documents (`LeaseDocumentJSON`) against Foundation's `JSONEncoder` on
/// `LeaseDocument` / `LeaseList` (what the API sent before, then with `/` escaped as `\/`): byte for byte.
@Suite("Lease documents written by hand")
struct LeaseDocumentJSONTests {
    static func foundation(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func lease(_ json: String) throws -> Lease {
        try JSONDecoder().decode(Lease.self, from: Data(json.utf8))
    }

    /// Every optional field set, two VFs, strings that need escapes, fractional times.
    static let full = #"""
    {"id":"l-00000000000000ff","owner":"vm-1","pool":"uplink",
     "request":{"pool":"uplink","owner":"vm-1","count":2,"numaNode":1,"placement":"spread","ttlSeconds":600,"requestID":"req/1\"x","consumer":"cgroup:/machine.slice/vm\\x2d1.scope","vfs":["0000:3b:02.1","0000:3b:02.0"],"deviceUser":"libvirt-qemu","deviceGroup":"107",
                "settings":{"mac":"02:00:00:00:00:01","vlan":{"id":200,"qos":3,"proto":"802.1ad"},"spoofCheck":false,"trust":true,
                            "linkState":"enable","minTxRate":10,"maxTxRate":1000,"queryRSS":true}},
     "vfs":[{"pciAddress":"0000:3b:02.1","pf":"0000:3b:00.0","pfInterface":"ens1f0","index":1,"iommuGroup":42,"numaNode":1,
             "vfioDevice":"/dev/vfio/42","settings":{"mac":"02:00:00:00:00:01","vlan":{"id":200,"qos":3,"proto":"802.1ad"},
             "spoofCheck":false,"trust":true,"linkState":"disable","minTxRate":0,"maxTxRate":0,"queryRSS":false},
             "saved":{"index":1,"mac":"00:00:00:00:00:00","vlan":{"id":0,"qos":0,"proto":"802.1Q"},"spoofCheck":true,"trust":false,
                      "linkState":"auto","minTxRate":0,"maxTxRate":0,"queryRSS":false},
             "previousDriver":"mlx5_core","stage":"active"},
            {"pciAddress":"0001:af:1f.7","pf":"0001:af:00.1","index":63,"settings":{},"saved":{"index":63,"mac":"02:aa:bb:cc:dd:ee",
             "vlan":{"id":4094,"qos":7,"proto":"802.1Q"},"minTxRate":5,"maxTxRate":6},"stage":"binding"}],
     "state":"active","createdAt":1764115200.123456,"expiresAt":1764115800.5,
     "requestedBy":"tenant nfv (uid 1000) \\ \t\n\r\u0001\u001f\b\f é ✓ 𝄞",
     "problems":["VF 0000:3b:02.1 vanished / \"came back\"","second"],"condition":"drifted",
     "vfioGrants":[{"group":42,"node":"/dev/vfio/42","granted":{"uid":64055,"gid":107,"mode":432},"previous":{"uid":0,"gid":0,"mode":384}}]}
    """#

    /// Every optional field unset; whole-number times.
    static let minimal = #"""
    {"id":"l-0123456789abcdef","owner":"o","pool":"p",
     "request":{"pool":"p","owner":"o","count":1,"placement":"pack","settings":{}},
     "vfs":[{"pciAddress":"0000:00:01.0","pf":"0000:00:00.0","index":0,"settings":{},"stage":"reserved"}],
     "state":"acquiring","createdAt":1764115200,"problems":[]}
    """#

    @Test func sameBytesAsJSONEncoder() throws {
        for text in [Self.full, Self.minimal] {
            let lease = try Self.lease(text)
            #expect(String(decoding: LeaseDocumentJSON.document(lease), as: UTF8.self) == (try Self.foundation(LeaseDocument(lease))))
        }
        let leases = [try Self.lease(Self.full), try Self.lease(Self.minimal)]
        #expect(String(decoding: LeaseDocumentJSON.list(leases), as: UTF8.self) == (try Self.foundation(LeaseList(leases: leases.map(LeaseDocument.init)))))
        #expect(String(decoding: LeaseDocumentJSON.list([]), as: UTF8.self) == (try Self.foundation(LeaseList(leases: []))))
    }

    /// The attach specs kept per lease follow every input they are made of: the same lease answered
    /// again gets the same bytes, and a changed MAC, VLAN, VF or count gets new specs, never the kept ones.
    @Test func keptAttachSpecsFollowTheirInputs() throws {
        let base = try Self.lease(Self.full)
        var changed: [Lease] = [base]
        var lease = base
        lease.vfs[0].settings.mac = try MACAddress(parsing: "02:00:00:00:00:02"); changed.append(lease)
        lease.vfs[0].settings.vlan = try VLAN(id: 201); changed.append(lease)
        lease.vfs[0].settings.vlan = nil; changed.append(lease)
        lease.vfs[1].pciAddress = try PCIAddress(parsing: "0001:af:1f.6"); changed.append(lease)
        lease.vfs[1].pf = lease.vfs[1].pciAddress; changed.append(lease)
        lease.vfs.removeLast(); changed.append(lease)
        lease.state = .releasing; changed.append(lease)
        for lease in changed + changed.reversed() {
            #expect(String(decoding: LeaseDocumentJSON.document(lease), as: UTF8.self) == (try Self.foundation(LeaseDocument(lease))))
        }
    }

    @Test func numbersAsJSONEncoderWritesThem() throws {
        let base = try Self.lease(Self.minimal)
        for time in [0, 1, 0.1, 1e-7, 123456789012.25, 1e16, 1.5e300, 1764115200.999999, -2.5] {
            var lease = base
            lease.createdAt = time
            lease.expiresAt = time * 3
            #expect(String(decoding: LeaseDocumentJSON.document(lease), as: UTF8.self) == (try Self.foundation(LeaseDocument(lease))))
        }
    }

    @Test func everyControlCharacterEscapedAsJSONEncoderDoes() throws {
        var lease = try Self.lease(Self.minimal)
        lease.problems = (0..<0x80).map { String(UnicodeScalar(UInt8($0))) } + ["\u{7f}\u{2028}\u{2029}\u{feff}"]
        #expect(String(decoding: LeaseDocumentJSON.document(lease), as: UTF8.self) == (try Self.foundation(LeaseDocument(lease))))
    }

    /// A field added to a lease type must be added to its `writeJSON` too (SRIOVLeasing's tests compare
    /// populated records; this catches a new field whatever its value).
    @Test func knowsEveryStoredField() throws {
        func labels(_ value: Any) -> Set<String> { Set(Mirror(reflecting: value).children.compactMap(\.label)) }
        let lease = try Self.lease(Self.full)
        #expect(labels(lease) == ["id", "owner", "pool", "request", "vfs", "state", "createdAt", "expiresAt", "requestedBy", "problems", "condition",
                                "vfioGrants"])
        #expect(labels(lease.request) == ["pool", "owner", "count", "numaNode", "placement", "settings", "ttlSeconds", "requestID",
                                          "consumer", "vfs", "deviceUser", "deviceGroup"])
        let grant = try #require(lease.vfioGrants?.first)
        #expect(labels(grant) == ["group", "node", "granted", "previous"])
        #expect(labels(grant.granted) == ["uid", "gid", "mode"])
        #expect(labels(lease.request.settings) == ["mac", "vlan", "spoofCheck", "trust", "linkState", "minTxRate", "maxTxRate", "queryRSS"])
        let vf = try #require(lease.vfs.first)
        #expect(labels(vf) == ["pciAddress", "pf", "pfInterface", "index", "iommuGroup", "numaNode", "vfioDevice", "settings", "saved",
                               "previousDriver", "stage"])
        let saved = try #require(vf.saved)
        #expect(labels(saved) == ["index", "mac", "vlan", "spoofCheck", "trust", "linkState", "minTxRate", "maxTxRate", "queryRSS"])
        #expect(labels(saved.vlan) == ["id", "qos", "proto"])
        #expect(Set(LeaseDocumentJSON.attachFormats) == Set(AttachFormat.allCases))
    }
}
