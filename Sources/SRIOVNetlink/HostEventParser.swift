import SRIOVCore

/// Kernel uevents as `HostEvent`s. A uevent datagram from group 1 of `NETLINK_KOBJECT_UEVENT` is
/// `ACTION@DEVPATH\0` followed by `KEY=VALUE\0` pairs (`lib/kobject_uevent.c`); udev's re-broadcasts
/// (group 2) start with `libudev\0` and are not read here.
public enum UeventParser {
    /// The event a datagram announces, or nil for one sriovd does not follow (other subsystems, PCI
    /// devices without a slot name, malformed text).
    ///
    /// Read byte by byte: the kernel sends every uevent of every subsystem (a lease's bind alone brings
    /// several), and splitting each into a dictionary of strings cost ~300K instructions a lease cycle
    /// on the kernel lane's guest, on the thread that competes with the lease's own steps for the CPU.
    /// Only the keys below are looked at, and strings are made only for the event's own values.
    ///
    /// Kernel interface: `NETLINK_KOBJECT_UEVENT`, multicast group 1 (as `udevadm monitor --kernel`).
    public static func parse(_ bytes: [UInt8]) -> HostEvent? {
        bytes.withUnsafeBufferPointer { parse(fields: $0) }
    }

    /// The value ranges of the keys read (the last one wins when a key repeats).
    struct Fields {
        var action: Range<Int>?
        var subsystem: Range<Int>?
        var slotName: Range<Int>?
        var devpath: Range<Int>?
        var driver: Range<Int>?
        var interface: Range<Int>?
        var ifindex: Range<Int>?
    }

    static func parse(fields b: UnsafeBufferPointer<UInt8>) -> HostEvent? {
        var f = Fields()
        var sawHeader = false
        var start = 0
        let count = b.count
        // `ACTION@DEVPATH\0` then `KEY=VALUE\0` fields; empty fields are skipped.
        while start < count {
            var end = start
            var equals: Int?
            var at = false
            while end < count && b[end] != 0 {
                if equals == nil && b[end] == UInt8(ascii: "=") { equals = end }
                if b[end] == UInt8(ascii: "@") { at = true }
                end += 1
            }
            defer { start = end + 1 }
            guard end > start else { continue }
            guard sawHeader else {
                guard at else { return nil }
                sawHeader = true
                continue
            }
            guard let eq = equals else { continue }
            let key = start..<eq
            let value = (eq + 1)..<end
            switch eq - start {
            case 6 where matches(b, key, "ACTION"): f.action = value
            case 6 where matches(b, key, "DRIVER"): f.driver = value
            case 7 where matches(b, key, "DEVPATH"): f.devpath = value
            case 7 where matches(b, key, "IFINDEX"): f.ifindex = value
            case 9 where matches(b, key, "SUBSYSTEM"): f.subsystem = value
            case 9 where matches(b, key, "INTERFACE"): f.interface = value
            case 13 where matches(b, key, "PCI_SLOT_NAME"): f.slotName = value
            default: break
            }
        }
        guard let action = f.action, let subsystem = f.subsystem else { return nil }
        func text(_ range: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: b[range]), as: UTF8.self) }
        if matches(b, subsystem, "pci") {
            // The slot name, or the last component of the device path.
            guard let name = f.slotName ?? f.devpath.flatMap({ lastComponent(b, $0) }),
                  let address = PCIAddress(text(name)) else { return nil }
            let kind = PCIDeviceEvent.Action(rawValue: text(action)) ?? .change
            return .pci(PCIDeviceEvent(action: kind, address: address, driver: f.driver.map(text)))
        }
        if matches(b, subsystem, "net") {
            guard let name = f.interface else { return nil }
            let kind: LinkEvent.Kind = matches(b, action, "add") ? .added : matches(b, action, "remove") ? .removed : .changed
            return .link(LinkEvent(kind: kind, interface: InterfaceName(text(name)), ifindex: f.ifindex.flatMap { Int32(text($0)) } ?? 0))
        }
        return nil
    }

    /// Whether the bytes in `range` are exactly `literal`'s.
    static func matches(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ literal: StaticString) -> Bool {
        literal.withUTF8Buffer { l in
            l.count == range.count && l.elementsEqual(UnsafeBufferPointer(rebasing: b[range]))
        }
    }

    /// The last non-empty `/`-separated component of the path in `range`.
    static func lastComponent(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Range<Int>? {
        var end = range.upperBound
        while end > range.lowerBound && b[end - 1] == UInt8(ascii: "/") { end -= 1 }
        guard end > range.lowerBound else { return nil }
        var start = end
        while start > range.lowerBound && b[start - 1] != UInt8(ascii: "/") { start -= 1 }
        return start..<end
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
