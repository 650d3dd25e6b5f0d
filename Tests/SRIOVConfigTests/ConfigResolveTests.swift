import Testing
import SRIOVCore
import SRIOVSimulator
import SRIOVTestSupport
@testable import SRIOVConfig

/// Inventories of simulated hosts, built once per process.
enum Hosts {
    static func inventory(_ spec: SimulatedHostSpec) -> HostInventory {
        let dir = try! TempDirectory("config-host")
        let host = try! SimulatedHost.create(directory: dir.path + "/host", spec: spec)
        return try! host.inventory()
    }

    /// eno1 0/7, ens1f0 8/64 (NUMA 0), ens1f1 8/64 (NUMA 0), ens4f0np0 4/16 (NUMA 1), ens4f1np1 0/16 (NUMA 1).
    static let standard = inventory(.standard())

    /// The standard host with two VFs on the management port eno1.
    static let managementVFs: HostInventory = {
        var spec = SimulatedHostSpec.standard()
        spec.pfs[0].initialVFs = 2
        return inventory(spec)
    }()

    static func vfs(_ pf: String, _ range: ClosedRange<Int>, in inventory: HostInventory = standard) -> [PCIAddress] {
        let owner = try! inventory.pf(named: pf)
        return owner.vfs.filter { range.contains($0.index) }.map(\.pciAddress)
    }
}

@Suite("SRIOVConfig: binding pools to a host")
struct ConfigResolveTests {
    func plan(_ yaml: String, on inventory: HostInventory = Hosts.standard) throws(SRIOVError) -> PoolPlan {
        try SRIOVConfig.parse(yaml: yaml, source: "t.yaml").resolve(against: inventory)
    }

    func refusal(_ yaml: String, on inventory: HostInventory = Hosts.standard) -> SRIOVError? {
        do {
            let p = try plan(yaml, on: inventory)
            Issue.record("accepted: \(p.pools)")
            return nil
        } catch {
            #expect(error.code == .invalidArgument)
            return error
        }
    }

