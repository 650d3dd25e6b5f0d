import Testing
import SRIOVCore
@testable import SRIOVConfig

@Suite("SRIOVConfig: parsing")
struct ConfigParseTests {
    static let full = """
        protected_pfs: [eno1, "0000:19:00.0"]
        pfs:
          - pf: ens1f0
            num_vfs: 16
            autoprobe: false
          - pf: 0000:3B:00.1
            num_vfs: 0
        pools:
          - name: uplink
            selectors:
              - vfs: "ens1f0#0-7"
              - pf: ens1f1
                range: 3
              - pci: ["0000:af:00.2", 0000:af:00.3]
              - vendor_device: "0x15B3:1018"
                numa: 1
            defaults: {vlan: 100, qos: 3, vlan_proto: 802.1ad, spoofchk: true, trust: false, link_state: enable,
                       min_tx_rate: 10, max_tx_rate: 1000, mac: "52:54:00:12:34:56", query_rss: off}
            policy: {vlans: ["100", 200-299, 7], allow_trust: yes, allow_spoofchk_off: true, allow_mac: false,
                     mac_prefixes: ["52:54:00", "02"], max_leases_per_owner: 4}
            on_release: rebind-host-driver
          - name: lab_2
            selectors:
              - pci: 0000:af:00.4
        """

    @Test func parsesEveryKey() throws {
        let config = try SRIOVConfig.parse(yaml: Self.full, source: "test.yaml")
        var expected = SRIOVConfig(source: "test.yaml")
        expected.protectedPFs = ["eno1", "0000:19:00.0"]
        expected.pfs = [PFDesired(pf: "ens1f0", numVFs: 16, autoprobe: false),
                        PFDesired(pf: "0000:3b:00.1", numVFs: 0, autoprobe: nil)]
        let defaults = VFSettings(mac: try MACAddress(parsing: "52:54:00:12:34:56"),
                                  vlan: try VLAN(id: 100, qos: 3, proto: .dot1AD), spoofCheck: true, trust: false,
                                  linkState: .enable, minTxRate: 10, maxTxRate: 1000, queryRSS: false)
        let policy = PoolPolicy(allowedVLANs: [100...100, 200...299, 7...7], allowTrust: true, allowSpoofCheckOff: true,
                                allowMAC: false, macPrefixes: ["52:54:00", "02"], maxLeasesPerOwner: 4)
        expected.pools = [
            PoolConfig(name: "uplink", selectors: [
                PoolSelector(pf: "ens1f0", vfRange: 0...7),
                PoolSelector(pf: "ens1f1", vfRange: 3...3),
                PoolSelector(pciAddresses: [PCIAddress("0000:af:00.2")!, PCIAddress("0000:af:00.3")!]),
                PoolSelector(vendorDevice: (vendor: "15b3", device: "1018"), numaNode: 1),
            ], defaults: defaults, policy: policy, onRelease: .rebindHostDriver),
            PoolConfig(name: "lab_2", selectors: [PoolSelector(pciAddresses: [PCIAddress("0000:af:00.4")!])]),
        ]
        #expect(config == expected)
        #expect(config.pools[0].selectors[0].viaShorthand)
        #expect(!config.pools[0].selectors[1].viaShorthand)
        // Defaults of what was left out.
        #expect(config.pools[1].policy == PoolPolicy())
        #expect(config.pools[1].defaults.isEmpty)
        #expect(config.pools[1].onRelease == .leaveUnbound)
    }

    @Test(arguments: [
        "",
        "# only a comment\n",
        "---\n",
        "pools:\n",
        "pools: []\nprotected_pfs: []\npfs: []\n",
        "protected_pfs: [eno1]\n",
    ])
    func emptyConfigsAreValid(_ yaml: String) throws {
        let config = try SRIOVConfig.parse(yaml: yaml, source: "empty.yaml")
        #expect(config.pools.isEmpty && config.pfs.isEmpty)
        #expect(config.source == "empty.yaml")
    }

    @Test func policyHelpers() {
        let policy = PoolPolicy(allowedVLANs: [100...100, 200...299], macPrefixes: ["52:54:00"])
        #expect(policy.allows(vlan: 100) && policy.allows(vlan: 250) && !policy.allows(vlan: 101))
        #expect(PoolPolicy().allows(vlan: 4094))
        #expect(policy.allows(mac: MACAddress("52:54:00:aa:bb:cc")!))
        #expect(!policy.allows(mac: MACAddress("02:54:00:aa:bb:cc")!))
        #expect(policy.allowedVLANsDescription == "100, 200-299")
    }

    @Test func selectorEqualityComparesVendorDevice() {
        let a = PoolSelector(vendorDevice: (vendor: "15b3", device: "1018"))
        #expect(a == PoolSelector(vendorDevice: (vendor: "15b3", device: "1018")))
        #expect(a != PoolSelector(vendorDevice: (vendor: "15b3", device: "1017")))
        #expect(a != PoolSelector())
    }

