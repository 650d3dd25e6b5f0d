import Testing
import SRIOVCore
import SRIOVSimulator
import SRIOVTestSupport
@testable import SRIOVConfig

/// `devices:` naming a NIC without SR-IOV (issue 14, item 5): discovered apart from the PFs, pooled
/// whole like a PF with no VFs, and refused precisely when it cannot be.
@Suite("SRIOVConfig: NICs without SR-IOV in devices:")
struct WholeFunctionConfigTests {
    static func a(_ text: String) -> PCIAddress { PCIAddress(text)! }

    /// The standard host (its 82574L `enp94s0` at 5e:00.0 has no SR-IOV) plus a second NIC without
    /// SR-IOV, `enp96s0` at 60:00.0, that carries a default route.
    static let withManagementNIC: HostInventory = {
        var spec = SimulatedHostSpec.standard()
        spec.devices.append(.init(address: a("0000:60:00.0"), deviceID: "10d3", interface: "enp96s0", numaNode: 1,
                                  carriesDefaultRoute: true))
        return Hosts.inventory(spec)
    }()

    func plan(_ yaml: String, on inventory: HostInventory = Hosts.standard) throws(SRIOVError) -> PoolPlan {
        try SRIOVConfig.parse(yaml: yaml, source: "t.yaml").resolve(against: inventory)
    }

    func refusal(_ yaml: String, on inventory: HostInventory = Hosts.standard) -> String {
        do {
            let p = try plan(yaml, on: inventory)
            Issue.record("accepted: \(p.pools)")
            return ""
        } catch {
            #expect(error.code == .invalidArgument)
            return error.message
        }
    }

    @Test func discoveryListsTheNICApartFromThePFs() throws {
        let inventory = Hosts.standard
        let address = Self.a("0000:5e:00.0")
        #expect(!inventory.pfs.contains { $0.pciAddress == address })
        let nic = try #require(inventory.function(at: address))
        #expect(nic.driver == "e1000e" && nic.vendorID == "8086" && nic.deviceID == "10d3" && nic.classCode == "0x020000")
        #expect(nic.interfaces.map(\.name) == ["enp94s0"] && nic.numaNode?.value == 0 && !nic.isManagement)
        let group = try #require(nic.iommuGroup)
        #expect(inventory.host.group(group)?.members.map(\.pciAddress) == [address])
        // Bridges are never listed as functions; discovery names them so a config naming one is told so.
        #expect(inventory.functions.map(\.pciAddress) == [address])
        #expect(inventory.host.bridges == [Self.a("0000:00:00.0")])
        // Not a PF: `sriovctl pf` and pf: selectors do not see it.
        #expect(throws: SRIOVError.self) { try inventory.pf(named: "enp94s0") }
        // The management NIC is detected for functions without SR-IOV too.
        let management = try #require(Self.withManagementNIC.function(at: Self.a("0000:60:00.0")))
        #expect(management.isManagement)
        #expect(Self.withManagementNIC.host.managementDevices.contains(Self.a("0000:60:00.0")))
    }

    @Test func poolOfANICWithoutSRIOV() throws {
        let p = try plan("""
            pools:
              - name: nic
                selectors:
                  - devices: ["0000:5e:00.0"]
            """)
        #expect(p.pools["nic"] == [Self.a("0000:5e:00.0")])
        let pool = try #require(p.config(of: "nic"))
        #expect(pool.wholeDevices && pool.onRelease == .rebindHostDriver)
        #expect(p.warnings.isEmpty)
        // Beside a PF leased whole, in the same selector.
        let both = try plan("""
            pools:
              - name: nics
                selectors:
                  - devices: ["0000:5e:00.0", "0000:af:00.1"]
            """)
        #expect(both.pools["nics"] == [Self.a("0000:5e:00.0"), Self.a("0000:af:00.1")])
    }

    @Test func refusals() {
        #expect(refusal("""
            pools:
              - name: w
                selectors:
                  - devices: ["0000:60:00.0"]
            """, on: Self.withManagementNIC).contains("0000:60:00.0 (enp96s0) is the management NIC"))
        #expect(refusal("""
            pools:
              - name: w
                selectors:
                  - devices: ["0000:00:00.0"]
            """).contains("0000:00:00.0 is a PCI bridge, and bridges are never passed through"))
        let unknown = refusal("""
            pools:
              - name: w
                selectors:
                  - devices: ["0000:77:00.0"]
            """)
        #expect(unknown.contains("no SR-IOV PF or network function at 0000:77:00.0") && unknown.contains("fix the address"))
        #expect(refusal("""
            protected_pfs: [enp94s0]
            pools:
              - name: w
                selectors:
                  - devices: ["0000:5e:00.0"]
            """).contains("0000:5e:00.0 (enp94s0) is protected (protected_pfs[0])"))
        #expect(refusal("""
            pools:
              - name: a
                selectors:
                  - devices: ["0000:5e:00.0"]
              - name: b
                selectors:
                  - devices: ["0000:5e:00.0"]
            """).contains("is already in pool 'a'"))
        // It has no VFs: pf: and pfs: are refused with the way to lease it.
        #expect(refusal("""
            pools:
              - name: v
                selectors:
                  - pf: enp94s0
            """).contains("a NIC without SR-IOV (no VFs); lease it whole with devices: [\"0000:5e:00.0\"]"))
        #expect(refusal("""
            pfs:
              - pf: "0000:5e:00.0"
                num_vfs: 2
            """).contains("a NIC without SR-IOV"))
    }
}
