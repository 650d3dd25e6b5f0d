import Testing
import SRIOVCore
import SRIOVSimulator
import SRIOVTestSupport
@testable import SRIOVConfig

/// `devices:` selectors: pools of whole PCI functions (issue 14, item 5).
@Suite("SRIOVConfig: whole-device pools")
struct WholeDeviceConfigTests {
    func plan(_ yaml: String) throws(SRIOVError) -> PoolPlan {
        try SRIOVConfig.parse(yaml: yaml, source: "t.yaml").resolve(against: Hosts.standard)
    }

    /// The error a config is refused with (parse or resolve), or a recorded issue when it is accepted.
    func refusal(_ yaml: String) -> String {
        do {
            let p = try plan(yaml)
            Issue.record("accepted: \(p.pools)")
            return ""
        } catch {
            #expect(error.code == .invalidArgument)
            return error.message
        }
    }

    @Test func poolOfWholeDevices() throws {
        let p = try plan("""
            pools:
              - name: whole
                selectors:
                  - devices: ["0000:af:00.1"]
            """)
        #expect(p.pools["whole"] == [PCIAddress("0000:af:00.1")!])
        let pool = try #require(p.config(of: "whole"))
        #expect(pool.wholeDevices && pool.onRelease == .rebindHostDriver)
        #expect(p.warnings.isEmpty)
    }

    @Test func aPFWithVFsNowIsAcceptedWithAWarning() throws {
        let p = try plan("""
            pools:
              - name: whole
                selectors:
                  - devices: "0000:af:00.0"
            """)
        #expect(p.warnings.contains { $0.contains("has 4 VFs now") && $0.contains("set-numvfs ens4f0np0 0") })
    }

    @Test func refusals() {
        #expect(refusal("""
            pools:
              - name: w
                selectors:
                  - devices: ["0000:19:00.0"]
            """).contains("the management NIC"))
        #expect(refusal("""
            protected_pfs: ["0000:af:00.1"]
            pools:
              - name: w
                selectors:
                  - devices: ["0000:af:00.1"]
            """).contains("is protected (protected_pfs[0])"))
        #expect(refusal("""
            pools:
              - name: w
                selectors:
                  - devices: ["0000:af:00.1"]
                    numa: 1
            """).contains("stands alone in its selector"))
        #expect(refusal("""
            pools:
              - name: w
                selectors:
                  - devices: ["0000:af:00.1"]
                  - vfs: "ens1f0#0-3"
            """).contains("mixes devices:"))
        #expect(refusal("""
            pools:
              - name: w
                selectors:
                  - devices: ["0000:af:00.1"]
                defaults:
                  vlan: 100
            """).contains("VF settings (defaults:) do not apply"))
        #expect(refusal("""
            pools:
              - name: w
                selectors:
                  - devices: ["0000:af:00.1"]
                on_release: leave-unbound
            """).contains("always get their host driver back"))
        #expect(refusal("""
            pools:
              - name: w
                selectors:
                  - devices: ["0000:77:00.0"]
            """).contains("no SR-IOV PF or network function at 0000:77:00.0"))
        let vf = Hosts.vfs("ens1f0", 0...0)[0]
        #expect(refusal("""
            pools:
              - name: w
                selectors:
                  - devices: ["\(vf)"]
            """).contains("devices: takes whole functions"))
        #expect(refusal("""
            pools:
              - name: v
                selectors:
                  - vfs: "ens4f0np0#0-1"
              - name: w
                selectors:
                  - devices: ["0000:af:00.0"]
            """).contains("has VFs in pool"))
        #expect(refusal("""
            pools:
              - name: w
                selectors:
                  - devices: ["0000:af:00.0"]
              - name: v
                selectors:
                  - vfs: "ens4f0np0#0-1"
            """).contains("holds as a whole device"))
        #expect(refusal("""
            pfs:
              - pf: "0000:af:00.1"
                num_vfs: 2
            pools:
              - name: w
                selectors:
                  - devices: ["0000:af:00.1"]
            """).contains("a PF whose VFs exist cannot be leased whole"))
        #expect(refusal("""
            pools:
              - name: w
                selectors:
                  - devices: ["0000:af:00.1", "0000:af:00.1"]
            """).contains("listed twice"))
    }
}