    @Test func keySuggestions() {
        #expect(KeySuggestion.closest(to: "numVFs", in: PFDesired.keys) == "num_vfs")
        #expect(KeySuggestion.closest(to: "selector", in: PoolConfig.keys) == "selectors")
        #expect(KeySuggestion.closest(to: "bananas", in: PoolConfig.keys) == nil)
    }

    // MARK: Refusals

    struct Bad: CustomTestStringConvertible, Sendable {
        let name: String
        let yaml: String
        /// Every fragment must be in the message.
        let expect: [String]
        var code: SRIOVError.Code = .invalidArgument
        var testDescription: String { name }
    }

    static let pool = "pools:\n  - name: p\n    selectors:\n"

    static let bad: [Bad] = [
        Bad(name: "unknown top-level key", yaml: "pool:\n  - name: x\n",
            expect: ["bad.yaml: pool (line 1): unknown key 'pool'", "did you mean 'pools'?"]),
        Bad(name: "unknown key in pfs", yaml: "pfs:\n  - pf: ens1f0\n    numvfs: 8\n",
            expect: ["pfs[0].numvfs (line 3)", "did you mean 'num_vfs'?", "allowed keys: pf, num_vfs or autoprobe"]),
        Bad(name: "unknown key in a selector", yaml: pool + "      - pf: ens1f0\n        ranges: 0-3\n",
            expect: ["pools[0].selectors[0].ranges (line 5)", "did you mean 'range'?"]),
        Bad(name: "unknown key without a suggestion", yaml: pool + "      - pf: ens1f0\n    colour: blue\n",
            expect: ["pools[0].colour (line 5): unknown key 'colour' in a pool; allowed keys"]),
        Bad(name: "quoted number", yaml: "pfs:\n  - pf: ens1f0\n    num_vfs: \"8\"\n",
            expect: ["pfs[0].num_vfs (line 3)", "quoted string '8'", "remove the quotes"]),
        Bad(name: "word for a number", yaml: "pfs:\n  - pf: ens1f0\n    num_vfs: eight\n",
            expect: ["pfs[0].num_vfs (line 3)", "whole number", "'eight'"]),
        Bad(name: "negative num_vfs", yaml: "pfs:\n  - pf: ens1f0\n    num_vfs: -1\n",
            expect: ["pfs[0].num_vfs (line 3)", "out of range"]),
        Bad(name: "missing num_vfs", yaml: "pfs:\n  - pf: ens1f0\n",
            expect: ["pfs[0].num_vfs (line 2): missing num_vfs"]),
        Bad(name: "bool that is not one", yaml: "pfs:\n  - pf: ens1f0\n    num_vfs: 1\n    autoprobe: maybe\n",
            expect: ["pfs[0].autoprobe (line 4)", "true or false", "'maybe'"]),
        Bad(name: "mapping where a list belongs", yaml: "pools:\n  name: x\n",
            expect: ["pools (line 1): expected pools (a list"]),
        Bad(name: "list at the top", yaml: "- a\n- b\n",
            expect: ["bad.yaml: (top level) (line 1): expected the top level of the config (a mapping"]),
        Bad(name: "VLAN 4095 default", yaml: pool + "      - pf: ens1f0\n    defaults: {vlan: 4095}\n",
            expect: ["pools[0].defaults.vlan (line 5)", "4095 is reserved by 802.1Q"]),
        Bad(name: "bad MAC default", yaml: pool + "      - pf: ens1f0\n    defaults:\n      mac: \"52:54:00:zz:00:01\"\n",
            expect: ["pools[0].defaults.mac (line 6)", "invalid MAC address"]),
        Bad(name: "multicast MAC default", yaml: pool + "      - pf: ens1f0\n    defaults:\n      mac: \"01:00:5e:00:00:01\"\n",
            expect: ["pools[0].defaults.mac (line 6)", "multicast"]),
        Bad(name: "PCI address walking a path", yaml: pool + "      - pci: [\"0000:af/../00.2\"]\n",
            expect: ["pools[0].selectors[0].pci[0] (line 4)", "invalid PCI address", "'/' is not allowed"]),
        Bad(name: "PF name walking a path", yaml: "protected_pfs: [\"../eth0\"]\n",
            expect: ["protected_pfs[0] (line 1)", "invalid interface name", "'/'"]),
        Bad(name: "PCI-looking PF with a bad function", yaml: "pfs:\n  - pf: 0000:3b:00.9\n    num_vfs: 1\n",
            expect: ["pfs[0].pf (line 2)", "invalid PCI address"]),
        Bad(name: "duplicate pool names", yaml: """
            pools:
              - name: a
                selectors: [{pf: ens1f0}]
              - name: a
                selectors: [{pf: ens1f1}]
            """,
            expect: ["pools[1] (line 4)", "pool name 'a' is already used by pools[0] (line 2)", "rename one"]),
        Bad(name: "duplicate pfs entries", yaml: "pfs:\n  - {pf: ens1f0, num_vfs: 1}\n  - {pf: ens1f0, num_vfs: 2}\n",
            expect: ["pfs[1] (line 3)", "PF 'ens1f0' is already used by pfs[0]", "merge"]),
        Bad(name: "default VLAN outside the pool's VLANs", yaml: pool + "      - pf: ens1f0\n    defaults: {vlan: 300}\n    policy: {vlans: [\"100\", \"200-299\"]}\n",
            expect: ["pools[0].defaults.vlan (line 5)", "default VLAN 300 is not in the pool's own policy.vlans (100, 200-299)"]),
        Bad(name: "default MAC outside the prefixes", yaml: pool + "      - pf: ens1f0\n    defaults: {mac: \"02:00:00:00:00:01\"}\n    policy: {mac_prefixes: [\"52:54:00\"]}\n",
            expect: ["pools[0].defaults.mac (line 5)", "does not start with any of the pool's policy.mac_prefixes"]),
        Bad(name: "range without pf", yaml: pool + "      - range: 0-3\n",
            expect: ["pools[0].selectors[0].range (line 4)", "range: needs pf:", "vfs: \"<pf>#0-3\""]),
        Bad(name: "vfs and pf together", yaml: pool + "      - vfs: \"ens1f0#0-3\"\n        pf: ens1f0\n",
            expect: ["pools[0].selectors[0].vfs (line 4)", "either vfs: or pf:"]),
        Bad(name: "vfs without #", yaml: pool + "      - vfs: ens1f0\n",
            expect: ["pools[0].selectors[0].vfs (line 4)", "has no '#'"]),
        Bad(name: "vfs with # unquoted (a comment)", yaml: pool + "      - vfs: ens1f0 #0-3\n",
            expect: ["pools[0].selectors[0].vfs (line 4)", "has no '#'", "quoted"]),
        Bad(name: "reversed range", yaml: pool + "      - vfs: \"ens1f0#7-3\"\n",
            expect: ["pools[0].selectors[0].vfs (line 4)", "reversed", "3-7"]),
        Bad(name: "garbage range", yaml: pool + "      - pf: ens1f0\n        range: 0-x\n",
            expect: ["pools[0].selectors[0].range (line 5)", "not a VF index range"]),
        Bad(name: "empty selector", yaml: pool + "      - {}\n",
            expect: ["pools[0].selectors[0] (line 4)", "would take every VF of the host"]),
        Bad(name: "no selectors", yaml: "pools:\n  - name: p\n    selectors: []\n",
            expect: ["pools[0].selectors (line 3)", "at least one selector"]),
        Bad(name: "missing selectors", yaml: "pools:\n  - name: p\n",
            expect: ["pools[0].selectors", "missing selectors"]),
        Bad(name: "missing name", yaml: "pools:\n  - selectors: [{pf: ens1f0}]\n",
            expect: ["pools[0].name", "missing name"]),
        Bad(name: "upper-case pool name", yaml: "pools:\n  - name: Uplink\n    selectors: [{pf: ens1f0}]\n",
            expect: ["pools[0].name (line 2)", "invalid pool name 'Uplink'", "[a-z0-9][a-z0-9_-]{0,62}"]),
        Bad(name: "qos without vlan", yaml: pool + "      - pf: ens1f0\n    defaults: {qos: 3}\n",
            expect: ["pools[0].defaults.qos (line 5)", "only applies together with vlan"]),
        Bad(name: "qos out of range", yaml: pool + "      - pf: ens1f0\n    defaults: {vlan: 5, qos: 9}\n",
            expect: ["pools[0].defaults.qos (line 5)", "0-7"]),
        Bad(name: "bad vlan_proto", yaml: pool + "      - pf: ens1f0\n    defaults: {vlan: 5, vlan_proto: 802.1x}\n",
            expect: ["pools[0].defaults.vlan_proto (line 5)", "802.1Q or 802.1ad"]),
        Bad(name: "min rate above max", yaml: pool + "      - pf: ens1f0\n    defaults: {min_tx_rate: 100, max_tx_rate: 10}\n",
            expect: ["pools[0].defaults.min_tx_rate (line 5)", "above max_tx_rate"]),
        Bad(name: "bad link state", yaml: pool + "      - pf: ens1f0\n    defaults: {link_state: up}\n",
            expect: ["pools[0].defaults.link_state (line 5)", "auto, enable or disable"]),
        Bad(name: "bad on_release", yaml: pool + "      - pf: ens1f0\n    on_release: rebind\n",
            expect: ["pools[0].on_release (line 5)", "leave-unbound or rebind-host-driver"]),
        Bad(name: "VLAN range beyond 4094", yaml: pool + "      - pf: ens1f0\n    policy:\n      vlans: [\"4000-4095\"]\n",
            expect: ["pools[0].policy.vlans[0] (line 6)", "4095 is reserved"]),
        Bad(name: "reversed VLAN range", yaml: pool + "      - pf: ens1f0\n    policy: {vlans: [\"300-200\"]}\n",
            expect: ["pools[0].policy.vlans[0] (line 5)", "reversed", "200-300"]),
        Bad(name: "bad MAC prefix", yaml: pool + "      - pf: ens1f0\n    policy: {mac_prefixes: [\"52:54:0\"]}\n",
            expect: ["pools[0].policy.mac_prefixes[0] (line 5)", "invalid MAC prefix"]),
        Bad(name: "zero max leases", yaml: pool + "      - pf: ens1f0\n    policy: {max_leases_per_owner: 0}\n",
            expect: ["pools[0].policy.max_leases_per_owner (line 5)", "out of range", "leave the key out"]),
        Bad(name: "bad vendor_device", yaml: pool + "      - vendor_device: \"15b3\"\n",
            expect: ["pools[0].selectors[0].vendor_device (line 4)", "4 hex digits each"]),
        Bad(name: "negative NUMA node", yaml: pool + "      - numa: -1\n",
            expect: ["pools[0].selectors[0].numa (line 4)", "invalid NUMA node -1"]),
        Bad(name: "PCI address twice in a selector", yaml: pool + "      - pci: [\"0000:af:00.2\", \"0000:AF:00.2\"]\n",
            expect: ["pools[0].selectors[0].pci[1]", "listed twice"]),
        Bad(name: "duplicate YAML key", yaml: "pools: []\npfs: []\npools: []\n",
            expect: ["bad.yaml (line 1)", "'pools' appears more than once"]),
        Bad(name: "YAML syntax error", yaml: "pools:\n  - name: [a\n", expect: ["bad.yaml (line", "YAML syntax error"],
            code: .corrupt),
        Bad(name: "tab indentation", yaml: "pools:\n\t- name: a\n", expect: ["bad.yaml (line 2", "YAML syntax error", "tabs"],
            code: .corrupt),
    ]

