import Testing
import SRIOVConfig
import SRIOVCore
@testable import SRIOVLeasing
import SRIOVFakeHost
import SRIOVTestSupport

/// A whole device (a PF leased whole, a NIC without SR-IOV) whose release failed is quarantined like a
/// VF, and `unquarantine` must be able to give it back: before, it looked only among VFs and answered
/// "VF ... does not exist", so an operator could not clear a whole device through sriovd.
@Suite("Unquarantine of whole devices")
struct WholeDeviceQuarantineTests {
    static func a(_ text: String) -> PCIAddress { PCIAddress(text)! }

    /// The standard host: its 82574L at 5e:00.0 (e1000e, no SR-IOV) and its ConnectX PF at af:00.1
    /// (mlx5_core, no VFs), each in a `devices:` pool.
    static let yaml = """
        protected_pfs: [eno1]
        pools:
          - name: nic
            selectors:
              - devices: ["0000:5e:00.0"]
          - name: whole
            selectors:
              - devices: ["0000:af:00.1"]
        """

    struct Case: Sendable, CustomStringConvertible {
        var pool: String
        var address: String
        var hostDriver: String
        var netdev: String
        var description: String { "\(pool) \(address)" }
    }

    static let cases = [
        Case(pool: "nic", address: "0000:5e:00.0", hostDriver: "e1000e", netdev: "enp94s0"),
        Case(pool: "whole", address: "0000:af:00.1", hostDriver: "mlx5_core", netdev: "ens4f1np1"),
    ]

    /// Leases the case's device and releases it with the host driver's probe refused: the device ends
    /// up quarantined, off vfio-pci, with its host driver not bound.
    func quarantined(_ c: Case) async throws -> (LeaseFixture, LeaseEngine) {
        let f = try LeaseFixture(yaml: Self.yaml)
        let engine = try await f.engine()
        let address = Self.a(c.address)
        let lease = try await engine.acquire(LeaseRequest(pool: c.pool, owner: "vm-1"))
        #expect(lease.vfs.map(\.pciAddress) == [address])
        f.fake.failNext(.probe(address), errno: Errno.EIO)
        _ = try await engine.release(lease.id)
        #expect(await engine.leases().isEmpty)
        let entry = try #require(await engine.currentBook.quarantine[c.address])
        #expect(entry.reason.contains("release of lease \(lease.id) failed") && entry.lease == lease.id)
        let status = try #require(try f.fake.device(address))
        #expect(status.driver == nil, "the refused probe left it unbound")
        await #expect {
            _ = try await engine.acquire(LeaseRequest(pool: c.pool, owner: "vm-2"))
        } throws: { e in
            (e as? SRIOVError)?.code == .busy && (e as? SRIOVError)?.message.contains("quarantined") == true
        }
        return (f, engine)
    }

    @Test(arguments: cases)
    func unquarantineRebindsTheHostDriverAndReturnsItToItsPool(_ c: Case) async throws {
        let (f, engine) = try await quarantined(c)
        let address = Self.a(c.address)
        try await engine.unquarantine(address, requestedBy: "operator")
        let status = try #require(try f.fake.device(address))
        #expect(status.driver == c.hostDriver && status.driverOverride == nil)
        let netdevs = try f.fake.inventory().wholeDeviceCandidates[address]?.interfaces.map(\.name)
        #expect(netdevs == [c.netdev], "its netdev is back")
        #expect(!(await engine.currentBook.isQuarantined(address)))
        #expect(await engine.auditLog().contains { $0.action == "vf.unquarantine" && $0.target == c.address && $0.who == "operator" })
        #expect(try await f.invariants(engine).isEmpty)
        // Leasable again.
        let again = try await engine.acquire(LeaseRequest(pool: c.pool, owner: "vm-2"))
        #expect(again.vfs.map(\.pciAddress) == [address])
        #expect(try f.fake.device(address)?.driver == "vfio-pci")
        await engine.close()
    }

    /// The operator already put the host driver back by hand: unquarantine checks and leaves it bound,
    /// without unbinding it (which would bounce its netdev).
    @Test(arguments: cases)
    func aDeviceAlreadyBackOnItsHostDriverIsNotTouched(_ c: Case) async throws {
        let (f, engine) = try await quarantined(c)
        let address = Self.a(c.address)
        try f.fake.writeDriverOverride(nil, device: address)
        try f.fake.probe(address)
        #expect(try f.fake.device(address)?.driver == c.hostDriver)
        f.fake.clearWrites()
        try await engine.unquarantine(address)
        #expect(f.fake.writes.isEmpty, "\(f.fake.writes)")
        #expect(!(await engine.currentBook.isQuarantined(address)))
        await engine.close()
    }

    /// The probe fails again: the device stays quarantined, and the error says so.
    @Test(arguments: cases)
    func aFailedReturnKeepsItQuarantined(_ c: Case) async throws {
        let (f, engine) = try await quarantined(c)
        let address = Self.a(c.address)
        f.fake.failNext(.probe(address), errno: Errno.EIO)
        await #expect {
            try await engine.unquarantine(address)
        } throws: { e in
            let e = e as! SRIOVError
            return e.message.contains("device \(c.address) stays quarantined: the scrub failed") && e.message.contains("EIO")
        }
        #expect(await engine.currentBook.isQuarantined(address))
        await engine.close()
    }

    /// An address that is neither a VF nor a device is refused, and stays quarantined.
    @Test func aVanishedAddressStaysQuarantined() async throws {
        let f = try LeaseFixture(yaml: Self.yaml)
        let engine = try await f.engine()
        let gone = Self.a("0000:7f:00.0")
        try await engine.record([.quarantined(vf: gone, reason: "test", lease: nil)])
        await #expect {
            try await engine.unquarantine(gone)
        } throws: { e in
            let e = e as! SRIOVError
            return e.code == .notFound && e.message.contains("neither a VF nor a device on this host now; it stays quarantined (test)")
        }
        #expect(await engine.currentBook.isQuarantined(gone))
        await engine.close()
    }
}
