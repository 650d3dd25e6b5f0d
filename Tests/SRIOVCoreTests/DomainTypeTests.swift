import Testing
@testable import SRIOVCore

@Suite("PCIAddress")
struct PCIAddressTests {
    @Test("accepts and canonicalises", arguments: [
        ("0000:3b:00.0", "0000:3b:00.0"),
        ("3b:00.0", "0000:3b:00.0"),
        ("0000:3B:1F.7", "0000:3b:1f.7"),
        ("10000:00:02.0", "10000:00:02.0"),
        ("ffff:ff:1f.7", "ffff:ff:1f.7"),
    ])
    func accepts(input: String, canonical: String) throws {
        #expect(try PCIAddress(parsing: input).description == canonical)
    }

    @Test("rejects with the reason", arguments: [
        ("", "it is empty"),
        ("../0000:3b:00.0", "character '/' is not allowed"),
        ("0000:3b:00.0/..", "character '/' is not allowed"),
        ("0000:3b:00.0 ", "character ' ' is not allowed"),
        ("0000:3b:00", "the device and function must be separated by one '.'"),
        ("0000:3b:20.0", "device 20 is above 1f"),
        ("0000:3b:00.8", "function 8 is above 7"),
        ("000:3b:00.0", "the domain must be 4 to 8 hex digits"),
        ("0000:3bb:00.0", "the bus must be 2 hex digits"),
        ("0000:3b:0.0", "the device must be 2 hex digits"),
        ("0000:3b:00.00", "the function must be 1 digit"),
        ("0000:3g:00.0", "character 'g' is not allowed"),
        ("0:0:0:00.0", "it needs one or two ':'"),
        ("eth0", "character 't' is not allowed"),
    ])
    func rejects(input: String, reason: String) {
        #expect {
            try PCIAddress(parsing: input)
        } throws: { error in
            let e = error as? SRIOVError
            return e?.code == .invalidArgument && (e?.message.contains(reason) ?? false)
                && (e?.message.contains("expected DDDD:BB:DD.F") ?? false)
        }
    }

    @Test func routingIDRoundTrip() throws {
        let a = try PCIAddress(parsing: "0000:3b:02.5")
        #expect(a.routingID == 0x3b15)
        #expect(PCIAddress(domain: 0, routingID: 0x3b15) == a)
    }

    @Test func ordersByBusThenDevice() throws {
        let list = try ["0000:af:00.0", "0000:3b:00.1", "0000:3b:00.0"].map { try PCIAddress(parsing: $0) }
        #expect(list.sorted().map(\.description) == ["0000:3b:00.0", "0000:3b:00.1", "0000:af:00.0"])
    }
}

@Suite("MACAddress")
struct MACAddressTests {
    @Test("assignable", arguments: ["52:54:00:12:34:56", "02:00:00:00:00:01", "00:00:00:00:00:00", "AA-BB-CC-DD-EE-F0"])
    func assignable(input: String) throws {
        _ = try MACAddress(assignable: input)
    }

    @Test("rejected", arguments: [
        ("zz:00:00:00:00:00", "is not a two-digit hex octet"),
        ("52:54:00:12:34", "it has 5 groups, not 6"),
        ("52:54:00:12:34:56:78", "it has 7 groups, not 6"),
        ("ff:ff:ff:ff:ff:ff", "broadcast"),
        ("01:00:5e:00:00:01", "multicast"),
        ("52:54:00:12:34:5", "is not a two-digit hex octet"),
        ("", "it has 1 groups, not 6"),
    ])
    func rejected(input: String, reason: String) {
        #expect {
            try MACAddress(assignable: input)
        } throws: { error in
            (error as? SRIOVError)?.message.contains(reason) ?? false
        }
    }

    @Test func canonicalLowerCase() throws {
        #expect(try MACAddress(parsing: "AA:BB:CC:DD:EE:0F").description == "aa:bb:cc:dd:ee:0f")
        #expect(try MACAddress(parsing: "00:00:00:00:00:00").isZero)
        #expect(MACAddress.scrubPlaceholder.isLocallyAdministered && !MACAddress.scrubPlaceholder.isMulticast)
    }
}

@Suite("VLAN")
struct VLANTests {
    @Test("accepted", arguments: [(0, 0), (1, 0), (4094, 7), (100, 3)])
    func accepted(id: Int, qos: Int) throws {
        let v = try VLAN(id: id, qos: qos)
        #expect(Int(v.id) == id && Int(v.qos) == qos && v.proto == .dot1Q)
    }

