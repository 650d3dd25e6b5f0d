import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SRIOVAPI
@testable import SRIOVClient
import SRIOVCore
import SRIOVLeasing
import SRIOVService
import Testing

/// `PUT /v1/pfs/{pf}/numvfs`, `PATCH /v1/pfs/{pf}/vfs/{n}`, `POST /v1/vfs/{pci}/unquarantine` on the
/// simulated host with the sample configuration (eno1 is the management NIC and protected; ens1f0 VFs
/// 0-3 and ens4f0np0 VFs 0-3 are pool uplink, ens1f1 VFs 0-7 pool storage; ens4f1np1 is in no pool).
@Suite("API v1: PFs and VFs")
struct PFRoutesTests {
    /// What a refused request must leave alone: every PF's VF count and every VF's settings.
    struct HostSnapshot: Equatable {
        var numVFs: [String: Int]
        var settings: [String: [VFState]]

        init(_ f: ServiceFixture) async throws {
            let inventory = try f.sim.inventory()
            numVFs = Dictionary(uniqueKeysWithValues: inventory.pfs.map { ($0.displayName, $0.numVFs) })
            var settings: [String: [VFState]] = [:]
            for pf in inventory.pfs {
                guard let iface = pf.interfaces.first else { continue }
                settings[pf.displayName] = try await f.sim.readVFs(pf: iface).vfs
            }
            self.settings = settings
        }
    }

