import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SRIOVCore
import SRIOVLeasing
import SRIOVService
import Testing

/// `GET /v1/leases/{id}/stats` and the VF counters in `/metrics`, over the simulated host.
@Suite("VF counters: the lease stats route and /metrics")
struct VFStatsTests {
    static let counters = VFCounters(rxPackets: 1_200, txPackets: 800, rxBytes: 1_800_000, txBytes: 96_000, broadcast: 7,
                                     multicast: 31, rxDropped: 2, txDropped: nil)

    /// One uplink lease (root), its VF's counters set on the simulated PF.
    static func leaseWithTraffic(_ f: ServiceFixture, _ client: some TestClientProtocol, owner: String = "vm-s") async throws -> (id: String, vf: LeasedVF) {
        let id = try await client.execute(uri: "/v1/leases", method: .post, body: jsonBody(["pool": "uplink", "owner": owner])) { r in
            #expect(r.status == .created)
            return r.body.json["id"] as? String ?? ""
        }
        let engine = try #require(f.slot.engine)
        let vf = try #require(try await engine.lease(LeaseID(parsing: id)).vfs.first)
        try f.sim.setVFStats(counters, vf: vf.index, pf: try #require(vf.pfInterface))
        return (id, vf)
    }

    @Test func theRouteReturnsTheCountersReadFromThePF() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        try await f.app().test(.router) { client in
            let (id, vf) = try await Self.leaseWithTraffic(f, client)
            try await client.execute(uri: "/v1/leases/\(id)/stats", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType] == "application/json")
                let json = r.body.json
                #expect(json["lease"] as? String == id && json["owner"] as? String == "vm-s" && json["pool"] as? String == "uplink")
                #expect(json["readAt"] is Double)
                let vfs = try #require(json["vfs"] as? [[String: Any]])
                #expect(vfs.count == 1)
                #expect(vfs[0]["pciAddress"] as? String == vf.pciAddress.description)
                #expect(vfs[0]["pf"] as? String == vf.pfInterface?.name && vfs[0]["index"] as? Int == vf.index)
                let c = try #require(vfs[0]["counters"] as? [String: Any])
                #expect(c["rxPackets"] as? Int == 1_200 && c["txPackets"] as? Int == 800)
                #expect(c["rxBytes"] as? Int == 1_800_000 && c["txBytes"] as? Int == 96_000)
                #expect(c["broadcast"] as? Int == 7 && c["multicast"] as? Int == 31 && c["rxDropped"] as? Int == 2)
                // Not reported: null, never 0, and the note says which.
                #expect(c["txDropped"] is NSNull, "\(c)")
                #expect(vfs[0]["note"] as? String == "the kernel did not report tx dropped")
            }
            // Traffic moves the counters: the next call reads them again.
            try f.sim.setVFStats(.zero, vf: vf.index, pf: try #require(vf.pfInterface))
            try await client.execute(uri: "/v1/leases/\(id)/stats", method: .get) { r in
                let vfs = r.body.json["vfs"] as? [[String: Any]] ?? []
                #expect((vfs.first?["counters"] as? [String: Any])?["rxPackets"] as? Int == 0)
                #expect(vfs.first?["note"] == nil)
            }
            try await client.execute(uri: "/v1/leases/l-0123456789abcdef/stats", method: .get) { r in
                AuthorizationTests.problem(r, 404, "not-found", ["l-0123456789abcdef"])
            }
            try await client.execute(uri: "/v1/leases/nope/stats", method: .get) { r in
                AuthorizationTests.problem(r, 400, "invalid-argument", ["invalid lease id 'nope'"])
            }
            try await client.execute(uri: "/v1/leases/\(id)/stats", method: .delete) { r in #expect(r.status.code == 405) }
        }
        await engine.close()
    }

    @Test func onlyTheLeasesTenantOrAnAdminSeesItsCounters() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        try await f.app(access: AuthorizationTests.access(uid: 1000)).test(.router) { nfv in
            try await f.app(access: AuthorizationTests.access(uid: 1001)).test(.router) { lab in
                try await f.app(access: AuthorizationTests.access(uid: 1002)).test(.router) { ops in
                    try await f.app(access: AuthorizationTests.access(uid: 1500)).test(.router) { stranger in
                        let (id, _) = try await Self.leaseWithTraffic(f, nfv)
                        try await nfv.execute(uri: "/v1/leases/\(id)/stats", method: .get) { r in
                            #expect(r.status == .ok)
                            #expect(((r.body.json["vfs"] as? [[String: Any]])?.first?["counters"] as? [String: Any])?["rxPackets"] as? Int == 1_200)
                        }
                        try await lab.execute(uri: "/v1/leases/\(id)/stats", method: .get) { r in
                            AuthorizationTests.problem(r, 403, "forbidden", ["tenant lab may not show lease \(id): it was acquired by another tenant"])
                        }
                        try await ops.execute(uri: "/v1/leases/\(id)/stats", method: .get) { r in #expect(r.status == .ok) }
                        try await stranger.execute(uri: "/v1/leases/\(id)/stats", method: .get) { r in
                            AuthorizationTests.problem(r, 403, "forbidden", ["uid 1500 (gid 1500) is in no tenant"])
                        }
                    }
                }
            }
        }
        await engine.close()
    }

