import Foundation
import SRIOVCore
import SRIOVConfig
import SRIOVSimulator

/// `sriovd.yaml` (UTF-8; other bytes are refused before parsing, as `ConfigFile.read` does).
///
/// Properties: an error is an `SRIOVError` that names the file; a parsed config parses the same again;
/// bound to the simulated standard host, a plan's pools are the configured ones, each VF is one of the
/// host's, in one pool only, never on a protected PF, and each pool's list is sorted without repeats.
enum ConfigTarget {
    static let source = "fuzz.yaml"

    /// The simulated standard host's inventory, built once per process (the tree is removed after).
    static let inventory: HostInventory = {
        let dir = NSTemporaryDirectory() + "sriov-fuzz-host-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do throws(SRIOVError) {
            return try SimulatedHost.create(directory: dir, spec: .standard()).inventory()
        } catch {
            fatalError("sriov-fuzz: cannot build the simulated host: \(error.message)")
        }
    }()

    static func run(_ bytes: [UInt8]) throws(FuzzFailure) {
        guard let text = String(validating: bytes, as: UTF8.self) else { return }
        let config: SRIOVConfig
        switch attempt({ () throws(SRIOVError) in try SRIOVConfig.parse(yaml: text, source: source) }) {
        case .success(let c): config = c
        case .failure(let e):
            try requireExplained(e, "config parse", mentions: source)
            return
        }
        switch attempt({ () throws(SRIOVError) in try SRIOVConfig.parse(yaml: text, source: source) }) {
        case .success(let again): try require(again == config, "the same text parses to two different configs")
        case .failure(let e): throw FuzzFailure(description: "the same text parsed once, then failed: \(e.message)")
        }
        try require(Set(config.pools.map(\.name)).count == config.pools.count, "two pools with the same name were accepted")

        let plan: PoolPlan
        switch attempt({ () throws(SRIOVError) in try config.resolve(against: inventory) }) {
        case .success(let p): plan = p
        case .failure(let e):
            try requireExplained(e, "config resolve", mentions: source)
            return
        }
        Tally.accepted = true
        try require(Set(plan.pools.keys) == Set(config.pools.map(\.name)), "the plan's pools \(plan.pools.keys.sorted()) are not the configured ones")
        let vfs = Dictionary(inventory.allVFs.map { ($0.pciAddress, $0) }, uniquingKeysWith: { a, _ in a })
        var seen: [PCIAddress: String] = [:]
        for (name, members) in plan.pools {
            try require(members == members.sorted() && Set(members).count == members.count, "pool \(name)'s VFs are not sorted and unique")
            for vf in members {
                guard let known = vfs[vf] else { throw FuzzFailure(description: "pool \(name) holds \(vf), which is not a VF of the host") }
                try require(!plan.protectedPFs.contains(known.pf), "pool \(name) holds \(vf) of protected PF \(known.pf)")
                if let other = seen[vf] { throw FuzzFailure(description: "\(vf) is in pools \(other) and \(name)") }
                seen[vf] = name
                try require(plan.pool(of: vf) == name, "plan.pool(of: \(vf)) is \(plan.pool(of: vf) ?? "nil"), not \(name)")
            }
        }
        for w in plan.warnings { try require(!w.isEmpty, "an empty warning") }
    }
}
