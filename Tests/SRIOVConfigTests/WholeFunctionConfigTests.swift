import Testing
import SRIOVCore
import SRIOVSimulator
import SRIOVTestSupport
@testable import SRIOVConfig

/// `devices:` naming a NIC without SR-IOV (issue 14, item 5): discovered apart from the PFs, pooled
/// whole like a PF with no VFs, and refused precisely when it cannot be. The pool itself and the
/// refusals every whole device gets (protected, management NIC, two pools) are tested for it and for
/// a PF by the parameterised tests of `WholeDeviceConfigTests`.
@Suite("SRIOVConfig: NICs without SR-IOV in devices:")
struct WholeFunctionConfigTests {
    static func a(_ text: String) -> PCIAddress { WholeConfig.a(text) }

    func plan(_ yaml: String) throws(SRIOVError) -> PoolPlan { try WholeConfig.plan(yaml) }
    func refusal(_ yaml: String) -> String { WholeConfig.refusal(yaml) }

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
        let management = try #require(WholeConfig.withManagementNIC.function(at: Self.a("0000:60:00.0")))
        #expect(management.isManagement)
        #expect(WholeConfig.withManagementNIC.host.managementDevices.contains(Self.a("0000:60:00.0")))
    }

    @Test func aNICBesideAPFLeasedWholeInOneSelector() throws {
        let both = try plan(WholeConfig.devices("0000:5e:00.0", "0000:af:00.1", pool: "nics"))
        #expect(both.pools["nics"] == [Self.a("0000:5e:00.0"), Self.a("0000:af:00.1")])
    }

    @Test func refusals() {
        #expect(refusal(WholeConfig.devices("0000:00:00.0"))
            .contains("0000:00:00.0 is a PCI bridge, and bridges are never passed through"))
        let unknown = refusal(WholeConfig.devices("0000:77:00.0"))
        #expect(unknown.contains("no SR-IOV PF or network function at 0000:77:00.0") && unknown.contains("fix the address"))
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
