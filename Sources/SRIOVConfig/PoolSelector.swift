import SRIOVCore

/// Which VFs a pool takes. A VF matches a selector when it matches every key the selector gives; a pool
/// is the union of its selectors.
public struct PoolSelector: Sendable, Equatable {
    /// Netdev name or PCI address of the PF.
    public var pf: String?
    /// VF indexes on that PF (needs `pf`).
    public var vfRange: ClosedRange<Int>?
    /// Explicit VFs.
    public var pciAddresses: [PCIAddress]
    /// The VF's PCI vendor and device id, four lower-case hex digits each (`15b3`, `1018`).
    public var vendorDevice: (vendor: String, device: String)?
    public var numaNode: Int?
    /// Whole PCI functions (`devices:`), leased as they are instead of their VFs: a PF with no VFs.
    /// Given alone in its selector; a pool holds either VFs or whole devices.
    public var devices: [PCIAddress] = []

    /// Written as the `vfs: "ens1f0#0-7"` shorthand (only changes which key errors name).
    var viaShorthand = false

    public init(pf: String? = nil, vfRange: ClosedRange<Int>? = nil, pciAddresses: [PCIAddress] = [],
                vendorDevice: (vendor: String, device: String)? = nil, numaNode: Int? = nil) {
        self.pf = pf
        self.vfRange = vfRange
        self.pciAddresses = pciAddresses
        self.vendorDevice = vendorDevice
        self.numaNode = numaNode
    }

    public static func == (lhs: PoolSelector, rhs: PoolSelector) -> Bool {
        lhs.pf == rhs.pf && lhs.vfRange == rhs.vfRange && lhs.pciAddresses == rhs.pciAddresses
            && lhs.vendorDevice?.vendor == rhs.vendorDevice?.vendor
            && lhs.vendorDevice?.device == rhs.vendorDevice?.device
            && lhs.numaNode == rhs.numaNode && lhs.devices == rhs.devices
    }

    /// True when the selector names no key at all (it would match every VF of the host).
    public var isEmpty: Bool {
        pf == nil && vfRange == nil && pciAddresses.isEmpty && vendorDevice == nil && numaNode == nil && devices.isEmpty
    }

    /// The key `pf`/`range` errors point at.
    var pfKey: String { viaShorthand ? "vfs" : "pf" }
    var rangeKey: String { viaShorthand ? "vfs" : "range" }
}

extension PoolSelector {
    static let keys = ["vfs", "pf", "range", "pci", "vendor_device", "numa", "devices"]

    static func parse(_ value: YAMLValue) throws(SRIOVError) -> PoolSelector {
        let map = try value.mapping("a pool selector", keys: keys)
        var selector = PoolSelector()
        if let vfs = map["vfs"] {
            for key in ["pf", "range"] where map.has(key) {
                throw vfs.fail("vfs: is shorthand for pf: plus range:; give either vfs: or \(key):, not both")
            }
            (selector.pf, selector.vfRange) = try parseShorthand(vfs)
            selector.viaShorthand = true
        }
        if let pf = map["pf"] { selector.pf = try PFReference.parse(pf) }
        if let range = map["range"] {
            let text = try range.string("a VF index range such as 0-7")
            guard map.has("pf") else {
                throw range.fail("range: needs pf: in the same selector (VF indexes are per PF); add pf: <netdev or PCI address>, or write vfs: \"<pf>#\(text)\"")
            }
            selector.vfRange = try parseIndexRange(range, text: text)
        }
        if let pci = map["pci"] {
            selector.pciAddresses = try pci.listOrScalar("VF PCI addresses").map { v throws(SRIOVError) in
                do throws(SRIOVError) { return try PCIAddress(parsing: v.string("a PCI address")) } catch { throw v.fail(error) }
            }
            var seen = Set<PCIAddress>()
            for (i, address) in selector.pciAddresses.enumerated() where !seen.insert(address).inserted {
                throw pci.location.index(i, line: pci.location.line).error(value.context.source,
                    "\(address) is listed twice; remove the duplicate")
            }
        }
        if let vd = map["vendor_device"] { selector.vendorDevice = try parseVendorDevice(vd) }
        if let numa = map["numa"] {
            let node = try numa.int("numa (a NUMA node number)", in: Int.min...Int.max)
            do throws(SRIOVError) { selector.numaNode = try NUMANode(node).value } catch { throw numa.fail(error) }
        }
        if let devices = map["devices"] {
            for key in keys where key != "devices" && map.has(key) {
                throw devices.fail("devices: takes whole PCI functions and stands alone in its selector; move \(key): to a selector of its own (in a pool of VFs: a pool holds either VFs or whole devices)")
            }
            selector.devices = try devices.listOrScalar("PCI addresses of whole functions").map { v throws(SRIOVError) in
                do throws(SRIOVError) { return try PCIAddress(parsing: v.string("a PCI address")) } catch { throw v.fail(error) }
            }
            var seen = Set<PCIAddress>()
            for (i, address) in selector.devices.enumerated() where !seen.insert(address).inserted {
                throw devices.location.index(i, line: devices.location.line).error(value.context.source,
                    "\(address) is listed twice; remove the duplicate")
            }
        }
        if selector.isEmpty {
            throw value.fail("an empty selector would take every VF of the host; give at least one of \(KeySuggestion.list(keys))")
        }
        return selector
    }

