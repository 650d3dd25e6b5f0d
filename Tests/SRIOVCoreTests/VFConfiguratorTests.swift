import Testing
@testable import SRIOVCore

/// A link that records requests, applies them to an in-memory VF list, and can ignore or refuse one.
actor FakeLink: VFLinkControl {
    var vfs: [VFState]
    var requests: [VFSettingRequest] = []
    var ignore: VFSettings.Field?
    var refuse: (VFSettings.Field, Int32)?
    var operState = "up"

    init(count: Int) { vfs = (0..<count).map { VFState(index: $0) } }

    func configure(ignore: VFSettings.Field? = nil, refuse: (VFSettings.Field, Int32)? = nil) {
        self.ignore = ignore
        self.refuse = refuse
    }

    func readVFs(pf: InterfaceName) async throws(SRIOVError) -> VFReadout {
        VFReadout(interface: pf, numVFs: vfs.count, vfs: vfs, operState: operState)
    }

    func apply(_ request: VFSettingRequest, vf: Int, pf: InterfaceName) async throws(SRIOVError) {
        requests.append(request)
        if let (field, errno) = refuse, field == request.field {
            throw SRIOVError(.kernelRefused, "\(pf) VF \(vf): \(request): \(Errno.name(errno))", cause: .errno(errno))
        }
        if ignore == request.field { return }
        switch request {
        case .mac(let m): vfs[vf].mac = m
        case .vlan(let v): vfs[vf].vlan = v
        case .rate(let min, let max): vfs[vf].minTxRate = min; vfs[vf].maxTxRate = max
        case .spoofCheck(let b): vfs[vf].spoofCheck = b
        case .trust(let b): vfs[vf].trust = b
        case .linkState(let s): vfs[vf].linkState = s
        case .queryRSS(let b): vfs[vf].queryRSS = b
        }
    }
}

@Suite("VF configurator")
struct VFConfiguratorTests {
    let target = VFConfigurator.Target(interface: InterfaceName("enp1s0")!, label: "0000:01:00.0 (enp1s0)", driver: "igb")

    func everything() throws -> VFSettings {
        VFSettings(mac: try MACAddress(parsing: "02:00:00:00:00:07"), vlan: try VLAN(id: 42, qos: 5), spoofCheck: false,
                   trust: true, linkState: .disable, minTxRate: 0, maxTxRate: 500, queryRSS: true)
    }

    @Test func appliesInTheDocumentedOrderAndVerifies() async throws {
        let link = FakeLink(count: 4)
        let after = try await VFConfigurator(link: link).apply(try everything(), vf: 2, on: target)
        #expect(await link.requests.map(\.field) == [.mac, .vlan, .rate, .spoofCheck, .trust, .linkState, .queryRSS])
        #expect(after.vf(2)?.vlan.id == 42 && after.vf(2)?.maxTxRate == 500)
    }

    @Test func readBackMismatchNamesFieldWantedAndActual() async throws {
        let link = FakeLink(count: 4)
        await link.configure(ignore: .trust)
        await #expect {
            try await VFConfigurator(link: link).apply(VFSettings(trust: true), vf: 1, on: target)
        } throws: { error in
            let e = error as? SRIOVError
            return e?.code == .verificationFailed && e?.message == "0000:01:00.0 (enp1s0) VF 1: trust reads back as off, not on as set; the driver (igb) accepted the request but did not apply it"
        }
    }

    @Test func rateKeepsTheOtherBoundAsItIs() async throws {
        let link = FakeLink(count: 1)
        try await VFConfigurator(link: link).apply(VFSettings(minTxRate: 10, maxTxRate: 100), vf: 0, on: target)
        try await VFConfigurator(link: link).apply(VFSettings(maxTxRate: 200), vf: 0, on: target)
        #expect(await link.requests.last == .rate(min: 10, max: 200))
    }

    @Test func vfBeyondNumVFs() async {
        let link = FakeLink(count: 4)
        await #expect {
            try await VFConfigurator(link: link).apply(VFSettings(trust: true), vf: 999, on: target)
        } throws: { ($0 as? SRIOVError)?.message.contains("VF 999 does not exist: the PF has 4 VFs (0-3)") == true }
        #expect(await link.requests.isEmpty)
    }

    @Test("refusals explained", arguments: [
        (VFSettings.Field.linkState, Errno.EOPNOTSUPP, "driver igb does not support VF link state", SRIOVError.Code.unsupported),
        (.rate, Errno.EINVAL, "driver igb rejects min_tx_rate (EINVAL; Intel NICs commonly do)", .kernelRefused),
        (.trust, Errno.EOPNOTSUPP, "driver igb does not support VF trust", .unsupported),
        (.vlan, Errno.EPROTONOSUPPORT, "does not support 802.1ad port VLANs", .unsupported),
        (.mac, Errno.EPERM, "needs root or CAP_NET_ADMIN", .permissionDenied),
        (.spoofCheck, Errno.EBUSY, "busy (EBUSY)", .busy),
    ])
    func refusals(field: VFSettings.Field, errno: Int32, text: String, code: SRIOVError.Code) async throws {
        let link = FakeLink(count: 2)
        await link.configure(refuse: (field, errno))
        let settings: VFSettings
        switch field {
        case .linkState: settings = VFSettings(linkState: .enable)
        case .rate: settings = VFSettings(minTxRate: 10)
        case .trust: settings = VFSettings(trust: true)
        case .vlan: settings = VFSettings(vlan: try VLAN(id: 5, proto: .dot1AD))
        case .mac: settings = VFSettings(mac: try MACAddress(parsing: "02:00:00:00:00:01"))
        default: settings = VFSettings(spoofCheck: false)
        }
        await #expect {
            try await VFConfigurator(link: link).apply(settings, vf: 1, on: target)
        } throws: { error in
            let e = error as? SRIOVError
            return e?.code == code && e?.errno == errno && e?.message.hasPrefix("0000:01:00.0 (enp1s0) VF 1: cannot set ") == true
                && e?.message.contains(text) == true
        }
    }

    @Test func maxRateWithThePFDownIsExplained() async throws {
        let link = FakeLink(count: 1)
        await link.configure(refuse: (.rate, Errno.EINVAL))
        await link.setDown()
        await #expect {
            try await VFConfigurator(link: link).apply(VFSettings(maxTxRate: 100), vf: 0, on: target)
        } throws: { ($0 as? SRIOVError)?.message.contains("while the PF link is down") == true }
    }

    @Test func invalidCombinationsNeverReachTheKernel() async {
        let link = FakeLink(count: 1)
        await #expect(throws: SRIOVError.self) {
            try await VFConfigurator(link: link).apply(VFSettings(minTxRate: 300, maxTxRate: 100), vf: 0, on: target)
        }
        #expect(await link.requests.isEmpty)
    }
}

extension FakeLink {
    func setDown() { operState = "down" }
}
