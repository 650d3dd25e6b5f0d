import Testing
import SRIOVConfig
import SRIOVCore
@testable import SRIOVLeasing
import SRIOVFakeHost
import SRIOVSimulator
import SRIOVTestSupport

/// NICs without SR-IOV leased whole (issue 14, item 5): the same path as a PF with no VFs (group
/// check, all functions together, host driver journaled and rebound, /dev/vfio), with no VF count.
/// The lease cycle, multi-function NICs, a NIC already on vfio-pci and crash recovery are tested for
/// them and for PFs by the parameterised tests of `WholeDeviceTests` (`WholeLeaseCase.nic`, this fake host).
@Suite("Whole-device leases of NICs without SR-IOV")
struct WholeFunctionTests {
    static func a(_ text: String) -> PCIAddress { PCIAddress(text)! }

    /// The standard host (its 82574L `enp94s0` at 5e:00.0, e1000e, has no SR-IOV), plus a two-port
    /// NIC without SR-IOV at 5f:00.0/.1 (igb, one IOMMU group: no ACS between its functions).
    static func spec() -> FakeHost.Spec {
        var spec = FakeHost.Spec.standard()
        spec.devices += [
            .init(address: a("0000:5f:00.0"), deviceID: "1533", driver: "igb", interface: "enp95s0f0", numaNode: 0),
            .init(address: a("0000:5f:00.1"), deviceID: "1533", driver: "igb", interface: "enp95s0f1", numaNode: 0,
                  iommuGroupWith: a("0000:5f:00.0")),
        ]
        return spec
    }

    static let yaml = LeaseFixture.wholeDeviceYAML(["nic": "0000:5e:00.0", "dual": "0000:5f:00.0"])

    static func fixture() throws -> LeaseFixture { try LeaseFixture(spec: spec(), yaml: yaml) }

    @Test func theFakeHostListsItLikeDiscovery() throws {
        let inventory = try FakeHost(spec: Self.spec()).inventory()
        #expect(inventory.functions.map(\.pciAddress) == [Self.a("0000:5e:00.0"), Self.a("0000:5f:00.0"), Self.a("0000:5f:00.1")])
        #expect(!inventory.pfs.contains { $0.totalVFs == 0 })
        let nic = try #require(inventory.function(at: Self.a("0000:5e:00.0")))
        #expect(nic.driver == "e1000e" && nic.interfaces.map(\.name) == ["enp94s0"] && !nic.isManagement)
        #expect(inventory.host.bridges == [Self.a("0000:00:00.0")])
        // The simulator builds the same host: the same functions, groups and netdevs.
        let dir = try TempDirectory("whole-function")
        let simulated = try SimulatedHost.create(directory: dir.path + "/host", spec: Self.spec()).inventory()
        #expect(simulated.functions == inventory.functions)
    }
}
