import Foundation
import Testing
import SRIOVCore
import SRIOVSysfs
import SRIOVTestSupport
@testable import SRIOVSimulator

/// A PF's link as sysfs shows it: the reading rules (`PFLinkState.fromSysfs`) and the simulator's
/// cable (`setCarrier`), read back by the real `SysfsDiscovery`.
@Suite("PF carrier: sysfs rules and the simulated cable")
struct PFCarrierTests {
    @Test(arguments: [
        ("1", 0, "up", true as Bool?),
        ("0", 0, "down", false),
        ("0", 0, "lowerlayerdown", false),
        (nil, Errno.EINVAL, "down", false),          // admin-down: reading carrier fails EINVAL
        (nil, Errno.EINVAL, nil, false),
        (nil, Errno.ENOENT, "up", true),             // an old tree without carrier: operstate decides
        (nil, Errno.ENOENT, "down", false),
        (nil, Errno.ENOENT, "unknown", nil),
        (nil, Errno.ENOENT, nil, nil),               // no such netdev
        ("2", 0, "up", nil),                         // not a carrier value
    ] as [(String?, Int32, String?, Bool?)])
    func readingRules(carrier: String?, errno: Int32, operState: String?, expected: Bool?) {
        let link = PFLinkState.fromSysfs(carrier: carrier, carrierErrno: errno, operState: operState)
        #expect(link.carrier == expected)
        #expect(link.hasCarrier == (expected == true))
    }

    @Test func theSimulatedCableIsReadByDiscovery() async throws {
        let dir = try TempDirectory("simcarrier")
        let host = try SimulatedHost.create(directory: dir.path + "/host", spec: .standard())
        let ens1f0 = InterfaceName("ens1f0")!
        #expect(host.pfLink(ens1f0) == PFLinkState(carrier: true, operState: "up"))
        #expect(try host.inventory().pf(named: "ens1f0").carrier == true)

        try host.setCarrier(ens1f0, up: false)
        #expect(host.pfLink(ens1f0) == PFLinkState(carrier: false, operState: "down"))
        let pf = try host.inventory().pf(named: "ens1f0")
        #expect(pf.carrier == false && pf.linkState == "down")
        #expect(try host.inventory().pf(named: "ens1f1").carrier == true, "only that PF")
        // The netlink side agrees (a driver that needs link up for max_tx_rate reads it there).
        let readout = try await host.readVFs(pf: ens1f0)
        #expect(readout.operState == "down")
        #expect(readout.numVFs == 8, "the VFs are untouched")

        try host.setCarrier(ens1f0, up: true)
        #expect(host.pfLink(ens1f0).hasCarrier)
        #expect(#expect(throws: SRIOVError.self) { try host.setCarrier(InterfaceName("nosuch0")!, up: false) }?.code == .notFound)
        // A netdev that does not exist reads as unknown.
        #expect(host.pfLink(InterfaceName("nosuch0")!) == PFLinkState(carrier: nil, operState: nil))
    }
}
