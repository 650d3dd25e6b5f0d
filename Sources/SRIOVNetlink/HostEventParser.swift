import SRIOVCore

/// Kernel uevents as `HostEvent`s. A uevent datagram from group 1 of `NETLINK_KOBJECT_UEVENT` is
/// `ACTION@DEVPATH\0` followed by `KEY=VALUE\0` pairs (`lib/kobject_uevent.c`); udev's re-broadcasts
/// (group 2) start with `libudev\0` and are not read here.
public enum UeventParser {
    /// The event a datagram announces, or nil for one sriovd does not follow (other subsystems, PCI
    /// devices without a slot name, malformed text).
    ///
    /// Kernel interface: `NETLINK_KOBJECT_UEVENT`, multicast group 1 (as `udevadm monitor --kernel`).
    public static func parse(_ bytes: [UInt8]) -> HostEvent? {
        let fields = bytes.split(separator: 0, omittingEmptySubsequences: true)
        guard let header = fields.first, header.contains(UInt8(ascii: "@")) else { return nil }
        var values: [Substring: Substring] = [:]
        for field in fields.dropFirst() {
            let text = Substring(decoding: field, as: UTF8.self)
            guard let eq = text.firstIndex(of: "=") else { continue }
            values[text[..<eq]] = text[text.index(after: eq)...]
        }
        guard let action = values["ACTION"] else { return nil }
        switch values["SUBSYSTEM"] {
        case "pci":
            let name = values["PCI_SLOT_NAME"] ?? values["DEVPATH"].flatMap { $0.split(separator: "/").last }
            guard let name, let address = PCIAddress(String(name)) else { return nil }
            let kind: PCIDeviceEvent.Action = PCIDeviceEvent.Action(rawValue: String(action)) ?? .change
            return .pci(PCIDeviceEvent(action: kind, address: address, driver: values["DRIVER"].map(String.init)))
        case "net":
            guard let name = values["INTERFACE"] else { return nil }
            let kind: LinkEvent.Kind = action == "add" ? .added : action == "remove" ? .removed : .changed
            return .link(LinkEvent(kind: kind, interface: InterfaceName(String(name)),
                                   ifindex: values["IFINDEX"].flatMap { Int32($0) } ?? 0))
        default:
            return nil
        }
    }
}

/// rtnetlink link notifications as `HostEvent`s: RTM_NEWLINK / RTM_DELLINK with an `ifinfomsg` and
/// its attributes (`<linux/rtnetlink.h>`, `<linux/if_link.h>`).
public enum LinkEventParser {
    static let RTM_NEWLINK: UInt16 = 16
    static let RTM_DELLINK: UInt16 = 17
    static let NLMSG_OVERRUN: UInt16 = 4
    static let IFLA_IFNAME: UInt16 = 3
    static let IFLA_OPERSTATE: UInt16 = 16
    static let IFLA_VFINFO_LIST: UInt16 = 22
    static let IFLA_CARRIER: UInt16 = 33

    /// Every link event in one datagram (a datagram may hold several messages; others are skipped).
    /// A truncated message ends the walk: what came before it is still returned.
    ///
    /// Kernel interface: `NETLINK_ROUTE`, group `RTNLGRP_LINK` (as `ip monitor link`).
    public static func parse(_ bytes: [UInt8]) -> [HostEvent] {
        var events: [HostEvent] = []
        var offset = 0
        while offset + 16 <= bytes.count {
            let length = Int(LinkMessageParser.u32(bytes, offset))
            guard length >= 16, offset + length <= bytes.count else { break }
            let type = UInt16(bytes[offset + 4]) | UInt16(bytes[offset + 5]) << 8
            if type == NLMSG_OVERRUN {
                events.append(.overflow)
            } else if (type == RTM_NEWLINK || type == RTM_DELLINK), length >= LinkMessageParser.headerSize,
                      let event = link(bytes, offset: offset, length: length, removed: type == RTM_DELLINK) {
                events.append(.link(event))
            }
            offset += LinkMessageParser.align4(length)
        }
        return events
    }

    static func link(_ bytes: [UInt8], offset: Int, length: Int, removed: Bool) -> LinkEvent? {
        let ifindex = Int32(bitPattern: LinkMessageParser.u32(bytes, offset + 20))
        var event = LinkEvent(kind: removed ? .removed : .changed, interface: nil, ifindex: ifindex)
        let end = offset + length
        var at = offset + LinkMessageParser.headerSize
        while let attribute = LinkMessageParser.attribute(bytes, at: at, end: end) {
            let payload = attribute.payload
            switch attribute.type {
            case IFLA_IFNAME:
                let name = bytes[payload].prefix { $0 != 0 }
                event.interface = InterfaceName(String(decoding: name, as: UTF8.self))
            case IFLA_OPERSTATE where !payload.isEmpty:
                event.operState = LinkEvent.OperState(kernelValue: bytes[payload.lowerBound])
            case IFLA_CARRIER where !payload.isEmpty:
                event.carrier = bytes[payload.lowerBound] != 0
            case IFLA_VFINFO_LIST:
                event.vfInfo = true
            default:
                break
            }
            at += LinkMessageParser.align4(attribute.declaredLength)
        }
        return event
    }
}