    static func problem(_ r: TestResponse, _ status: Int, _ code: String, _ detail: String,
                        sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status.code == status, "\(r.body.text)", sourceLocation: sourceLocation)
        #expect(r.headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
        #expect(r.body.json["code"] as? String == code, sourceLocation: sourceLocation)
        let text = r.body.json["detail"] as? String ?? ""
        #expect(text.contains(detail), "detail: \(text)", sourceLocation: sourceLocation)
    }

    @Test func numVFsChangeShowsInInventoryAndRebindsThePools() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        try await f.app().test(.router) { client in
            // ens4f1np1 has no VFs and no pfs: entry.
            try await client.execute(uri: "/v1/pfs/ens4f1np1/numvfs", method: .put, body: jsonBody(["numvfs": 3, "autoprobe": false])) { r in
                #expect(r.status == .ok, "\(r.body.text)")
                let json = r.body.json
                #expect(json["pf"] as? String == "0000:af:00.1")
                #expect(json["interface"] as? String == "ens4f1np1")
                #expect(json["before"] as? Int == 0)
                #expect(json["after"] as? Int == 3)
            }
            try await client.execute(uri: "/v1/inventory", method: .get) { r in
                let pfs = r.body.json["pfs"] as? [[String: Any]] ?? []
                let pf = pfs.first { ($0["pciAddress"] as? String) == "0000:af:00.1" }
                #expect(pf?["numVFs"] as? Int == 3, "\(pf ?? [:])")
                #expect((pf?["vfs"] as? [Any])?.count == 3)
            }
            // ens1f0 by PCI address, 8 -> 2 VFs: pool uplink keeps ens1f0 VFs 0-1 (+ ens4f0np0's 4).
            try await client.execute(uri: "/v1/pfs/0000:3b:00.0/numvfs", method: .put, body: jsonBody(["numvfs": 2])) { r in
                #expect(r.status == .ok, "\(r.body.text)")
                #expect(r.body.json["before"] as? Int == 8)
                #expect(r.body.json["after"] as? Int == 2)
                let warnings = r.body.json["warnings"] as? [String] ?? []
                #expect(warnings.contains { $0.contains("num_vfs 8") }, "\(warnings)")
            }
            try await client.execute(uri: "/v1/pools", method: .get) { r in
                let pools = r.body.json["pools"] as? [[String: Any]] ?? []
                let uplink = pools.first { $0["name"] as? String == "uplink" }
                #expect(uplink?["total"] as? Int == 6, "\(uplink ?? [:])")
                #expect(uplink?["free"] as? Int == 6)
            }
        }
        #expect(try f.sim.inventory().pfs.first { $0.displayName == "ens1f0" }?.numVFs == 2)
        let audit = await engine.auditLog().filter { $0.action == "pf.set-numvfs" }
        #expect(audit.map(\.result) == ["ok: 0 -> 3 VFs", "ok: 8 -> 2 VFs"])
        // A lease still works on the rebound pools.
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-after", count: 6))
        #expect(lease.vfs.count == 6)
        await engine.close()
    }

    @Test func numVFsIsRefusedWhileAVFOfThePFIsLeased() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        let lease = try await engine.acquire(LeaseRequest(pool: "storage", owner: "vm-1"))
        let before = try await HostSnapshot(f)
        try await f.app().test(.router) { client in
            try await client.execute(uri: "/v1/pfs/ens1f1/numvfs", method: .put, body: jsonBody(["numvfs": 16])) { r in
                Self.problem(r, 409, "busy", "cannot change the VF count from 8 to 16")
                #expect((r.body.json["detail"] as? String ?? "").contains(lease.id.value))
                #expect((r.body.json["detail"] as? String ?? "").contains("release it first (`sriovctl pf drain ens1f1` keeps new leases off the PF and waits for that), or pass --force"))
            }
        }
        #expect(try await HostSnapshot(f) == before)
        #expect(await engine.auditLog().contains { $0.action == "pf.set-numvfs" } == false)
        #expect(try await engine.check().broken == [])
        await engine.close()
    }

    /// An admin's `force` changes the count under a lease: the lease is marked lost (journaled before the
    /// write), the change is audited as forced, and the check names the broken promise.
    @Test func forcedNumVFsMarksTheLeasesOnThePFLost() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        let lease = try await engine.acquire(LeaseRequest(pool: "storage", owner: "vm-1"))
        try await f.app().test(.router) { client in
            try await client.execute(uri: "/v1/pfs/ens1f1/numvfs", method: .put, body: jsonBody(["numvfs": 4, "force": true])) { r in
                #expect(r.status == .ok, "\(r.body.text)")
                #expect(r.body.json["after"] as? Int == 4)
                let warnings = r.body.json["warnings"] as? [String] ?? []
                #expect(warnings.contains { $0.contains("marked lost: lease \(lease.id)") }, "\(warnings)")
            }
            try await client.execute(uri: "/v1/leases/\(lease.id)", method: .get) { r in
                #expect(r.body.json["condition"] as? String == "lost", "\(r.body.text)")
                #expect((r.body.json["problems"] as? [String] ?? []).contains { $0.contains("`pf set-numvfs 4` (from 8) forced by") })
            }
            try await client.execute(uri: "/v1/check", method: .get) { r in
                #expect(r.status == .ok)
                let broken = r.body.json["broken"] as? [String] ?? []
                #expect(broken.contains { $0.contains("lease \(lease.id) (owner vm-1) is lost") }, "\(broken)")
            }
        }
        let audit = await engine.auditLog().filter { $0.action == "pf.set-numvfs" }.map(\.result)
        #expect(audit == ["forced: 8 -> 4 VFs (lease \(lease.id) marked lost)", "ok: 8 -> 4 VFs"])
        // Released, what is left of it comes back; the book no longer vouches for a lost lease.
        _ = try await engine.release(lease.id)
        #expect(try await engine.check().broken == [])
        await engine.close()
    }

    @Test(arguments: [
        ("eno1", "{\"numvfs\": 2}", 403, "protected", "carries the host's default route"),
        ("0000:19:00.0", "{\"numvfs\": 2}", 403, "protected", "sriovd will not change the VF count"),
        ("ens9", "{\"numvfs\": 2}", 404, "not-found", "no network interface or SR-IOV PF named ens9"),
        ("0000:99:00.0", "{\"numvfs\": 2}", 404, "not-found", "no SR-IOV PF at 0000:99:00.0"),
        ("0000:3b:00.2", "{\"numvfs\": 2}", 404, "not-found", "no SR-IOV PF at 0000:3b:00.2"),
        ("ens1f0", "{\"numvfs\": ", 400, "invalid-argument", "invalid JSON body"),
        ("ens1f0", "{\"numvfs\": 2, \"numfvs\": 3}", 400, "invalid-argument", "numfvs: unknown field; known fields: numvfs, autoprobe, force, timeoutSeconds"),
        ("ens1f0", "{\"autoprobe\": false}", 400, "invalid-argument", "missing field numvfs"),
        ("ens1f0", "{\"numvfs\": \"two\"}", 400, "invalid-argument", "numvfs: expected an integer"),
        ("ens1f0", "{\"numvfs\": -1}", 400, "invalid-argument", "invalid numvfs -1: use an integer, 0 or more"),
        ("ens1f0", "{\"numvfs\": 65}", 400, "invalid-argument", "the PF supports at most 64 (sriov_totalvfs)"),
        ("ens1f0", "", 400, "invalid-argument", "empty body"),
    ])
    func badNumVFs(pf: String, body: String, status: Int, code: String, detail: String) async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        let before = try await HostSnapshot(f)
        try await f.app().test(.router) { client in
            try await client.execute(uri: "/v1/pfs/\(pf)/numvfs", method: .put, body: ByteBuffer(string: body)) { r in
                Self.problem(r, status, code, detail)
            }
        }
        #expect(try await HostSnapshot(f) == before)
        await engine.close()
    }

    @Test func numVFsOnTheManagementNICWithForce() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        try await f.app().test(.router) { client in
            try await client.execute(uri: "/v1/pfs/eno1/numvfs", method: .put, body: jsonBody(["numvfs": 1, "force": true])) { r in
                #expect(r.status == .ok, "\(r.body.text)")
                #expect(r.body.json["after"] as? Int == 1)
            }
        }
        #expect(try f.sim.inventory().pfs.first { $0.displayName == "eno1" }?.numVFs == 1)
        await engine.close()
    }

    @Test func vfSettingsAreAppliedAndReadBack() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        try await f.app().test(.router) { client in
            // ens1f0 VF 5 is in no pool.
            let body = jsonBody(["mac": "52:54:00:12:34:56", "vlan": 42, "qos": 3, "spoofCheck": false, "trust": true,
                                 "linkState": "enable", "maxTxRate": 1000])
            try await client.execute(uri: "/v1/pfs/ens1f0/vfs/5", method: .patch, body: body) { r in
                #expect(r.status == .ok, "\(r.body.text)")
                let json = r.body.json
                #expect(json["index"] as? Int == 5)
                #expect(json["mac"] as? String == "52:54:00:12:34:56")
                #expect(json["vlan"] as? Int == 42)
                #expect(json["qos"] as? Int == 3)
                #expect(json["trust"] as? Bool == true)
                #expect(json["spoofCheck"] as? Bool == false)
                #expect(json["linkState"] as? String == "enable")
                #expect(json["maxTxRate"] as? Int == 1000)
            }
            // VLAN 0 removes the VLAN.
            try await client.execute(uri: "/v1/pfs/0000:3b:00.0/vfs/5", method: .patch, body: jsonBody(["vlan": 0])) { r in
                #expect(r.status == .ok, "\(r.body.text)")
                #expect(r.body.json["vlan"] as? Int == 0)
            }
        }
        let state = try #require(try await f.sim.readVFs(pf: InterfaceName(parsing: "ens1f0")).vf(5))
        #expect(state.mac.description == "52:54:00:12:34:56" && state.vlan == .none && state.trust == true && state.maxTxRate == 1000)
        let audit = await engine.auditLog().filter { $0.action == "vf.set" }
        #expect(audit.count == 2 && audit.allSatisfy { $0.target == "0000:3b:00.0 (ens1f0) VF 5" && $0.result.hasPrefix("ok: ") })
        await engine.close()
    }

    @Test func vfSettingsOfALeasedOrPooledVFAreRefused() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        let lease = try await engine.acquire(LeaseRequest(pool: "storage", owner: "vm-1"))
        let leased = try #require(lease.vfs.first)
        let free = (0..<8).first { $0 != leased.index } ?? 0
        let before = try await HostSnapshot(f)
        try await f.app().test(.router) { client in
            try await client.execute(uri: "/v1/pfs/ens1f1/vfs/\(leased.index)", method: .patch, body: jsonBody(["vlan": 7])) { r in
                Self.problem(r, 409, "busy", "is leased by \(lease.id) (owner vm-1)")
            }
            try await client.execute(uri: "/v1/pfs/ens1f1/vfs/\(free)", method: .patch, body: jsonBody(["vlan": 7])) { r in
                Self.problem(r, 409, "busy", "is in pool storage")
            }
        }
        #expect(try await HostSnapshot(f) == before)
        await engine.close()
    }

    @Test(arguments: [
        ("ens1f0/vfs/5", "{\"vlan\": 4095}", 400, "invalid-argument", "invalid vlan 4095: use an integer from 0 to 4094 (0 for no VLAN; 4095 is reserved by 802.1Q)"),
        ("ens1f0/vfs/5", "{\"vlna\": 5}", 400, "invalid-argument",
         "vlna: unknown field; known fields: mac, vlan, qos, vlanProto, spoofCheck, trust, linkState, minTxRate, maxTxRate, queryRSS, force"),
        ("ens1f0/vfs/5", "{\"vlan\": 5", 400, "invalid-argument", "invalid JSON body"),
        ("ens1f0/vfs/5", "{\"qos\": 3}", 400, "invalid-argument", "qos and vlanProto go with vlan"),
        ("ens1f0/vfs/5", "{\"linkState\": \"up\"}", 400, "invalid-argument", "invalid VF link state 'up'"),
        ("ens1f0/vfs/5", "{\"mac\": \"01:00:5e:00:00:01\"}", 400, "invalid-argument", "01:00:5e:00:00:01"),
        ("ens1f0/vfs/5", "{\"minTxRate\": 500, \"maxTxRate\": 100}", 400, "invalid-argument", "min_tx_rate 500 is above max_tx_rate 100"),
        ("ens1f0/vfs/5", "{}", 400, "invalid-argument", "nothing to set"),
        ("ens1f0/vfs/5", "", 400, "invalid-argument", "empty body"),
        ("ens1f0/vfs/8", "{\"vlan\": 5}", 404, "not-found", "VF 8 does not exist: the PF has 8 VFs (0-7)"),
        ("ens1f0/vfs/x", "{\"vlan\": 5}", 400, "invalid-argument", "invalid VF index 'x'"),
        ("ens9/vfs/0", "{\"vlan\": 5}", 404, "not-found", "no network interface or SR-IOV PF named ens9"),
        ("eno1/vfs/0", "{\"vlan\": 5}", 403, "protected", "sriovd will not change VF settings on it"),
    ])
    func badVFSettings(path: String, body: String, status: Int, code: String, detail: String) async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        let before = try await HostSnapshot(f)
        try await f.app().test(.router) { client in
            try await client.execute(uri: "/v1/pfs/\(path)", method: .patch, body: ByteBuffer(string: body)) { r in
                Self.problem(r, status, code, detail)
            }
        }
        #expect(try await HostSnapshot(f) == before)
        #expect(await engine.auditLog().contains { $0.action == "vf.set" } == false)
        await engine.close()
    }

    /// `DELETE /v1/leases/{id}` says which VFs its release quarantined (`{}` when none), so a caller
    /// needs no `GET /v1/pools` for it; the lease document is the rest of the answer.
    @Test func releaseAnswersWithWhatItQuarantined() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        let clean = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-clean"))
        let drifted = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-q"))
        let vf = try #require(drifted.vfs.first).pciAddress
        try f.sim.unbind(vf)
        _ = await engine.reconcile()
        try await f.app().test(.router) { client in
            try await client.execute(uri: "/v1/leases/\(clean.id)", method: .delete) { r in
                #expect(r.status == .ok, "\(r.body.text)")
                #expect(r.body.json["id"] as? String == clean.id.value && r.body.json["attach"] != nil)
                #expect((r.body.json["quarantined"] as? [String: Any])?.isEmpty == true, "\(r.body.text)")
            }
            try await client.execute(uri: "/v1/leases/\(drifted.id)", method: .delete) { r in
                #expect(r.status == .ok, "\(r.body.text)")
                let quarantined = try #require(r.body.json["quarantined"] as? [String: Any], "\(r.body.text)")
                #expect(Array(quarantined.keys) == [vf.description])
                let entry = try #require(quarantined[vf.description] as? [String: Any])
                #expect(entry["lease"] as? String == drifted.id.value && !((entry["reason"] as? String) ?? "").isEmpty && entry["since"] is Double)
                // What the client makes of the same bytes.
                let released = try CompactJSONDecoder().decode(DaemonClient.ReleasedBody.self, from: Array(r.body.readableBytesView)).released
                #expect(released.lease.id == drifted.id && released.quarantined?[vf.description]?.lease == drifted.id)
            }
        }
        #expect(await engine.quarantine(heldBy: drifted.id).keys.sorted() == [vf.description])
        #expect(await engine.quarantine(heldBy: clean.id).isEmpty)
        await engine.close()
    }

    /// An answer from a sriovd older than `quarantined`: the client says it does not know (nil), and
    /// `sriovctl lease release` then asks for the pools.
    @Test func anOlderDaemonsReleaseAnswerHasNoQuarantineField() throws {
        let lease = #"{"id":"l-0123456789abcdef","owner":"o","pool":"p","request":{"pool":"p","owner":"o","count":1,"placement":"pack","settings":{}},"vfs":[],"state":"active","createdAt":1,"problems":[],"attach":{}}"#
        let released = try CompactJSONDecoder().decode(DaemonClient.ReleasedBody.self, from: Array(lease.utf8)).released
        #expect(released.lease.owner == "o" && released.quarantined == nil)
    }

    @Test func unquarantineScrubsAndReturnsTheVF() async throws {
        let f = try ServiceFixture()
        let engine = try await f.start()
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-q"))
        let vf = try #require(lease.vfs.first).pciAddress
        // Someone unbinds the VF from vfio-pci underneath the lease: drift, quarantined.
        try f.sim.unbind(vf)
        _ = await engine.reconcile()
        _ = try await engine.release(lease.id)
        #expect(await engine.currentBook.isQuarantined(vf))
        try await f.app().test(.router) { client in
            try await client.execute(uri: "/v1/vfs/\(vf)/unquarantine", method: .post) { r in
                #expect(r.status == .ok, "\(r.body.text)")
                #expect(r.body.json["vf"] as? String == vf.description)
                #expect(r.body.json["pool"] as? String == "uplink")
            }
            // Again: not quarantined any more.
            try await client.execute(uri: "/v1/vfs/\(vf)/unquarantine", method: .post) { r in
                Self.problem(r, 404, "not-found", "is not quarantined")
            }
            try await client.execute(uri: "/v1/vfs/3b:00/unquarantine", method: .post) { r in
                Self.problem(r, 400, "invalid-argument", "3b:00")
            }
        }
        #expect(await engine.currentBook.isQuarantined(vf) == false)
        #expect(await engine.auditLog().contains { $0.action == "vf.unquarantine" && $0.target == vf.description })
        await engine.close()
    }
}
