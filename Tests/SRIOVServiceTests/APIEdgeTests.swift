import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SRIOVCore
import SRIOVLeasing
import SRIOVService
import Testing

/// The edges of the API that Docs/openapi.yaml promises and a fuzzer finds first (issue 15, defect 6):
/// bodies over the 64 KiB limit, a known path asked with another method, numbers out of range.
@Suite("API v1: oversized bodies, wrong methods, out-of-range numbers")
struct APIEdgeTests {
    /// Every body-taking route, with a body just over 64 KiB (valid JSON, so only its size is wrong).
    @Test(arguments: [
        (HTTPRequest.Method.post, "/v1/leases"),
        (.post, "/v1/leases/l-0123456789abcdef/renew"),
        (.put, "/v1/pfs/ens4f1np1/numvfs"),
        (.patch, "/v1/pfs/ens1f0/vfs/0"),
    ])
    func bodyOverTheLimitIs413Problem(method: HTTPRequest.Method, path: String) async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        let body = "{\"pool\": \"uplink\", \"owner\": \"vm-1\", \"requestId\": \"" + String(repeating: "x", count: 64 * 1024) + "\"}"
        try await f.app().test(.router) { client in
            try await client.execute(uri: path, method: method, body: ByteBuffer(string: body)) { r in
                #expect(r.status == .contentTooLarge, "\(r.status) \(r.body.text)")
                #expect(r.headers[.contentType] == "application/problem+json")
                let json = r.body.json
                #expect(json["status"] as? Int == 413)
                #expect(json["code"] as? String == "invalid-argument")
                #expect(json["type"] as? String == "urn:sriovd:problem:invalid-argument")
                let detail = json["detail"] as? String ?? ""
                #expect(detail.contains("65536 bytes (64 KiB)"), "detail: \(detail)")
            }
            // Nothing was leased or changed, and the router still answers.
            try await client.execute(uri: "/v1/leases", method: .get) { r in #expect(r.status == .ok) }
        }
        #expect(await engine.leases().isEmpty)
        await engine.close()
    }

    /// A known path with a method it does not take: 405 with `Allow`, as RFC 9110 (section 15.5.6) and
    /// Docs/openapi.yaml say; an unknown path stays 404.
    @Test(arguments: [
        (HTTPRequest.Method.delete, "/v1/pools", "GET"),
        (.put, "/v1/leases", "GET, POST"),
        (.patch, "/v1/leases/l-0123456789abcdef", "DELETE, GET"),
        (.get, "/v1/leases/l-0123456789abcdef/renew", "POST"),
        (.post, "/healthz", "GET"),
        (.get, "/v1/pfs/ens1f0/numvfs", "PUT"),
        (.put, "/v1/pfs/ens1f0/vfs/3", "PATCH"),
        (.options, "/v1/vfs/0000:3b:02.0/unquarantine", "POST"),
        (.post, "/v1/events", "GET"),
        (.head, "/metrics", "GET"),
        (HTTPRequest.Method("PROPFIND")!, "/v1/audit", "GET"),
    ])
    func wrongMethodOnKnownPathIs405WithAllow(method: HTTPRequest.Method, path: String, allow: String) async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        try await f.app().test(.router) { client in
            try await client.execute(uri: path, method: method) { r in
                #expect(r.status == .methodNotAllowed, "\(method) \(path): \(r.status) \(r.body.text)")
                #expect(r.headers[.allow] == allow)
                if method != .head {
                    #expect(r.headers[.contentType] == "application/problem+json")
                    #expect(r.body.json["code"] as? String == "unsupported")
                    #expect(r.body.json["status"] as? Int == 405)
                    let detail = r.body.json["detail"] as? String ?? ""
                    #expect(detail.contains("\(method.rawValue) is not allowed on \(path)") && detail.contains(allow), "detail: \(detail)")
                }
            }
            try await client.execute(uri: "/v2/nothing", method: method) { r in #expect(r.status == .notFound) }
        }
        #expect(await engine.leases().isEmpty)
        await engine.close()
    }

