import Testing
import SRIOVCore
@testable import SRIOVNetlink

/// Kernel event messages built byte by byte as the kernel sends them: uevents as
/// `lib/kobject_uevent.c` formats them, RTM_NEWLINK/RTM_DELLINK as `rtnl_fill_ifinfo` lays them out.
@Suite struct HostEventParserTests {
    static func uevent(_ header: String, _ pairs: [String]) -> [UInt8] {
        ([header] + pairs).flatMap { Array($0.utf8) + [0] }
    }

    static let vf = "/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0/0000:3b:02.3"

    struct UeventCase: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var expected: HostEvent?
        var testDescription: String { name }
    }

    static let ueventCases: [UeventCase] = [
        UeventCase(name: "pci add", bytes: uevent("add@\(vf)", ["ACTION=add", "DEVPATH=\(vf)", "SUBSYSTEM=pci", "PCI_CLASS=20000",
                                                                "PCI_ID=8086:1889", "PCI_SLOT_NAME=0000:3b:02.3", "SEQNUM=4711"]),
                   expected: .pci(PCIDeviceEvent(action: .add, address: PCIAddress("0000:3b:02.3")!))),
        UeventCase(name: "pci bind", bytes: uevent("bind@\(vf)", ["ACTION=bind", "DEVPATH=\(vf)", "SUBSYSTEM=pci", "DRIVER=vfio-pci",
                                                                  "PCI_SLOT_NAME=0000:3b:02.3", "SEQNUM=4712"]),
                   expected: .pci(PCIDeviceEvent(action: .bind, address: PCIAddress("0000:3b:02.3")!, driver: "vfio-pci"))),
        UeventCase(name: "pci unbind", bytes: uevent("unbind@\(vf)", ["ACTION=unbind", "DEVPATH=\(vf)", "SUBSYSTEM=pci",
                                                                      "PCI_SLOT_NAME=0000:3b:02.3"]),
                   expected: .pci(PCIDeviceEvent(action: .unbind, address: PCIAddress("0000:3b:02.3")!))),
        UeventCase(name: "pci remove, slot from DEVPATH", bytes: uevent("remove@\(vf)", ["ACTION=remove", "DEVPATH=\(vf)", "SUBSYSTEM=pci"]),
                   expected: .pci(PCIDeviceEvent(action: .remove, address: PCIAddress("0000:3b:02.3")!))),
        UeventCase(name: "pci change", bytes: uevent("change@\(vf)", ["ACTION=change", "DEVPATH=\(vf)", "SUBSYSTEM=pci",
                                                                      "PCI_SLOT_NAME=0000:3b:02.3", "DRIVER=iavf"]),
                   expected: .pci(PCIDeviceEvent(action: .change, address: PCIAddress("0000:3b:02.3")!, driver: "iavf"))),
        UeventCase(name: "pci move reads as change", bytes: uevent("move@\(vf)", ["ACTION=move", "DEVPATH=\(vf)", "SUBSYSTEM=pci",
                                                                                  "PCI_SLOT_NAME=0000:3b:02.3"]),
                   expected: .pci(PCIDeviceEvent(action: .change, address: PCIAddress("0000:3b:02.3")!))),
        UeventCase(name: "net add", bytes: uevent("add@\(vf)/net/ens1f0v3", ["ACTION=add", "DEVPATH=\(vf)/net/ens1f0v3", "SUBSYSTEM=net",
                                                                             "INTERFACE=ens1f0v3", "IFINDEX=17"]),
                   expected: .link(LinkEvent(kind: .added, interface: InterfaceName("ens1f0v3"), ifindex: 17))),
        UeventCase(name: "net remove", bytes: uevent("remove@\(vf)/net/ens1f0v3", ["ACTION=remove", "SUBSYSTEM=net", "INTERFACE=ens1f0v3",
                                                                                   "IFINDEX=17"]),
                   expected: .link(LinkEvent(kind: .removed, interface: InterfaceName("ens1f0v3"), ifindex: 17))),
        UeventCase(name: "other subsystem", bytes: uevent("add@/devices/virtual/block/loop0", ["ACTION=add", "SUBSYSTEM=block"]),
                   expected: nil),
        UeventCase(name: "udev's re-broadcast", bytes: Array("libudev".utf8) + [0, 0xfe, 0xed, 0xca, 0xfe], expected: nil),
        UeventCase(name: "bad slot name", bytes: uevent("add@/devices/x", ["ACTION=add", "SUBSYSTEM=pci", "PCI_SLOT_NAME=zz"]),
                   expected: nil),
        UeventCase(name: "empty", bytes: [], expected: nil),
    ]

    @Test(arguments: ueventCases) func uevents(_ c: UeventCase) {
        #expect(UeventParser.parse(c.bytes) == c.expected)
    }

    static func le32(_ v: UInt32) -> [UInt8] { ReplyBuilder.le32(v) }

    /// nlmsghdr + ifinfomsg + attributes.
    static func link(type: UInt16, index: Int32, attributes: [UInt8]) -> [UInt8] {
        let ifinfo: [UInt8] = [0, 0, 1, 0] + le32(UInt32(bitPattern: index)) + le32(0x1043) + le32(0)
        let length = UInt32(16 + ifinfo.count + attributes.count)
        return le32(length) + [UInt8(type & 0xff), UInt8(type >> 8)] + [0, 0] + le32(0) + le32(0) + ifinfo + attributes
    }

    static func name(_ s: String) -> [UInt8] { ReplyBuilder.attr(3, Array(s.utf8) + [0]) }

    @Test func newLinkWithOperstateCarrierAndVFInfo() {
        let attributes = Self.name("ens1f0") + ReplyBuilder.attr(16, [6]) + ReplyBuilder.attr(33, [1])
            + ReplyBuilder.attr(22, ReplyBuilder.vfEntry(index: 0), nested: true)
        let events = LinkEventParser.parse(Self.link(type: 16, index: 4, attributes: attributes))
        #expect(events == [.link(LinkEvent(kind: .changed, interface: InterfaceName("ens1f0"), ifindex: 4, operState: .up,
                                           carrier: true, vfInfo: true))])
    }

    @Test func carrierLostAndDelLink() {
        let down = Self.link(type: 16, index: 4, attributes: Self.name("ens1f0") + ReplyBuilder.attr(16, [2]) + ReplyBuilder.attr(33, [0]))
        let gone = Self.link(type: 17, index: 9, attributes: Self.name("ens1f0v3"))
        #expect(LinkEventParser.parse(down + gone) == [
            .link(LinkEvent(kind: .changed, interface: InterfaceName("ens1f0"), ifindex: 4, operState: .down, carrier: false)),
            .link(LinkEvent(kind: .removed, interface: InterfaceName("ens1f0v3"), ifindex: 9)),
        ])
    }

    @Test func otherMessagesSkippedOverrunReportedTruncationStops() {
        let addr = Self.link(type: 20 /* RTM_NEWADDR */, index: 1, attributes: [])
        var overrun = Self.le32(16) + [4, 0, 0, 0] + Self.le32(0) + Self.le32(0)
        overrun += Self.link(type: 16, index: 2, attributes: Self.name("lo"))
        let truncated = Array(Self.link(type: 16, index: 3, attributes: Self.name("eth9")).dropLast(4))
        #expect(LinkEventParser.parse(addr + overrun + truncated) == [
            .overflow, .link(LinkEvent(kind: .changed, interface: InterfaceName("lo"), ifindex: 2)),
        ])
    }

    @Test func operStateValues() {
        let expected: [UInt8: LinkEvent.OperState] = [0: .unknown, 1: .notPresent, 2: .down, 3: .lowerLayerDown, 4: .testing,
                                                      5: .dormant, 6: .up, 7: .unknown]
        for (value, state) in expected {
            let events = LinkEventParser.parse(Self.link(type: 16, index: 1, attributes: Self.name("x") + ReplyBuilder.attr(16, [value])))
            #expect(events.first == .link(LinkEvent(kind: .changed, interface: InterfaceName("x"), ifindex: 1, operState: state)))
        }
    }
}