    @Test("rejected", arguments: [
        (4095, 0, "4095 is reserved"), (4096, 0, "it must be 0-4094"), (-1, 0, "it must be 0-4094"),
        (10, 8, "QoS (priority) 8"), (10, -1, "QoS (priority) -1"),
    ])
    func rejected(id: Int, qos: Int, reason: String) {
        #expect {
            try VLAN(id: id, qos: qos)
        } throws: { ($0 as? SRIOVError)?.message.contains(reason) ?? false }
    }

    @Test func parsesText() throws {
        #expect(try VLAN.parseID("100") == 100)
        #expect(throws: SRIOVError.self) { try VLAN.parseID("ten") }
        #expect(throws: SRIOVError.self) { try VLAN.parseID("4095") }
        #expect(throws: SRIOVError.self) { try VLAN.parseQoS("8") }
    }

    @Test("protocol", arguments: [("802.1Q", VLANProtocol.dot1Q), ("802.1ad", .dot1AD), ("802.1AD", .dot1AD)])
    func proto(text: String, expected: VLANProtocol) throws {
        #expect(try VLANProtocol(parsing: text) == expected)
        #expect(try VLANProtocol(etherType: expected.etherType) == expected)
    }

    @Test func badProtocol() {
        #expect(throws: SRIOVError.self) { try VLANProtocol(parsing: "qinq") }
        #expect(throws: SRIOVError.self) { try VLANProtocol(etherType: 0x0800) }
    }
}

@Suite("InterfaceName, VFIndex, NUMANode, settings")
struct SmallTypeTests {
    @Test("interface accepted", arguments: ["eth0", "ens1f0np0", "a", "123456789012345", "vlan.100", "br-ex"])
    func interfaceAccepted(name: String) throws {
        #expect(try InterfaceName(parsing: name).name == name)
    }

    @Test("interface rejected", arguments: [
        ("", "it is empty"), ("1234567890123456", "at most 15"), (".", "'.' and '..'"), ("..", "'.' and '..'"),
        ("eth/0", "'/'"), ("eth:0", "':'"), ("eth 0", "white space"), ("eth\t0", "white space"),
    ])
    func interfaceRejected(name: String, reason: String) {
        #expect {
            try InterfaceName(parsing: name)
        } throws: { ($0 as? SRIOVError)?.message.contains(reason) ?? false }
    }

    @Test func vfIndex() throws {
        #expect(try VFIndex(parsing: "7").value == 7)
        #expect(throws: SRIOVError.self) { try VFIndex(parsing: "-1") }
        #expect(throws: SRIOVError.self) { try VFIndex(parsing: "x") }
        #expect(throws: SRIOVError.self) { try VFIndex(65535) }
        #expect {
            try VFIndex(999).check(numVFs: 4, pf: "ens1f0")
        } throws: { ($0 as? SRIOVError)?.message.contains("the PF has 4 VFs (0-3)") ?? false }
        try VFIndex(3).check(numVFs: 4, pf: "ens1f0")
    }

    @Test func numaNode() throws {
        #expect(NUMANode.fromSysfs("-1\n") == nil)
        #expect(NUMANode.fromSysfs("1\n")?.value == 1)
        #expect(NUMANode.fromSysfs("garbage") == nil)
        #expect(throws: SRIOVError.self) { try NUMANode(parsing: "-2") }
    }

    @Test("rates", arguments: [("0", UInt32(0)), ("10000", 10000), (" 5 ", 5)])
    func rates(text: String, value: UInt32) throws {
        #expect(try TxRate.parse(text, what: "max_tx_rate") == value)
    }

    @Test("bad rates", arguments: [("-1", "cannot be negative"), ("fast", "not a whole number"), ("4294967296", "32-bit limit")])
    func badRates(text: String, reason: String) {
        #expect {
            try TxRate.parse(text, what: "max_tx_rate")
        } throws: { ($0 as? SRIOVError)?.message.contains(reason) ?? false }
    }

    @Test func toggleAndLinkState() throws {
        #expect(try Toggle.parse("on", what: "trust"))
        #expect(try !Toggle.parse("off", what: "trust"))
        #expect(throws: SRIOVError.self) { try Toggle.parse("maybe", what: "trust") }
        #expect(try VFLinkState(parsing: "Enable") == .enable)
        #expect(throws: SRIOVError.self) { try VFLinkState(parsing: "up") }
    }

    @Test func settingsOrderAndValidation() throws {
        let s = VFSettings(mac: try MACAddress(parsing: "02:00:00:00:00:01"), vlan: try VLAN(id: 10), spoofCheck: false,
                           trust: true, linkState: .enable, minTxRate: 10, maxTxRate: 100)
        #expect(s.fields == [.mac, .vlan, .rate, .spoofCheck, .trust, .linkState])
        try s.validate()
        #expect(VFSettings().isEmpty)
        #expect {
            try VFSettings(minTxRate: 200, maxTxRate: 100).validate()
        } throws: { ($0 as? SRIOVError)?.message.contains("min_tx_rate 200 is above max_tx_rate 100") ?? false }
        #expect(VFSettings.scrubbed.fields.count == 6)
    }

    @Test func commandLineWords() {
        let c = IOMMUCommandLine(parsing: "BOOT_IMAGE=/vmlinuz ro intel_iommu=off quiet intel_iommu=on iommu=pt")
        #expect(c.intelIOMMU == "on" && c.iommu == "pt" && c.amdIOMMU == nil)
    }
}