    /// An out-of-range number names its field and the range, whether the type holds it or not.
    @Test(arguments: [
        ("{\"pool\": \"uplink\", \"owner\": \"vm-1\", \"settings\": {\"vlan\": 99999999999999999999}}",
         "settings.vlan", "from 0 to 4094"),
        ("{\"pool\": \"uplink\", \"owner\": \"vm-1\", \"settings\": {\"vlan\": 5000}}", "settings.vlan", "from 0 to 4094"),
        ("{\"pool\": \"uplink\", \"owner\": \"vm-1\", \"settings\": {\"vlan\": 100, \"qos\": -1}}", "settings.qos", "from 0 to 7"),
        ("{\"pool\": \"uplink\", \"owner\": \"vm-1\", \"settings\": {\"maxTxRate\": 4294967296}}",
         "settings.maxTxRate", "from 0 to 4294967295"),
        ("{\"pool\": \"uplink\", \"owner\": \"vm-1\", \"settings\": {\"minTxRate\": -1}}", "settings.minTxRate", "from 0 to 4294967295"),
        ("{\"pool\": \"uplink\", \"owner\": \"vm-1\", \"count\": 1e30}", "count", "from 1 to 64"),
        ("{\"pool\": \"uplink\", \"owner\": \"vm-1\", \"count\": 0}", "count", "from 1 to 64"),
        ("{\"pool\": \"uplink\", \"owner\": \"vm-1\", \"count\": 1.5}", "count", "from 1 to 64"),
        ("{\"pool\": \"uplink\", \"owner\": \"vm-1\", \"ttlSeconds\": -1}", "ttlSeconds", "from 1 to 31622400"),
        ("{\"pool\": \"uplink\", \"owner\": \"vm-1\", \"ttlSeconds\": 1e300}", "ttlSeconds", "from 1 to 31622400"),
        ("{\"pool\": \"uplink\", \"owner\": \"vm-1\", \"numaNode\": -2}", "numaNode", "0 or more"),
    ])
    func outOfRangeAcquireNamesTheFieldAndRange(body: String, field: String, range: String) async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        try await f.app().test(.router) { client in
            try await client.execute(uri: "/v1/leases", method: .post, body: ByteBuffer(string: body)) { r in
                Self.outOfRange(r, field: field, range: range)
            }
        }
        #expect(await engine.leases().isEmpty)
        await engine.close()
    }

    @Test func outOfRangeRenewNumVFsAndVFSettingsNameTheFieldAndRange() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        try await f.app().test(.router) { client in
            let id = try await client.execute(uri: "/v1/leases", method: .post,
                                              body: jsonBody(["pool": "uplink", "owner": "vm-1", "ttlSeconds": 600])) { r in
                #expect(r.status == .created)
                return r.body.json["id"] as? String ?? ""
            }
            for ttl in ["-1", "0", "31622401", "1e30", "99999999999999999999"] {
                try await client.execute(uri: "/v1/leases/\(id)/renew", method: .post, body: ByteBuffer(string: "{\"ttlSeconds\": \(ttl)}")) { r in
                    Self.outOfRange(r, field: "ttlSeconds", range: "from 1 to 31622400")
                }
            }
            for (body, field, range) in [
                ("{\"numvfs\": -1}", "numvfs", "0 or more"),
                ("{\"numvfs\": 1e30}", "numvfs", "0 or more"),
                ("{\"numvfs\": 2, \"timeoutSeconds\": 0}", "timeoutSeconds", "from 1 to 3600"),
                ("{\"numvfs\": 2, \"timeoutSeconds\": 99999999999999999999}", "timeoutSeconds", "from 1 to 3600"),
            ] {
                try await client.execute(uri: "/v1/pfs/ens4f1np1/numvfs", method: .put, body: ByteBuffer(string: body)) { r in
                    Self.outOfRange(r, field: field, range: range)
                }
            }
            for (body, field, range) in [
                ("{\"vlan\": 99999999999999999999}", "vlan", "from 0 to 4094"),
                ("{\"vlan\": 10, \"qos\": 1e30}", "qos", "from 0 to 7"),
                ("{\"maxTxRate\": -5, \"force\": true}", "maxTxRate", "from 0 to 4294967295"),
            ] {
                try await client.execute(uri: "/v1/pfs/ens4f1np1/vfs/0", method: .patch, body: ByteBuffer(string: body)) { r in
                    Self.outOfRange(r, field: field, range: range)
                }
            }
        }
        await engine.close()
    }

    /// Path parameters are percent-decoded (RFC 3986: `%3A` and `:` are the same segment), as HTTP
    /// clients send a PCI address's colons; found by Tests/API/schemathesis.sh, where they were 400.
    @Test func percentEncodedPathParametersAreDecoded() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        try await f.app().test(.router) { client in
            // The VF is in no quarantine: 409 for the decoded address, as for the plain one.
            for path in ["/v1/vfs/0000:3b:01.0/unquarantine", "/v1/vfs/0000%3A3b%3A01.0/unquarantine", "/v1/vfs/0000%3a3b%3a01.0/unquarantine"] {
                try await client.execute(uri: path, method: .post) { r in
                    #expect(r.status.code != 400, "\(path): \(r.body.text)")
                    #expect(!(r.body.json["detail"] as? String ?? "").contains("%"), "\(path): \(r.body.text)")
                }
            }
            try await client.execute(uri: "/v1/pfs/0000%3A3b%3A00.0/vfs/0", method: .patch, body: jsonBody(["trust": false, "force": true])) { r in
                #expect(r.status == .ok, "\(r.body.text)")
            }
            try await client.execute(uri: "/v1/leases/l%2D0123456789abcdef", method: .get) { r in
                #expect(r.status == .notFound, "\(r.body.text)")
            }
            // A malformed escape stays as sent, and is refused as the text it is.
            try await client.execute(uri: "/v1/vfs/0000%ZZ3b/unquarantine", method: .post) { r in
                #expect(r.status == .badRequest, "\(r.body.text)")
            }
        }
        await engine.close()
    }

    /// A driver refusing the values a request asked for is the caller's to change: 422 with the
    /// problem's code (kernel-refused, unsupported) and what to ask instead, not a 5xx; found by
    /// Tests/API/schemathesis.sh (`{"minTxRate": N}` above an ice VF's max_tx_rate answered 500).
    @Test func driverRefusingTheRequestedValuesIs422() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        try await f.app().test(.router) { client in
            // ens1f0 (ice) VF 5 is in no pool; ice refuses a min_tx_rate above the VF's max_tx_rate (EINVAL).
            try await client.execute(uri: "/v1/pfs/ens1f0/vfs/5", method: .patch, body: jsonBody(["maxTxRate": 1000])) { r in
                #expect(r.status == .ok, "\(r.body.text)")
            }
            try await client.execute(uri: "/v1/pfs/ens1f0/vfs/5", method: .patch, body: jsonBody(["minTxRate": 2000])) { r in
                #expect(r.status == .unprocessableContent, "\(r.body.text)")
                #expect(r.headers[.contentType] == "application/problem+json")
                #expect(r.body.json["code"] as? String == "kernel-refused")
                #expect(r.body.json["status"] as? Int == 422)
                #expect((r.body.json["detail"] as? String ?? "").contains("rejects min_tx_rate (EINVAL"), "\(r.body.text)")
            }
            // igb (eno1, protected: force) has no VF link state (EOPNOTSUPP).
            try await client.execute(uri: "/v1/pfs/eno1/numvfs", method: .put, body: jsonBody(["numvfs": 2, "force": true])) { r in
                #expect(r.status == .ok, "\(r.body.text)")
            }
            try await client.execute(uri: "/v1/pfs/eno1/vfs/0", method: .patch, body: jsonBody(["linkState": "enable", "force": true])) { r in
                #expect(r.status == .unprocessableContent, "\(r.body.text)")
                #expect(r.body.json["code"] as? String == "unsupported")
                #expect((r.body.json["detail"] as? String ?? "").contains("EOPNOTSUPP"), "\(r.body.text)")
            }
        }
        #expect(ProblemMapping.status(for: SRIOVError(.kernelRefused, "cannot probe drivers: EIO", cause: .errno(Errno.EIO))) == .internalServerError)
        #expect(ProblemMapping.status(for: SRIOVError(.unsupported, "newer journal format")) == .notImplemented)
        await engine.close()
    }

    static func outOfRange(_ r: TestResponse, field: String, range: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == .badRequest, "\(r.body.text)", sourceLocation: sourceLocation)
        #expect(r.headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
        #expect(r.body.json["code"] as? String == "invalid-argument", sourceLocation: sourceLocation)
        let detail = r.body.json["detail"] as? String ?? ""
        #expect(detail.hasPrefix("invalid \(field) ") && detail.contains(range) && !detail.contains("not valid JSON"),
                "detail: \(detail)", sourceLocation: sourceLocation)
    }
}
