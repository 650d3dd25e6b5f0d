import Testing
import SRIOVConfig
import SRIOVCore
@testable import SRIOVLeasing
import SRIOVFakeHost
import SRIOVTestSupport

/// A kind of device that `devices:` pools lease whole, as the parameterised tests of
/// `WholeDeviceTests` drive it: an SR-IOV PF with no VFs, or a NIC without SR-IOV. Both take the
/// same path (group check, all functions together, host driver journaled and rebound, /dev/vfio);
/// the tests run once for each.
struct WholeLeaseCase: Sendable, CustomTestStringConvertible {
    enum Kind: Sendable {
        /// Listed among the inventory's PFs.
        case pf
        /// Listed among the inventory's functions without SR-IOV.
        case function
    }

    let testDescription: String, kind: Kind
    /// The fake host and config that have both devices below.
    let fixture: @Sendable () throws -> LeaseFixture
    /// The pool of a single-function device, its address, host driver, netdev and NUMA node.
    let pool: String, address: PCIAddress, hostDriver: String, interface: String, numaNode: Int
    /// How libvirt's `<hostdev>` names `address`.
    let libvirtAddress: String
    /// The pool of a two-function device in one IOMMU group (no ACS between its functions), its
    /// functions, their host driver and their netdevs.
    let multiPool: String, multiFunctions: [PCIAddress], multiDriver: String, multiInterfaces: [String]

    static func a(_ text: String) -> PCIAddress { PCIAddress(text)! }

    /// `ens4f1np1` (mlx5_core), an SR-IOV PF with no VFs, and the ConnectX at d8:00.0/.1.
    static let pf = WholeLeaseCase(testDescription: "an SR-IOV PF with no VFs", kind: .pf, fixture: { try WholeDeviceTests.fixture() },
        pool: "whole", address: a("0000:af:00.1"), hostDriver: "mlx5_core", interface: "ens4f1np1", numaNode: 1,
        libvirtAddress: "<address domain='0x0000' bus='0xaf' slot='0x00' function='0x1'/>",
        multiPool: "multi", multiFunctions: [a("0000:d8:00.0"), a("0000:d8:00.1")], multiDriver: "mlx5_core",
        multiInterfaces: ["ens5f0np0", "ens5f1np1"])

    /// `enp94s0` (e1000e, the simulated 82574L), a NIC without SR-IOV, and the igb NIC at 5f:00.0/.1.
    static let nic = WholeLeaseCase(testDescription: "a NIC without SR-IOV", kind: .function, fixture: { try WholeFunctionTests.fixture() },
        pool: "nic", address: a("0000:5e:00.0"), hostDriver: "e1000e", interface: "enp94s0", numaNode: 0,
        libvirtAddress: "<address domain='0x0000' bus='0x5e' slot='0x00' function='0x0'/>",
        multiPool: "dual", multiFunctions: [a("0000:5f:00.0"), a("0000:5f:00.1")], multiDriver: "igb",
        multiInterfaces: ["enp95s0f0", "enp95s0f1"])

    static let all = [pf, nic]

    /// The netdevs of `address` as the inventory lists it: among the PFs or among the functions
    /// without SR-IOV, as `kind` says (a function missing from that list fails the test).
    func interfaces(_ f: LeaseFixture, _ address: PCIAddress) throws -> [String] {
        let inventory = try f.fake.inventory()
        switch kind {
        case .pf: return try #require(inventory.pfs.first { $0.pciAddress == address }).interfaces.map(\.name)
        case .function: return try #require(inventory.function(at: address)).interfaces.map(\.name)
        }
    }

    /// Journals a lease of `address` that crashed mid-bind (reserved, host driver saved, binding) and
    /// runs the host steps that ran before the crash: the unbind and driver_override, and when
    /// `probed`, the probe that gave the device to vfio-pci. The engine is closed on return.
    func crashMidBind(_ f: LeaseFixture, probed: Bool) async throws -> LeaseID {
        let engine = try await f.engine()
        let group = try f.device(address).iommuGroup?.id
        let id = LeaseID.random()
        let held = LeasedVF(pciAddress: address, pf: address, pfInterface: nil, index: 0, iommuGroup: group, numaNode: numaNode,
                            vfioDevice: nil, settings: VFSettings(), saved: nil, previousDriver: hostDriver, stage: .reserved)
        let lease = Lease(id: id, owner: "vm-1", pool: pool, request: LeaseRequest(pool: pool, owner: "vm-1"), vfs: [held],
                          state: .acquiring, createdAt: f.clock.now(), expiresAt: nil, requestedBy: "test", problems: [])
        try await engine.record([.reserved(lease), .saved(lease: id, vf: address, state: VFState(index: 0), driver: hostDriver),
                                 .binding(lease: id, vf: address)])
        try f.fake.unbind(address)
        try f.fake.writeDriverOverride("vfio-pci", device: address)
        if probed { try f.fake.probe(address) }
        await engine.close()
        return id
    }
}

extension LeaseFixture {
    /// A config for the whole-device tests: eno1 protected, the VF pool `uplink` (ens1f0's VFs 0-3),
    /// and a `devices:` pool of one device per entry (pool name: address).
    static func wholeDeviceYAML(_ pools: KeyValuePairs<String, String>) -> String {
        let devicePools = pools.map { name, address in "  - name: \(name)\n    selectors:\n      - devices: [\"\(address)\"]" }
        return """
            protected_pfs: [eno1]
            pools:
              - name: uplink
                selectors:
                  - vfs: "ens1f0#0-3"
            \(devicePools.joined(separator: "\n"))
            """
    }

    /// What the fake kernel shows for the function at `address` (driver, override, IOMMU group).
    func device(_ address: PCIAddress) throws -> DeviceStatus {
        try #require(try fake.device(address))
    }
}