    @Test(arguments: bad)
    func refuses(_ c: Bad) {
        do {
            let config = try SRIOVConfig.parse(yaml: c.yaml, source: "bad.yaml")
            Issue.record("accepted: \(config)")
        } catch {
            #expect(error.code == c.code, "\(error.message)")
            for fragment in c.expect {
                #expect(error.message.contains(fragment), "missing \(Quote.shell(fragment)) in: \(error.message)")
            }
        }
    }
}

@Suite("SRIOVConfig: YAML features operators use")
struct ConfigYAMLFeatureTests {
    @Test func anchorsShareDefaultsBetweenPools() throws {
        let config = try SRIOVConfig.parse(yaml: """
            pools:
              - name: a
                selectors: [{vfs: "ens1f0#0-1"}]
                defaults: &tagged {vlan: 100, spoofchk: true}
              - name: b
                selectors: [{vfs: "ens1f0#2-3"}]
                defaults: *tagged
            """, source: "a.yaml")
        #expect(config.pools[0].defaults == config.pools[1].defaults)
        #expect(config.pools[1].defaults.vlan?.id == 100)
    }

    @Test func addressesThatYAML11WouldReadAsNumbers() throws {
        // Unquoted, 0000:19:00.0 is a base-60 float and 52:54:00:12:34:56 a base-60 integer to YAML 1.1.
        let config = try SRIOVConfig.parse(yaml: """
            protected_pfs: [0000:19:00.0]
            pools:
              - name: a
                selectors: [{pf: 19:00.0}]
                defaults: {mac: 52:54:00:12:34:56}
            """, source: "a.yaml")
        #expect(config.protectedPFs == ["0000:19:00.0"])
        #expect(config.pools[0].selectors[0].pf == "0000:19:00.0")
        #expect(config.pools[0].defaults.mac == MACAddress("52:54:00:12:34:56"))
    }

    @Test func lineOfAnErrorDeepInAFile() {
        let yaml = """
            # header
            protected_pfs: [eno1]

            pools:
              - name: a
                selectors:
                  - pf: ens1f0
                    range: 0-3
                  - pf: ens1f1
                    range: 0-3
                    numa: zero
            """
        #expect {
            try SRIOVConfig.parse(yaml: yaml, source: "deep.yaml")
        } throws: { error in
            (error as? SRIOVError)?.message.hasPrefix("deep.yaml: pools[0].selectors[1].numa (line 11): expected numa (a NUMA node number) (a whole number), got 'zero'") == true
        }
    }
}
