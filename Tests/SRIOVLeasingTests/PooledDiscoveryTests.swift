import Testing
import SRIOVConfig
import SRIOVCore
import SRIOVSimulator
import SRIOVTestSupport
@testable import SRIOVLeasing

/// An in-process lease command reads only its pools' PFs at start-up (`LeaseEngine.Discovery.pooled`):
/// the plan, the allocation and reconciliation must be what the whole host gives.
@Suite("Pooled discovery at start-up")
struct PooledDiscoveryTests {
    static let configs = [
        // By netdev and range, the shorthand, a protected PF, a pfs: entry.
        """
        protected_pfs: [ens1f1]
        pfs:
          - pf: ens4f0np0
            num_vfs: 4
        pools:
          - name: uplink
            selectors:
              - vfs: "ens1f0#0-3"
              - pf: ens4f0np0
                range: 1-2
        """,
        // By PCI address of the PF, explicit VFs, and a NIC without SR-IOV leased whole.
        """
        pools:
          - name: a
            selectors:
              - pf: "0000:3b:00.1"
          - name: b
            selectors:
              - pci: ["0000:af:00.2", "0000:af:00.3"]
          - name: whole
            selectors:
              - devices: ["0000:5e:00.0"]
        """,
    ]

    func simulated(_ dir: TempDirectory) throws -> SimulatedHost {
        try SimulatedHost.create(directory: dir.path + "/host", spec: .standard())
    }

    @Test(arguments: configs)
    func theScopedInventoryResolvesToTheWholeHostsPlan(yaml: String) throws {
        let dir = try TempDirectory("pooled-plan")
        let sim = try simulated(dir)
        let config = try SRIOVConfig.parse(yaml: yaml, source: "t.yaml")
        let scope = try #require(config.discoveryScope)
        let whole = try sim.inventory()
        let scoped = try sim.inventory(scope: scope)
        #expect(scoped.pfs.count < whole.pfs.count)
        #expect(try config.resolve(against: scoped) == config.resolve(against: whole))
        // Every PF read is read as the whole discovery reads it, every group whole, the host's facts the same.
        for pf in scoped.pfs { #expect(whole.pfs.contains(pf), "\(pf.pciAddress)") }
        for function in scoped.functions { #expect(whole.functions.contains(function)) }
        for group in scoped.host.iommuGroups { #expect(whole.host.group(group.id) == group, "group \(group.id)") }
        #expect(scoped.host.managementDevices == whole.host.managementDevices)
        #expect(scoped.host.iommuCommandLine == whole.host.iommuCommandLine && scoped.host.vfioPCILoaded == whole.host.vfioPCILoaded)
    }

    @Test func aSelectorAnyPFMayMatchScopesNothing() throws {
        let byVendor = try SRIOVConfig.parse(yaml: """
            pools:
              - name: p
                selectors:
                  - vendor_device: "8086:1889"
            """, source: "t.yaml")
        #expect(byVendor.discoveryScope == nil)
    }

    /// A name that is not the netdev of a PCI device reads the whole host (and the configuration's
    /// error is the whole host's).
    @Test func anUnknownNameReadsTheWholeHost() throws {
        let dir = try TempDirectory("pooled-unknown")
        let sim = try simulated(dir)
        #expect(try sim.inventory(scope: DiscoveryScope(interfaces: ["nosuch0"])) == sim.inventory())
        #expect(try sim.inventory(scope: DiscoveryScope(interfaces: ["../../etc"])) == sim.inventory())
    }

    @Test func anEngineStartedPooledLeasesAndReconcilesAsAWholeOne() async throws {
        let dir = try TempDirectory("pooled-engine")
        let sim = try simulated(dir)
        let host = LeaseEngine.Host(source: sim, control: sim, link: sim)
        let state = dir.path + "/state"
        let yaml = """
            pools:
              - name: uplink
                selectors:
                  - vfs: "ens1f0#0-1"
            """
        let config = try SRIOVConfig.parse(yaml: yaml, source: "t.yaml")
        let engine = try await LeaseEngine.start(stateDirectory: state, config: config, host: host, fsync: false, discovery: .pooled)
        #expect(try await engine.plan == config.resolve(against: sim.inventory()))
        let lease = try await engine.acquire(LeaseRequest(pool: "uplink", owner: "vm-1"))
        await engine.close()

        // The pool moves to another PF while the lease is held: the next pooled start still reads the
        // lease's PF (from the book), so reconciliation finds its VF on vfio-pci, not vanished.
        let moved = try SRIOVConfig.parse(yaml: """
            pools:
              - name: uplink
                selectors:
                  - vfs: "ens1f1#0-1"
            """, source: "t.yaml")
        let again = try await LeaseEngine.start(stateDirectory: state, config: moved, host: host, fsync: false, reconcile: false,
                                                discovery: .pooled)
        let report = await again.reconcile(using: await again.cachedInventory?.inventory)
        #expect(report.drift.isEmpty && report.errors.isEmpty, "\(report)")
        #expect(try await again.lease(lease.id).state == .active)
        _ = try await again.release(lease.id)
        await again.close()
    }
}
