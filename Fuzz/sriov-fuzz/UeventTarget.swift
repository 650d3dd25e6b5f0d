import SRIOVCore
import SRIOVNetlink

/// A kernel uevent datagram (`ACTION@DEVPATH` then `KEY=VALUE` fields, NUL-separated), as the host
/// watch reads every one the kernel sends.
///
/// Properties: an event comes only from a datagram with an `ACTION=` field and a `SUBSYSTEM=pci` or
/// `SUBSYSTEM=net` field; empty fields change nothing; an event written back as the kernel formats one
/// parses to the same event.
enum UeventTarget {
    static func run(_ bytes: [UInt8]) throws(FuzzFailure) {
        let event = UeventParser.parse(bytes)
        // Empty fields (a NUL more here and there) are skipped.
        try require(UeventParser.parse(bytes + [0, 0]) == event, "a trailing empty field changed the event")
        if let nul = bytes.firstIndex(of: 0) {
            var padded = bytes
            padded.insert(0, at: nul)
            try require(UeventParser.parse(padded) == event, "an empty field after the header changed the event")
        }
        guard let event else { return }
        Tally.accepted = true
        let fields = bytes.split(separator: 0).map { Array($0) }
        try require(fields.dropFirst().contains { $0.starts(with: Array("ACTION=".utf8)) }, "an event without an ACTION field")
        switch event {
        case .pci(let pci):
            try require(fields.dropFirst().contains(Array("SUBSYSTEM=pci".utf8)), "a PCI event without SUBSYSTEM=pci")
            var again = ["\(pci.action.rawValue)@/devices/fuzz/\(pci.address)", "ACTION=\(pci.action.rawValue)", "SUBSYSTEM=pci",
                         "PCI_SLOT_NAME=\(pci.address)"]
            if let driver = pci.driver { again.append("DRIVER=\(driver)") }
            try require(UeventParser.parse(datagram(again)) == event, "\(event) written back parses differently")
        case .link(let link):
            try require(fields.dropFirst().contains(Array("SUBSYSTEM=net".utf8)), "a link event without SUBSYSTEM=net")
            guard let name = link.interface else { return }
            let action = link.kind == .added ? "add" : link.kind == .removed ? "remove" : "change"
            let again = ["\(action)@/devices/virtual/net/\(name)", "ACTION=\(action)", "SUBSYSTEM=net", "INTERFACE=\(name)",
                         "IFINDEX=\(link.ifindex)"]
            try require(UeventParser.parse(datagram(again)) == event, "\(event) written back parses differently")
        default:
            throw FuzzFailure(description: "a uevent parsed as \(event), neither a PCI nor a link event")
        }
    }

    static func datagram(_ fields: [String]) -> [UInt8] {
        var bytes: [UInt8] = []
        for field in fields { bytes += Array(field.utf8) + [0] }
        return bytes
    }
}
