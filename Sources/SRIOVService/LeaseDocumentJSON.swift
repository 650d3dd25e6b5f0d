import SRIOVAPI
import SRIOVCore
import SRIOVLeasing
import Synchronization

/// The lease documents of the hot routes (`POST /v1/leases`, `GET /v1/leases`, `DELETE
/// /v1/leases/{id}`, ...) written by hand with the journal's `JSONWriter`, straight into bytes: what
/// Foundation's `JSONEncoder` with `[.sortedKeys, .withoutEscapingSlashes]` writes for `LeaseDocument`
/// and `LeaseList`, without the encoder's value tree, boxes and dynamic casts (JSONEncoder was ~10% of
/// sriovd's CPU under load). The lease's members are `Lease.writeJSON` (SRIOVLeasing, the journal's
/// writer too); `LeaseDocumentJSONTests` compares the bytes with JSONEncoder's.
enum LeaseDocumentJSON {
    /// `LeaseDocument(lease)`: the lease and its attach specs.
    static func document(_ lease: Lease) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(2048)
        append(lease, to: &bytes)
        return bytes
    }

    /// `DELETE /v1/leases/{id}`'s answer: the lease's document and, last, `quarantined`: each VF its
    /// release quarantined, by PCI address (`{}` when every VF went back to its pool), so a caller
    /// needs no `GET /v1/pools` (a read of the whole host) to learn it.
    static func released(_ lease: Lease, quarantined: [String: Quarantine]) -> [UInt8] {
        var bytes = document(lease)
        // Its last answer: the kept attach specs go (leases that expire instead are bounded below).
        attachCache.withLock { _ = $0.removeValue(forKey: lease.id) }
        bytes.removeLast()
        bytes += ",\"quarantined\":".utf8
        var w = JSONWriter(capacity: 64 + 160 * quarantined.count)
        w.object { w in
            for vf in quarantined.keys.sorted() {
                guard let q = quarantined[vf] else { continue }
                w.key(vf)
                q.writeJSON(&w)
            }
        }
        bytes += w.bytes
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// `LeaseList`: `{"leases":[...]}`.
    static func list(_ leases: [Lease]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16 + 2048 * leases.count)
        bytes += "{\"leases\":[".utf8
        for (i, lease) in leases.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            append(lease, to: &bytes)
        }
        bytes += "]}".utf8
        return bytes
    }

    /// The attach formats in the order of their names (the document's `attach` keys, sorted).
    static let attachFormats: [AttachFormat] = AttachFormat.allCases.sorted { $0.rawValue.utf8.lexicographicallyPrecedes($1.rawValue.utf8) }

    /// `{"attach":{...},` then the lease's own members: `attach` sorts before every one of them
    /// (`createdAt`, `expiresAt`, `id`, ...), and a lease always has members, so the lease's object
    /// goes on after its opening brace.
    static func append(_ lease: Lease, to bytes: inout [UInt8]) {
        let attach = attachObject(lease)
        var members = JSONWriter(capacity: 1024 + 768 * lease.vfs.count)
        lease.writeJSON(&members)
        bytes.reserveCapacity(bytes.count + attach.count + members.bytes.count)
        // Without the attach object's closing brace (the lease's members follow) and the members'
        // opening one. Slices by index: `dropLast()` here resolved to Sequence's, which copies element
        // by element through a ring buffer (0.7% of sriovd's CPU under load).
        bytes.append(contentsOf: attach[..<(attach.count - 1)])
        bytes.append(UInt8(ascii: ","))
        bytes.append(contentsOf: members.bytes[1...])
    }

    /// `{"attach":{"cloud-hypervisor":"...",...}}` for `lease`. Rendering the six formats was ~13% of
    /// sriovd's CPU under daemon-load, for the same text each time a lease is answered (its acquire,
    /// `GET /v1/leases`, its release): kept per lease while its `AttachInputs` stay equal.
    static func attachObject(_ lease: Lease) -> [UInt8] {
        let inputs = AttachInputs(lease)
        if let hit = attachCache.withLock({ $0[lease.id] }), hit.inputs == inputs { return hit.bytes }
        var attach = JSONWriter(capacity: 1024)
        attach.object { w in
            w.key("attach")
            w.object { w in
                for format in attachFormats {
                    w.key(format.rawValue)
                    w.string(AttachSpec.render(inputs, format: format))
                }
            }
        }
        let bytes = attach.bytes
        attachCache.withLock { cache in
            // Leases come and go; a bound instead of tracking each release (the next answer renders again).
            if cache.count >= attachCacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[lease.id] = (inputs, bytes)
        }
        return bytes
    }

    static let attachCacheLimit = 4096
    private static let attachCache = Mutex<[LeaseID: (inputs: AttachInputs, bytes: [UInt8])]>([:])
}