    static func sample(_ text: String, _ series: String) -> String? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") { return String(line.dropFirst(series.count + 1)) }
        return nil
    }

    @Test func metricsShowLeasedVFsCountersReadOncePerInterval() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        let metrics = ServiceMetrics(vfStatsInterval: .seconds(3600))
        let app = Application(router: APIRoutes.router(slot: f.slot, metrics: metrics, access: ServiceFixture.rootAccess()))
        try await app.test(.router) { client in
            let (id, vf) = try await Self.leaseWithTraffic(f, client, owner: "vm-q:1")
            let pf = try #require(vf.pfInterface)
            let labels = #"{pool="uplink",lease="\#(id)",owner="vm-q:1",pf="\#(pf)",vf="\#(vf.index)"}"#
            // Concurrent scrapes: one read of the PFs between them.
            let texts = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<4 {
                    group.addTask { try await client.execute(uri: "/metrics", method: .get) { r in r.body.text } }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(await metrics.vfStats?.reads == 1)
            for text in texts {
                #expect(Self.sample(text, "sriovd_vf_rx_packets_total" + labels) == "1200", "\(text)")
                #expect(Self.sample(text, "sriovd_vf_tx_bytes_total" + labels) == "96000")
                #expect(Self.sample(text, "sriovd_vf_rx_multicast_packets_total" + labels) == "31")
                #expect(Self.sample(text, "sriovd_vf_rx_dropped_packets_total" + labels) == "2")
                // Not reported by the kernel: no sample rather than 0.
                #expect(!text.contains("sriovd_vf_tx_dropped_packets_total{"))
                #expect(text.contains("# TYPE sriovd_vf_rx_bytes_total counter\n"))
                #expect(text.contains("sriovd_pool_vfs{pool=\"uplink\",state=\"leased\"} 1"))
            }
            // Within the interval the cached read serves, even after the counters moved.
            try f.sim.setVFStats(.zero, vf: vf.index, pf: pf)
            try await client.execute(uri: "/metrics", method: .get) { r in
                #expect(Self.sample(r.body.text, "sriovd_vf_rx_packets_total" + labels) == "1200")
            }
            #expect(await metrics.vfStats?.reads == 1)
        }
        await engine.close()
    }

    @Test func anExpiredIntervalReadsAgainAndReleasedLeasesLeave() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        let metrics = ServiceMetrics(vfStatsInterval: .zero)
        let app = Application(router: APIRoutes.router(slot: f.slot, metrics: metrics, access: ServiceFixture.rootAccess()))
        try await app.test(.router) { client in
            let (id, vf) = try await Self.leaseWithTraffic(f, client)
            let pf = try #require(vf.pfInterface)
            let series = #"sriovd_vf_rx_bytes_total{pool="uplink",lease="\#(id)",owner="vm-s",pf="\#(pf)",vf="\#(vf.index)"}"#
            try await client.execute(uri: "/metrics", method: .get) { r in #expect(Self.sample(r.body.text, series) == "1800000") }
            try f.sim.setVFStats(VFCounters(rxBytes: 1_900_000), vf: vf.index, pf: pf)
            try await client.execute(uri: "/metrics", method: .get) { r in
                #expect(Self.sample(r.body.text, series) == "1900000")
                #expect(!r.body.text.contains("sriovd_vf_rx_packets_total{"))
            }
            try await client.execute(uri: "/v1/leases/\(id)", method: .delete) { r in #expect(r.status == .ok) }
            try await client.execute(uri: "/metrics", method: .get) { r in #expect(!r.body.text.contains("sriovd_vf_")) }
            #expect(await metrics.vfStats?.reads == 3)
        }
        await engine.close()
    }

    @Test func withoutVFStatsMetricsHasNoVFSeries() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        let metrics = ServiceMetrics(vfStatsInterval: nil)
        let app = Application(router: APIRoutes.router(slot: f.slot, metrics: metrics, access: ServiceFixture.rootAccess()))
        try await app.test(.router) { client in
            _ = try await Self.leaseWithTraffic(f, client)
            try await client.execute(uri: "/metrics", method: .get) { r in
                #expect(r.body.text.contains("sriovd_pool_vfs{") && !r.body.text.contains("sriovd_vf_"))
            }
        }
        await engine.close()
    }
}
