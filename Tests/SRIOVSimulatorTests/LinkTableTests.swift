import Foundation
import Testing
import SRIOVCore
import SRIOVTestSupport
@testable import SRIOVSimulator

/// The simulated netlink state: one shared-memory table per PF, shared by every process (here: by
/// several host objects, each with its own mappings, as separate processes would have).
@Suite("Simulated netlink tables")
struct LinkTableTests {
    let dir: TempDirectory
    let host: SimulatedHost

    init() throws {
        dir = try TempDirectory("simlinks")
        host = try SimulatedHost.create(directory: dir.path + "/host", spec: .standard())
    }

    let pf = InterfaceName("ens1f0")!

    func state(_ h: SimulatedHost, _ vf: Int) async throws -> VFState? {
        try await h.readVFs(pf: pf).vf(vf)
    }

    @Test func settingsAreSeenByEveryMappingAtOnce() async throws {
        let other = try SimulatedHost.open(directory: host.directory)
        _ = try await state(other, 2)   // mapped before the change
        let mac = try MACAddress(parsing: "02:00:00:00:00:07")
        try await host.apply(.mac(mac), vf: 2, pf: pf)
        try await host.apply(.vlan(try VLAN(id: 100, qos: 3, proto: .dot1AD)), vf: 2, pf: pf)
        let seen = try #require(try await state(other, 2))
        #expect(seen.mac == mac && seen.vlan.id == 100 && seen.vlan.qos == 3 && seen.vlan.proto == .dot1AD)
        #expect(try await state(other, 1)?.mac == .zero)
    }

    @Test func aVFCountChangeRetiresTheTableOtherMappingsHold() async throws {
        let other = try SimulatedHost.open(directory: host.directory)
        let before = try await other.readVFs(pf: pf).numVFs
        #expect(before > 3)
        try host.writeNumVFs(0, pf: PCIAddress("0000:3b:00.0")!)
        try host.writeNumVFs(3, pf: PCIAddress("0000:3b:00.0")!)
        #expect(try await other.readVFs(pf: pf).numVFs == 3)
        try await other.apply(.trust(true), vf: 1, pf: pf)
        #expect(try await state(host, 1)?.trust == true)
    }

    @Test func aRebuiltHostRetiresTheOldTables() async throws {
        let old = try SimulatedHost.open(directory: host.directory)
        try await old.apply(.trust(true), vf: 0, pf: pf)
        _ = try SimulatedHost.create(directory: host.directory, spec: .standard())
        #expect(try await state(old, 0)?.trust == false)
    }

    @Test func perPFTextFilesAreConverted() async throws {
        try await host.apply(.spoofCheck(false), vf: 4, pf: pf)
        let before = try host.loadLinks()
        let netlink = host.directory + "/netlink"
        try FileManager.default.removeItem(atPath: netlink)
        try FileManager.default.createDirectory(atPath: netlink, withIntermediateDirectories: true)
        for (name, link) in before.pfs {
            try (LinkTable.header + "\n" + LinkTable.render(name, link)).write(toFile: "\(netlink)/\(name).state", atomically: true, encoding: .utf8)
        }
        let reopened = try SimulatedHost.open(directory: host.directory)
        #expect(try reopened.loadLinks() == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: netlink).allSatisfy { $0.hasSuffix(".table") })
    }

    /// A writer killed after filling the spare slot but before the version store that commits it
    /// leaves the old settings: the half-written slot is never read.
    @Test func anUncommittedSlotIsNeverRead() async throws {
        let table = try #require(try host.linkTables.table(host.tablePath("ens1f0")))
        let record = table.base + LinkTableFile.headerSize + 2 * LinkTableFile.recordSize
        let version = record.load(as: UInt32.self)
        let spare = record + 8 + Int((version &+ 1) & 1) * LinkTableFile.slotSize
        for i in 0..<LinkTableFile.slotSize { spare.storeBytes(of: 0xAB, toByteOffset: i, as: UInt8.self) }
        #expect(try await state(host, 2) == VFState(index: 2))
        #expect(try await state(SimulatedHost.open(directory: host.directory), 2) == VFState(index: 2))
    }

    /// Readers never see half of a change while a writer keeps changing one VF.
    @Test func readersSeeWholeSettingsUnderConcurrentWrites() async throws {
        let a = VFState(index: 0, mac: try MACAddress(parsing: "02:00:00:00:00:0a"), vlan: try VLAN(id: 10, qos: 1, proto: .dot1Q),
                        spoofCheck: true, trust: false, linkState: .enable, minTxRate: 0, maxTxRate: 100)
        let b = VFState(index: 0, mac: try MACAddress(parsing: "02:00:00:00:00:0b"), vlan: try VLAN(id: 20, qos: 2, proto: .dot1AD),
                        spoofCheck: false, trust: true, linkState: .disable, minTxRate: 0, maxTxRate: 200)
        let writer = host
        let reader = try SimulatedHost.open(directory: host.directory)
        let torn = try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                for i in 0..<4000 {
                    try writer.withLinksLock { () throws(SRIOVError) in
                        guard var link = try writer.loadLink("ens1f0") else { return }
                        link.vfs[0] = i % 2 == 0 ? a : b
                        try writer.saveLink("ens1f0", link)
                    }
                }
                return 0
            }
            for _ in 0..<2 {
                group.addTask {
                    var torn = 0
                    for _ in 0..<4000 {
                        let seen = try #require(try reader.loadLink("ens1f0")).vfs[0]
                        if seen != a && seen != b && seen != VFState(index: 0) { torn += 1 }
                    }
                    return torn
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(torn == 0)
    }
}
