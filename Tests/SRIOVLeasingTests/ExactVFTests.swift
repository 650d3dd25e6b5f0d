import Foundation
import Testing
import SRIOVAPI
import SRIOVCore
import SRIOVLeasing

/// A request that names its VFs gets exactly those, or nothing with every refused VF named and why.
@Suite("Exact VFs")
struct ExactVFTests {
    @Test func namedVFsAreLeased() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        let wanted = [PCIAddress("0000:3b:02.2")!, PCIAddress("0000:3b:02.0")!]
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm1", count: 2, vfs: wanted))
        #expect(lease.vfs.map(\.pciAddress) == wanted)
        for vf in wanted { #expect(try f.vf(vf).driver == "vfio-pci") }
        #expect(try await f.invariants(engine).isEmpty)
        await engine.close()
    }

    @Test func refusalNamesEveryVFAndWhyAndReservesNothing() async throws {
        let f = try LeaseFixture()
        let engine = try await f.engine()
        let held = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm0", vfs: [PCIAddress("0000:3b:02.1")!]))
        let open = PCIAddress("0000:3b:0a.0")!
        await #expect {
            try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm1", count: 3,
                                                  vfs: [PCIAddress("0000:3b:02.0")!, PCIAddress("0000:3b:02.1")!, open]))
        } throws: { error in
            let m = (error as? SRIOVError)?.message ?? ""
            return m.contains("0000:3b:02.1 is leased (lease \(held.id))") && m.contains("\(open) is not in pool uplink (it is in pool open)")
                && !m.contains("0000:3b:02.0 is") && m.contains("Nothing was reserved")
        }
        #expect(await engine.leases().map(\.id) == [held.id])
        #expect(try f.vf(PCIAddress("0000:3b:02.0")!).driver != "vfio-pci")
        await engine.close()
    }

    @Test func bodyDecodingIsStrict() throws {
        func decode(_ json: String) throws -> LeaseRequest {
            try JSONDecoder().decode(AcquireBody.self, from: Data(json.utf8)).request(idempotencyKey: nil)
        }
        let r = try decode(#"{"pool":"uplink","owner":"vm1","vfs":["0000:3b:02.0","0000:3b:02.1"],"consumer":"pid:7@9"}"#)
        #expect(r.count == 2 && r.vfs?.count == 2 && r.consumer == .pid(7, startTime: 9))
        #expect(throws: SRIOVError.self) { try decode(#"{"pool":"uplink","owner":"vm1","vfs":["0000:3b:02.0"],"count":2}"#) }
        #expect(throws: SRIOVError.self) { try decode(#"{"pool":"uplink","owner":"vm1","vfs":["3b:02.x"]}"#) }
        #expect(throws: SRIOVError.self) { try decode(#"{"pool":"uplink","owner":"vm1","vfs":[]}"#) }
        #expect(throws: SRIOVError.self) { try decode(#"{"pool":"uplink","owner":"vm1","vfs":["0000:3b:02.0","0000:3b:02.0"]}"#) }
        #expect(throws: SRIOVError.self) { try decode(#"{"pool":"uplink","owner":"vm1","consumer":"vm:1"}"#) }
        #expect(throws: (any Error).self) { try decode(#"{"pool":"uplink","owner":"vm1","consumer":null}"#) }
    }
}
