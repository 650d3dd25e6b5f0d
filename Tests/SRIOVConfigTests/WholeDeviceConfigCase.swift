import Testing
import SRIOVCore
import SRIOVSimulator
import SRIOVTestSupport
@testable import SRIOVConfig

/// Resolving configs with `devices:` pools, for the whole-device config tests.
enum WholeConfig {
    static func a(_ text: String) -> PCIAddress { PCIAddress(text)! }

    /// The standard host (its 82574L `enp94s0` at 5e:00.0 has no SR-IOV) plus a second NIC without
    /// SR-IOV, `enp96s0` at 60:00.0, that carries a default route.
    static let withManagementNIC: HostInventory = {
        var spec = SimulatedHostSpec.standard()
        spec.devices.append(.init(address: a("0000:60:00.0"), deviceID: "10d3", interface: "enp96s0", numaNode: 1,
                                  carriesDefaultRoute: true))
        return Hosts.inventory(spec)
    }()

    static func plan(_ yaml: String, on inventory: HostInventory = Hosts.standard) throws(SRIOVError) -> PoolPlan {
        try SRIOVConfig.parse(yaml: yaml, source: "t.yaml").resolve(against: inventory)
    }

    /// The error a config is refused with (parse or resolve), or a recorded issue when it is accepted.
    static func refusal(_ yaml: String, on inventory: HostInventory = Hosts.standard) -> String {
        do {
            let p = try plan(yaml, on: inventory)
            Issue.record("accepted: \(p.pools)")
            return ""
        } catch {
            #expect(error.code == .invalidArgument)
            return error.message
        }
    }

    /// A config with one pool, `pool`, of the whole `devices`, after the top-level keys in `above`
    /// and with the pool keys in `poolKeys` (YAML, indented as at the top level).
    static func devices(_ devices: String..., pool: String = "w", above: String = "", poolKeys: String = "") -> String {
        let list = devices.map { "\"\($0)\"" }.joined(separator: ", ")
        let keys = poolKeys.split(separator: "\n").map { "\n    \($0)" }.joined()
        return (above.isEmpty ? "" : above + "\n") + """
            pools:
              - name: \(pool)
                selectors:
                  - devices: [\(list)]
            """ + keys
    }
}

/// A function a `devices:` pool takes whole, and how the config checks name it: the refusals every
/// such function gets (protected, the management NIC, in two pools) are tested on each kind.
struct WholeConfigCase: Sendable, CustomTestStringConvertible {
    let testDescription: String
    /// Its address, how messages name it (address and netdev), and how `protected_pfs:` names it in
    /// the protected test.
    let address: String, label: String, protectedAs: String
    /// A management NIC of the same kind, how messages name it, and the host that has it.
    let management: String, managementLabel: String, host: HostInventory

    /// `ens4f1np1`, an SR-IOV PF with no VFs; eno1, the standard host's management NIC.
    static let pf = WholeConfigCase(testDescription: "an SR-IOV PF with no VFs",
        address: "0000:af:00.1", label: "0000:af:00.1 (ens4f1np1)", protectedAs: "0000:af:00.1",
        management: "0000:19:00.0", managementLabel: "0000:19:00.0 (eno1)", host: Hosts.standard)
    /// `enp94s0`, the standard host's 82574L (e1000e), a NIC without SR-IOV; enp96s0, one that carries a
    /// default route.
    static let nic = WholeConfigCase(testDescription: "a NIC without SR-IOV",
        address: "0000:5e:00.0", label: "0000:5e:00.0 (enp94s0)", protectedAs: "enp94s0",
        management: "0000:60:00.0", managementLabel: "0000:60:00.0 (enp96s0)", host: WholeConfig.withManagementNIC)

    static let all = [pf, nic]
}