    @Test func sampleConfigLoadsAndResolvesOnTheStandardHost() throws {
        let path = String(#filePath.split(separator: "/").dropLast(3).joined(separator: "/"))
        let config = try SRIOVConfig.load(path: "/" + path + "/Config/sriovd.yaml")
        #expect(config.pools.map(\.name) == ["uplink", "storage"])
        #expect(config.protectedPFs == ["eno1"])
        let plan = try config.resolve(against: Hosts.standard)
        let uplink = (Hosts.vfs("ens1f0", 0...3) + Hosts.vfs("ens4f0np0", 0...3)).sorted()
        #expect(plan.pools["uplink"] == uplink)
        #expect(plan.pools["storage"] == Hosts.vfs("ens1f1", 0...7).sorted())
        #expect(plan.protectedPFs == [PCIAddress("0000:19:00.0")!])
        #expect(plan.warnings == [])
        // Spread placement needs distinct PFs and both NUMA nodes in uplink.
        let pfsOfUplink = Set(uplink.compactMap { vf in Hosts.standard.allVFs.first { $0.pciAddress == vf }?.pf })
        #expect(pfsOfUplink == [PCIAddress("0000:3b:00.0")!, PCIAddress("0000:af:00.0")!])
        #expect(plan.pool(of: uplink[0]) == "uplink")
        #expect(plan.pool(of: Hosts.vfs("ens1f0", 4...4)[0]) == nil)
        #expect(plan.config(of: "storage")?.onRelease == .rebindHostDriver)
        #expect(plan.config(of: "uplink")?.defaults.vlan?.id == 100)
        #expect(plan.config(of: "nope") == nil)
        #expect(Set(plan.desiredPFs.keys) == [PCIAddress("0000:3b:00.0")!, PCIAddress("0000:3b:00.1")!, PCIAddress("0000:af:00.0")!])
        // The desired counts match what the simulated host has, so `apply` would change nothing.
        for (address, desired) in plan.desiredPFs {
            #expect(Hosts.standard.pfs.first { $0.pciAddress == address }?.numVFs == desired.numVFs)
        }
    }

    @Test func selectorsOfEveryKind() throws {
        let p = try plan("""
            pools:
              - name: by-pci
                selectors:
                  - pci: ["\(Hosts.vfs("ens1f0", 5...5)[0])"]
              - name: cx5-numa1
                selectors:
                  - vendor_device: "15b3:1018"
                    numa: 1
              - name: e810-numa0
                selectors:
                  - numa: 0
                    vendor_device: "8086:1889"
                    pf: "0000:3b:00.1"
              - name: by-address
                selectors:
                  - vfs: "0000:3b:00.0#0-1"
                  - pf: ens1f0
                    range: 1-2
            """)
        #expect(p.pools["by-pci"] == Hosts.vfs("ens1f0", 5...5))
        #expect(p.pools["cx5-numa1"] == Hosts.vfs("ens4f0np0", 0...3).sorted())
        #expect(p.pools["e810-numa0"] == Hosts.vfs("ens1f1", 0...7).sorted())
        // Overlapping selectors inside one pool are a union, not a conflict.
        #expect(p.pools["by-address"] == Hosts.vfs("ens1f0", 0...2).sorted())
    }

    @Test func desiredCountsBoundThePools() throws {
        // More VFs configured than exist: the range is valid, the plan holds the VFs that exist now.
        let grow = try plan("pfs:\n  - {pf: ens1f0, num_vfs: 16, autoprobe: false}\npools:\n  - name: a\n    selectors: [{vfs: \"ens1f0#0-15\"}]\n")
        #expect(grow.pools["a"] == Hosts.vfs("ens1f0", 0...7).sorted())
        // Fewer configured: VFs that apply would remove are not pooled.
        let shrink = try plan("pfs:\n  - {pf: ens1f0, num_vfs: 4, autoprobe: false}\npools:\n  - name: a\n    selectors: [{pf: ens1f0}]\n")
        #expect(shrink.pools["a"] == Hosts.vfs("ens1f0", 0...3).sorted())
        #expect(shrink.desiredPFs[PCIAddress("0000:3b:00.0")!] == PFDesired(pf: "ens1f0", numVFs: 4, autoprobe: false))
    }

    @Test func rangeBeyondTheConfiguredVFs() throws {
        let error = refusal("""
            pfs:
              - pf: ens1f0
                num_vfs: 16
            pools:
              - name: uplink
                selectors:
                  - pf: ens1f1
                  - vfs: "ens1f0#0-99"
            """)
        #expect(error?.message == "t.yaml: pools[0].selectors[1].vfs (line 8): range 0-99 is beyond ens1f0's VFs (16 configured in pfs[0].num_vfs; VFs 0-15); shrink the range or raise pfs[0].num_vfs (at most 64)")
    }

    @Test func rangeBeyondTheCurrentVFs() throws {
        let error = refusal("pools:\n  - name: a\n    selectors:\n      - pf: ens4f0np0\n        range: 2-4\n")
        #expect(error?.message == "t.yaml: pools[0].selectors[0].range (line 5): range 2-4 is beyond ens4f0np0's VFs (4 now, no pfs: entry; VFs 0-3); shrink the range or add ens4f0np0 to pfs: with num_vfs: 5 (it supports at most 16)")
    }

    @Test func overlappingPoolsNameTheVFAndBothPools() throws {
        let vf = Hosts.vfs("ens1f0", 3...3)[0]
        let error = refusal("""
            pools:
              - name: uplink
                selectors:
                  - vfs: "ens1f0#0-3"
              - name: storage
                selectors:
                  - pf: ens1f1
                  - pci: ["\(vf)"]
            """)
        #expect(error?.message == "t.yaml: pools[1].selectors[1] (line 8): \(vf) (ens1f0 VF 3) is already in pool 'uplink' (pools[0].selectors[0] (line 4)) and would also be in pool 'storage'; a VF belongs to one pool only: narrow one of the two selectors")
    }

    @Test func protectedPFsVFsCannotBePooled() throws {
        let error = refusal("""
            protected_pfs: [eno1]
            pools:
              - name: intel
                selectors:
                  - vendor_device: "8086:1520"
            """, on: Hosts.managementVFs)
        let vf = Hosts.vfs("eno1", 0...0, in: Hosts.managementVFs)[0]
        #expect(error?.message.hasPrefix("t.yaml: pools[0].selectors[0] (line 5): selects \(vf) (eno1 VF 0), a VF of protected PF eno1 (protected_pfs[0])") == true)
    }

    /// Issue 15 #8: a pool on the management NIC, not listed in protected_pfs, loaded and showed free
    /// VFs the allocator would never hand out.
    @Test func managementNICVFsCannotBePooledEvenUnprotected() throws {
        let vf = Hosts.vfs("eno1", 0...0, in: Hosts.managementVFs)[0]
        let broad = refusal("""
            pools:
              - name: intel
                selectors:
                  - vendor_device: "8086:1520"
            """, on: Hosts.managementVFs)
        #expect(broad?.code == .invalidArgument)
        #expect(broad?.message.hasPrefix("t.yaml: pools[0].selectors[0] (line 4): selects \(vf) (eno1 VF 0), a VF of eno1, the management NIC (it carries the host's default route); sriovd never leases its VFs") == true, "\(broad?.message ?? "accepted")")
        let named = refusal("pools:\n  - name: a\n    selectors: [{pf: eno1}]\n", on: Hosts.managementVFs)
        #expect(named?.message.hasPrefix("t.yaml: pools[0].selectors[0].pf (line 3): eno1 is the management NIC") == true, "\(named?.message ?? "accepted")")
        // The other PFs' VFs still pool.
        #expect(try plan("pools:\n  - name: a\n    selectors: [{pf: ens1f0}]\n", on: Hosts.managementVFs).pools["a"]?.count == 8)
    }

    @Test func protectedByAddressAndUnknownNames() throws {
        let p = try plan("protected_pfs: [\"0000:19:00.0\", \"0000:99:00.0\", eth9]\n")
        #expect(p.protectedPFs == [PCIAddress("0000:19:00.0")!, PCIAddress("0000:99:00.0")!])
        #expect(p.warnings.count == 1)
        #expect(p.warnings.first?.contains("protected_pfs[2] (line 1): eth9 is not an SR-IOV PF of this host") == true)
    }

    struct Bad: CustomTestStringConvertible, Sendable {
        let name: String
        let yaml: String
        let expect: [String]
        var testDescription: String { name }
    }

    static let bad: [Bad] = [
        Bad(name: "selector PF not on this host", yaml: "pools:\n  - name: a\n    selectors: [{pf: ens9f0}]\n",
            expect: ["t.yaml: pools[0].selectors[0].pf (line 3): ens9f0 is not an SR-IOV PF of this host (this host has eno1, ens1f0, ens1f1, ens4f0np0, ens4f1np1)"]),
        Bad(name: "shorthand PF not on this host", yaml: "pools:\n  - name: a\n    selectors: [{vfs: \"0000:99:00.0#0-1\"}]\n",
            expect: ["pools[0].selectors[0].vfs (line 3): 0000:99:00.0 is not an SR-IOV PF"]),
        Bad(name: "a VF named as a PF", yaml: "pools:\n  - name: a\n    selectors: [{pf: \"\(Hosts.vfs("ens1f0", 2...2)[0])\"}]\n",
            expect: ["pools[0].selectors[0].pf (line 3)", "(ens1f0 VF 2), not a PF", "range: 2"]),
        Bad(name: "pfs entry not on this host", yaml: "pfs:\n  - {pf: ens7, num_vfs: 2}\n",
            expect: ["pfs[0].pf (line 2): ens7 is not an SR-IOV PF"]),
        Bad(name: "num_vfs above totalvfs", yaml: "pfs:\n  - pf: ens4f1np1\n    num_vfs: 17\n",
            expect: ["pfs[0].num_vfs (line 3): ens4f1np1 supports at most 16 VFs (sriov_totalvfs), not 17"]),
        Bad(name: "same PF twice by name and address", yaml: "pfs:\n  - {pf: ens1f0, num_vfs: 2}\n  - {pf: \"0000:3b:00.0\", num_vfs: 2}\n",
            expect: ["pfs[1].pf (line 3)", "same PF", "as pfs[0]; merge"]),
        Bad(name: "desired state for a protected PF", yaml: "protected_pfs: [eno1]\npfs:\n  - {pf: eno1, num_vfs: 2}\n",
            expect: ["pfs[0].pf (line 3)", "protected by protected_pfs[0]"]),
        Bad(name: "selector naming a protected PF with no VFs yet", yaml: "protected_pfs: [eno1]\npools:\n  - name: a\n    selectors: [{vfs: \"eno1#0-1\"}]\n",
            expect: ["pools[0].selectors[0].vfs (line 4): eno1 is protected (protected_pfs[0])"]),
        Bad(name: "VF in protected_pfs", yaml: "protected_pfs: [\"\(Hosts.vfs("ens1f0", 0...0)[0])\"]\n",
            expect: ["protected_pfs[0] (line 1)", "not a PF; protect its PF ens1f0"]),
        Bad(name: "pci that is a PF", yaml: "pools:\n  - name: a\n    selectors:\n      - pci: [\"0000:3b:00.0\"]\n",
            expect: ["pools[0].selectors[0].pci[0] (line 4)", "is a PF, not a VF; use pf: 0000:3b:00.0"]),
        Bad(name: "pci that is not on this host", yaml: "pools:\n  - name: a\n    selectors:\n      - pci: [\"0000:3b:00.0\", \"0000:77:00.1\"]\n",
            expect: ["pools[0].selectors[0].pci[0]", "is a PF"]),
        Bad(name: "pci of another PF than pf:", yaml: "pools:\n  - name: a\n    selectors:\n      - pf: ens1f1\n        pci: [\"\(Hosts.vfs("ens1f0", 1...1)[0])\"]\n",
            expect: ["pools[0].selectors[0].pci[0] (line 5)", "does not match the selector's other keys: it belongs to ens1f0, not ens1f1 (pf:)"]),
        Bad(name: "pci on another NUMA node than numa:", yaml: "pools:\n  - name: a\n    selectors:\n      - numa: 1\n        pci: [\"\(Hosts.vfs("ens1f0", 1...1)[0])\"]\n",
            expect: ["pools[0].selectors[0].pci[0] (line 5)", "it is on NUMA node 0, not numa: 1"]),
        Bad(name: "pci of a VF that apply would remove", yaml: "pfs:\n  - {pf: ens1f0, num_vfs: 2}\npools:\n  - name: a\n    selectors:\n      - pci: [\"\(Hosts.vfs("ens1f0", 5...5)[0])\"]\n",
            expect: ["pools[0].selectors[0].pci[0] (line 6)", "(ens1f0 VF 5) will not exist once 2 configured in pfs[0].num_vfs"]),
    ]

    @Test(arguments: bad)
    func refuses(_ c: Bad) {
        guard let error = refusal(c.yaml) else { return }
        for fragment in c.expect {
            #expect(error.message.contains(fragment), "missing \(Quote.shell(fragment)) in: \(error.message)")
        }
    }

    @Test func unknownPCIAddressOfAVF() {
        let error = refusal("pools:\n  - name: a\n    selectors:\n      - pci: [\"0000:77:00.1\"]\n")
        #expect(error?.message.contains("pools[0].selectors[0].pci[0] (line 4): no VF at 0000:77:00.1 on this host") == true)
    }

    @Test func warnings() throws {
        // ens4f0np0 autoprobes (the simulator's default) and has no pfs: entry; numa: 7 selects nothing.
        let p = try plan("pools:\n  - name: a\n    selectors:\n      - pf: ens4f0np0\n      - numa: 7\n")
        #expect(p.pools["a"]?.count == 4)
        #expect(p.warnings.count == 2)
        #expect(p.warnings.contains { $0.hasPrefix("pools[0].selectors[1] (line 5): selects no VF") })
        #expect(p.warnings.contains { $0.hasPrefix("ens4f0np0 has pooled VFs") && $0.contains("add ens4f0np0 to pfs: with autoprobe: false") })
        // An empty pool is allowed (it warns).
        let empty = try plan("pools:\n  - name: a\n    selectors:\n      - pf: ens4f1np1\n")
        #expect(empty.pools["a"] == [])
    }

    @Test func handBuiltConfigsResolveWithoutLines() throws {
        let config = SRIOVConfig(pools: [PoolConfig(name: "a", selectors: [PoolSelector(pf: "nope")])])
        #expect {
            try config.resolve(against: Hosts.standard)
        } throws: { error in
            (error as? SRIOVError)?.message.hasPrefix("<built-in>: pools[0].selectors[0].pf: nope is not an SR-IOV PF") == true
        }
        let rangeOnly = SRIOVConfig(pools: [PoolConfig(name: "a", selectors: [PoolSelector(vfRange: 0...1)])])
        #expect(throws: SRIOVError.self) { try rangeOnly.resolve(against: Hosts.standard) }
        #expect(try SRIOVConfig.builtIn.resolve(against: Hosts.standard) == PoolPlan(pools: [:]))
    }

    @Test func planIndexFollowsItsPools() {
        let a = PCIAddress("0000:3b:01.0")!
        let b = PCIAddress("0000:3b:01.1")!
        var plan = PoolPlan(pools: ["x": [a]])
        #expect(plan.pool(of: a) == "x" && plan.pool(of: b) == nil)
        plan.pools["y"] = [b]
        #expect(plan.pool(of: b) == "y")
        #expect(plan.allPooledVFs == [a, b])
    }
}
