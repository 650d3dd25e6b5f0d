import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SRIOVCore
import SRIOVLeasing
import SRIOVService
import Testing

/// `POST /v1/pfs/{pf}/drain`, `POST /v1/pfs/{pf}/undrain`, and PF health in `GET /v1/pools` and
/// `/metrics`, on the simulated host with the sample configuration (pool uplink: ens1f0 VFs 0-3 and
/// ens4f0np0 VFs 0-3).
@Suite("API v1: PF drain and PF health")
struct PFDrainRoutesTests {
    @Test func drainAndUndrainAPFWithoutLeases() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        try await f.app().test(.router) { client in
            // An empty body drains with the defaults.
            try await client.execute(uri: "/v1/pfs/ens1f0/drain", method: .post) { r in
                #expect(r.status == .ok, "\(r.body.text)")
                #expect(r.body.json["state"] as? String == "drained")
                #expect(r.body.json["pf"] as? String == "0000:3b:00.0")
                #expect(r.body.json["interface"] as? String == "ens1f0")
                #expect(r.body.json["evicted"] as? [String] == [])
            }
            try await client.execute(uri: "/v1/pools", method: .get) { r in
                let pools = r.body.json["pools"] as? [[String: Any]] ?? []
                let uplink = pools.first { $0["name"] as? String == "uplink" }
                #expect(uplink?["pfsDraining"] as? Int == 1, "\(uplink ?? [:])")
                #expect(uplink?["requireLink"] as? String == "up")
                let links = uplink?["pfLinks"] as? [[String: Any]] ?? []
                #expect(links.map { $0["interface"] as? String } == ["ens1f0", "ens4f0np0"])
                #expect(links.map { $0["draining"] as? Bool } == [true, false])
                #expect(links.map { $0["carrier"] as? Bool } == [true, true])
            }
            try await client.execute(uri: "/v1/pfs/0000:3b:00.0/undrain", method: .post) { r in
                #expect(r.status == .ok, "\(r.body.text)")
                #expect(r.body.json["state"] as? String == "in-service")
            }
        }
        #expect(await engine.drainingPFs.isEmpty)
        let actions = await engine.auditLog().map(\.action).filter { $0.hasPrefix("pf.") }
        #expect(actions == ["pf.drain", "pf.drain", "pf.undrain"])
        await engine.close()
    }

    @Test func aDrainWithALeaseIsRefusedAtTheDeadlineOrEvicts() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-d"))
        let pf = try #require(lease.vfs.first?.pfInterface)
        try await f.app().test(.router) { client in
            try await client.execute(uri: "/v1/pfs/\(pf)/drain", method: .post, body: jsonBody(["deadlineSeconds": 0])) { r in
                PFRoutesTests.problem(r, 409, "busy", "the drain's deadline passed with lease \(lease.id) (owner vm-d) still on it")
            }
            try await client.execute(uri: "/v1/pfs/\(pf)/drain", method: .post, body: jsonBody(["deadlineSeconds": 0, "evict": true])) { r in
                #expect(r.status == .ok, "\(r.body.text)")
                #expect(r.body.json["evicted"] as? [String] == [lease.id.value])
            }
        }
        #expect(await engine.leases().isEmpty)
        await engine.close()
    }

    @Test(arguments: [
        ("ens1f0", #"{"deadlineSeconds": -1}"#, 400, "invalid-argument", "deadlineSeconds"),
        ("ens1f0", #"{"deadlineSeconds": 86401}"#, 400, "invalid-argument", "deadlineSeconds"),
        ("ens1f0", #"{"deadline": 5}"#, 400, "invalid-argument", "deadline"),
        ("ens1f0", #"{"evict": "yes"}"#, 400, "invalid-argument", "evict"),
        ("nosuch0", #"{}"#, 404, "not-found", "nosuch0"),
        ("0000:3b:02.0", #"{}"#, 400, "invalid-argument", "is a VF"),
    ])
    func badDrainRequestsChangeNothing(pf: String, body: String, status: Int, code: String, detail: String) async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        try await f.app().test(.router) { client in
            try await client.execute(uri: "/v1/pfs/\(pf)/drain", method: .post, body: ByteBuffer(string: body)) { r in
                PFRoutesTests.problem(r, status, code, detail)
            }
        }
        #expect(await engine.drainingPFs.isEmpty)
        await engine.close()
    }

    @Test func aPFWithoutCarrierShowsInPoolsAndMetrics() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        try f.sim.setCarrier(InterfaceName("ens1f0")!, up: false)
        #expect(f.sim.pfLink(InterfaceName("ens1f0")!) == PFLinkState(carrier: false, operState: "down"))
        let metrics = ServiceMetrics()
        let app = Application(router: APIRoutes.router(slot: f.slot, metrics: metrics, access: ServiceFixture.rootAccess()))
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/pools", method: .get) { r in
                let pools = r.body.json["pools"] as? [[String: Any]] ?? []
                let uplink = pools.first { $0["name"] as? String == "uplink" }
                #expect(uplink?["pfsWithoutCarrier"] as? Int == 1, "\(uplink ?? [:])")
            }
            // A new lease goes to the PF with carrier.
            try await client.execute(uri: "/v1/leases", method: .post, body: jsonBody(["pool": "uplink", "owner": "vm-c"])) { r in
                #expect(r.status == .created, "\(r.body.text)")
                let vfs = r.body.json["vfs"] as? [[String: Any]] ?? []
                #expect(vfs.map { $0["pfInterface"] as? String } == ["ens4f0np0"], "\(vfs)")
            }
            try await client.execute(uri: "/metrics", method: .get) { r in
                let text = r.body.text
                #expect(EventsAndMetricsTests.sample(text, #"sriovd_pool_pfs{pool="uplink",state="no_carrier"}"#) == 1, "\(text)")
                #expect(EventsAndMetricsTests.sample(text, #"sriovd_pool_pfs{pool="uplink",state="total"}"#) == 2)
                #expect(EventsAndMetricsTests.sample(text, #"sriovd_pf_carrier{pf="ens1f0"}"#) == 0)
                #expect(EventsAndMetricsTests.sample(text, #"sriovd_pf_carrier{pf="ens4f0np0"}"#) == 1)
            }
        }
        try f.sim.setCarrier(InterfaceName("ens1f0")!, up: true)
        #expect(f.sim.pfLink(InterfaceName("ens1f0")!).hasCarrier)
        await engine.close()
    }
}