    /// `ens1f0#0-7`, `0000:3b:00.0#3`.
    static func parseShorthand(_ value: YAMLValue) throws(SRIOVError) -> (String, ClosedRange<Int>) {
        let text = try value.string("PF#first-last such as \"ens1f0#0-7\"")
        guard let hash = text.lastIndex(of: "#") else {
            throw value.fail("\(Quote.shell(text)) has no '#'; write the PF, '#', then the VF indexes: \"ens1f0#0-7\" (quoted: '#' after a space starts a YAML comment)")
        }
        let pfText = String(text[..<hash]).trimmingSpaces
        let rangeText = String(text[text.index(after: hash)...]).trimmingSpaces
        let pf = try PFReference.check(pfText, at: value)
        return (pf, try parseIndexRange(value, text: rangeText))
    }

    /// `0-7` or `3`: VF indexes, low before high.
    static func parseIndexRange(_ value: YAMLValue, text: String) throws(SRIOVError) -> ClosedRange<Int> {
        guard let (low, high) = ConfigNumbers.range(text) else {
            throw value.fail("\(Quote.shell(text)) is not a VF index range; write first-last such as 0-7, or one index")
        }
        for index in [low, high] {
            do throws(SRIOVError) { _ = try VFIndex(index) } catch { throw value.fail(error) }
        }
        guard low <= high else {
            throw value.fail("VF range \(Quote.shell(text)) is reversed; write it low-high: \(high)-\(low)")
        }
        return low...high
    }

    /// `15b3:1018` (also `0x15b3:0x1018`), normalised to lower case without `0x`.
    static func parseVendorDevice(_ value: YAMLValue) throws(SRIOVError) -> (vendor: String, device: String) {
        let text = try value.string("vendor:device such as \"15b3:1018\"")
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map { PCIIDs.normalise(String($0)) }
        guard parts.count == 2, let vendor = parts[0], let device = parts[1] else {
            throw value.fail("invalid vendor_device \(Quote.shell(text)): write the VF's PCI vendor and device ids as 4 hex digits each, such as \"15b3:1018\" (see `lspci -nn`)")
        }
        return (vendor, device)
    }
}

/// PCI vendor/device ids: sysfs writes `0x15b3`, lspci `15b3`.
enum PCIIDs {
    static func normalise(_ text: String) -> String? {
        var body = Substring(text.trimmingSpaces.lowercased())
        if body.hasPrefix("0x") { body = body.dropFirst(2) }
        guard body.utf8.count == 4, body.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            return nil
        }
        return String(body)
    }
}
