import Testing
import SRIOVCore
import SRIOVSimulator
import SRIOVTestSupport
@testable import SRIOVConfig

/// `devices:` selectors: pools of whole PCI functions (issue 14, item 5). What holds for every kind
/// of function runs once per kind (`WholeConfigCase`); NICs without SR-IOV have their own tests in
/// `WholeFunctionConfigTests`.
@Suite("SRIOVConfig: whole-device pools")
struct WholeDeviceConfigTests {
    func plan(_ yaml: String) throws(SRIOVError) -> PoolPlan { try WholeConfig.plan(yaml) }
    func refusal(_ yaml: String) -> String { WholeConfig.refusal(yaml) }

    @Test(arguments: WholeConfigCase.all)
    func poolOfOneWholeDevice(_ c: WholeConfigCase) throws {
        let p = try plan(WholeConfig.devices(c.address, pool: "whole"))
        #expect(p.pools["whole"] == [WholeConfig.a(c.address)])
        let pool = try #require(p.config(of: "whole"))
        #expect(pool.wholeDevices && pool.onRelease == .rebindHostDriver)
        #expect(p.warnings.isEmpty)
    }

    @Test(arguments: WholeConfigCase.all)
    func theManagementNICIsRefused(_ c: WholeConfigCase) {
        let message = WholeConfig.refusal(WholeConfig.devices(c.management), on: c.host)
        #expect(message.contains("\(c.managementLabel) is the management NIC") && message.contains("choose another device"))
    }

    @Test(arguments: WholeConfigCase.all)
    func aProtectedDeviceIsRefused(_ c: WholeConfigCase) {
        let message = refusal(WholeConfig.devices(c.address, above: "protected_pfs: [\(c.protectedAs)]"))
        #expect(message.contains("\(c.label) is protected (protected_pfs[0])") && message.contains("remove it from protected_pfs"))
    }

    @Test(arguments: WholeConfigCase.all)
    func aDeviceInTwoPoolsIsRefused(_ c: WholeConfigCase) {
        let message = refusal("""
            pools:
              - name: a
                selectors:
                  - devices: ["\(c.address)"]
              - name: b
                selectors:
                  - devices: ["\(c.address)"]
            """)
        #expect(message.contains("\(c.label) is already in pool 'a'") && message.contains("drop it from one of the two"))
    }

    @Test func aPFWithVFsNowIsAcceptedWithAWarning() throws {
        let p = try plan(WholeConfig.devices("0000:af:00.0", pool: "whole"))
        #expect(p.warnings.contains { $0.contains("has 4 VFs now") && $0.contains("set-numvfs ens4f0np0 0") })
    }

    @Test func refusals() {
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
        #expect(refusal(WholeConfig.devices("0000:af:00.1", poolKeys: "defaults:\n  vlan: 100"))
            .contains("VF settings (defaults:) do not apply"))
        #expect(refusal(WholeConfig.devices("0000:af:00.1", poolKeys: "on_release: leave-unbound"))
            .contains("always get their host driver back"))
        let vf = Hosts.vfs("ens1f0", 0...0)[0]
        #expect(refusal(WholeConfig.devices(vf.description)).contains("devices: takes whole functions"))
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
        #expect(refusal(WholeConfig.devices("0000:af:00.1", above: """
            pfs:
              - pf: "0000:af:00.1"
                num_vfs: 2
            """)).contains("a PF whose VFs exist cannot be leased whole"))
        #expect(refusal(WholeConfig.devices("0000:af:00.1", "0000:af:00.1")).contains("listed twice"))
    }
}
