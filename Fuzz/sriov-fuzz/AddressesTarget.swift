import Foundation
import SRIOVAPI
import SRIOVConfig
import SRIOVCore

/// The text parsers every CLI argument, config value and URL path segment goes through.
///
/// Properties: a refusal is `.invalidArgument` and explains itself; an accepted value printed and parsed
/// again is the same value, and its printed form is canonical (printing it again gives the same text);
/// JSON (Codable) carries it unchanged; values are in their documented ranges.
enum AddressesTarget {
    static func run(_ bytes: [UInt8]) throws(FuzzFailure) {
        let text = String(decoding: bytes, as: UTF8.self)
        try pci(text)
        try mac(text)
        try vlan(text)
        try interfaceName(text)
        try leaseID(text)
        try listen(text)
        if bytes.count >= 6 {
            guard let packed = try? MACAddress(octets: Array(bytes.prefix(6))) else { throw FuzzFailure(description: "six octets refused") }
            try require(MACAddress(packed.description) == packed && packed.octets == Array(bytes.prefix(6)), "MAC from octets does not print back")
        }
    }

    static func json<T: Codable & Equatable>(_ value: T) throws(FuzzFailure) {
        do {
            let data = try JSONEncoder().encode([value])
            let decoded = try JSONDecoder().decode([T].self, from: data)
            try require(decoded == [value], "\(T.self) \(value) changes through JSON")
        } catch let failure as FuzzFailure {
            throw failure
        } catch {
            throw FuzzFailure(description: "\(T.self) \(value) does not go through JSON: \(error)")
        }
    }

    static func pci(_ text: String) throws(FuzzFailure) {
        switch attempt({ () throws(SRIOVError) in try PCIAddress(parsing: text) }) {
        case .failure(let e):
            try requireExplained(e, "PCI address", code: .invalidArgument)
            try require(PCIAddress(text) == nil, "PCIAddress(_:) accepts what init(parsing:) refuses")
        case .success(let a):
            Tally.accepted = true
            let printed = a.description
            try require(PCIAddress(printed) == a, "PCI address \(Quote.shell(text)) prints as \(printed), which parses differently")
            try require(PCIAddress(printed)?.description == printed, "PCI address \(printed) is not canonical")
            try require(printed == printed.lowercased() && printed.utf8.count >= 12, "PCI address prints as \(printed)")
            try require(a.device < 32 && a.function < 8, "PCI address \(printed) out of range")
            try require(PCIAddress(domain: a.domain, routingID: a.routingID) == a, "PCI address \(printed) does not survive its routing ID")
            try json(a)
        }
    }

    static func mac(_ text: String) throws(FuzzFailure) {
        switch attempt({ () throws(SRIOVError) in try MACAddress(parsing: text) }) {
        case .failure(let e):
            try requireExplained(e, "MAC", code: .invalidArgument)
        case .success(let m):
            Tally.accepted = true
            let printed = m.description
            try require(printed.utf8.count == 17 && MACAddress(printed) == m, "MAC \(Quote.shell(text)) prints as \(printed), which parses differently")
            try require((try? MACAddress(octets: m.octets)) == m, "MAC \(printed) does not survive its octets")
            switch attempt({ () throws(SRIOVError) in try MACAddress(assignable: text) }) {
            case .success(let assignable):
                try require(assignable == m && !m.isMulticast && !m.isBroadcast, "MAC \(printed) assignable but multicast")
            case .failure(let e):
                try requireExplained(e, "assignable MAC", code: .invalidArgument)
                try require(m.isMulticast, "MAC \(printed) refused as assignable but unicast")
            }
            try json(m)
        }
    }

    static func vlan(_ text: String) throws(FuzzFailure) {
        switch attempt({ () throws(SRIOVError) in try VLAN.parseID(text) }) {
        case .failure(let e): try requireExplained(e, "VLAN id", code: .invalidArgument)
        case .success(let id):
            Tally.accepted = true
            try require((0...4094).contains(id), "VLAN id \(id) accepted")
            try require((try? VLAN.parseID(String(id))) == id, "VLAN id \(id) does not parse back")
            guard let v = try? VLAN(id: id) else { throw FuzzFailure(description: "VLAN id \(id) parsed but VLAN(id:) refuses it") }
            try json(v)
        }
        switch attempt({ () throws(SRIOVError) in try VLAN.parseQoS(text) }) {
        case .failure(let e): try requireExplained(e, "VLAN QoS", code: .invalidArgument)
        case .success(let qos): try require((0...7).contains(qos), "QoS \(qos) accepted")
        }
        switch attempt({ () throws(SRIOVError) in try VLANProtocol(parsing: text) }) {
        case .failure(let e): try requireExplained(e, "VLAN protocol", code: .invalidArgument)
        case .success(let p):
            Tally.accepted = true
            try require((try? VLANProtocol(parsing: p.rawValue)) == p && (try? VLANProtocol(etherType: p.etherType)) == p,
                        "VLAN protocol \(p) does not print back")
        }
        switch attempt({ () throws(SRIOVError) in try VFLinkState(parsing: text) }) {
        case .failure(let e): try requireExplained(e, "VF link state", code: .invalidArgument)
        case .success(let s): try require((try? VFLinkState(parsing: s.rawValue)) == s, "link state \(s) does not print back")
        }
    }

    static func interfaceName(_ text: String) throws(FuzzFailure) {
        switch attempt({ () throws(SRIOVError) in try InterfaceName(parsing: text) }) {
        case .failure(let e): try requireExplained(e, "interface name", code: .invalidArgument)
        case .success(let n):
            Tally.accepted = true
            try require(n.name == text && (1...15).contains(text.utf8.count), "interface name \(Quote.shell(text)) kept as \(Quote.shell(n.name))")
            try require(!text.utf8.contains { $0 <= 0x20 || $0 == 0x7f || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: ":") },
                        "interface name \(Quote.shell(text)) has a byte the kernel refuses")
            try json(n)
        }
    }

    static func leaseID(_ text: String) throws(FuzzFailure) {
        switch attempt({ () throws(SRIOVError) in try LeaseID(parsing: text) }) {
        case .failure(let e): try requireExplained(e, "lease id", code: .invalidArgument)
        case .success(let id):
            Tally.accepted = true
            try require(id.value == text && text.utf8.count == 18 && text.utf8.starts(with: "l-".utf8),
                        "lease id \(Quote.shell(text)) accepted")
            try json(id)
        }
    }

    static func listen(_ text: String) throws(FuzzFailure) {
        switch attempt({ () throws(SRIOVError) in try ListenAddress.parse(text) }) {
        case .failure(let e): try requireExplained(e, "listen address", code: .invalidArgument)
        case .success(let a):
            Tally.accepted = true
            try require((0...65535).contains(a.port) && !a.host.isEmpty, "listen address \(a) accepted")
            switch attempt({ () throws(SRIOVError) in try ListenAddress.parse(a.description) }) {
            case .success(let again): try require(again == a, "listen address \(Quote.shell(text)) prints as \(a), which parses as \(again)")
            case .failure(let e): throw FuzzFailure(description: "listen address \(Quote.shell(text)) prints as \(a), which is refused: \(e.message)")
            }
        }
    }
}
