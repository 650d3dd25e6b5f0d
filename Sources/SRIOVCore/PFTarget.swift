/// Where a PF's SR-IOV controls live: a PCI function, or a netdevsim test device (which has
/// `sriov_numvfs` on the netdevsim bus and no PCI VFs).
public enum PFDevice: Hashable, Sendable, CustomStringConvertible {
    case pci(PCIAddress)
    /// `/sys/bus/netdevsim/devices/netdevsim<N>`
    case netdevsim(Int)

    public var description: String {
        switch self {
        case .pci(let a): return a.description
        case .netdevsim(let n): return "netdevsim\(n)"
        }
    }

    public var pciAddress: PCIAddress? {
        if case .pci(let a) = self { return a }
        return nil
    }
}

/// A PF a command acts on, resolved from a netdev name or a PCI address.
public struct PFTarget: Sendable {
    public var device: PFDevice
    public var interface: InterfaceName?
    public var driver: String?
    public var numVFs: Int
    /// nil where the device does not publish it (netdevsim).
    public var totalVFs: Int?
    /// Carries the host's default route (or is marked protected): writes need --force.
    public var isManagement: Bool
    /// The inventory's view of a PCI PF (VF addresses, drivers, groups).
    public var pf: PhysicalFunction?

    public init(device: PFDevice, interface: InterfaceName?, driver: String?, numVFs: Int, totalVFs: Int?,
                isManagement: Bool, pf: PhysicalFunction?) {
        self.device = device
        self.interface = interface
        self.driver = driver
        self.numVFs = numVFs
        self.totalVFs = totalVFs
        self.isManagement = isManagement
        self.pf = pf
    }

    /// A PCI PF as the inventory shows it.
    public init(_ pf: PhysicalFunction) {
        self.init(device: .pci(pf.pciAddress), interface: pf.interfaces.first, driver: pf.driver, numVFs: pf.numVFs,
                  totalVFs: pf.totalVFs, isManagement: pf.isManagement, pf: pf)
    }

    /// "0000:3b:00.0 (ens1f0)" for messages.
    public var label: String {
        interface.map { "\(device) (\($0))" } ?? device.description
    }

    /// The netdev VF settings go through.
    public func requireInterface() throws(SRIOVError) -> InterfaceName {
        guard let interface else {
            throw SRIOVError(.unsupported, "\(label) has no network interface, so its VFs have no netlink settings (an NVMe or a PF without a netdev driver)")
        }
        return interface
    }

    /// Set when the configuration lists this PF under `protected_pfs` (names the config file).
    public var protectedByConfig: String?

    /// Refuses a write to the management NIC or a configured protected PF unless forced.
    public func checkWritable(force: Bool, action: String) throws(SRIOVError) {
        guard !force else { return }
        if isManagement {
            throw SRIOVError(.protected, "\(label) carries the host's default route (the management NIC); sriovd will not \(action) on it. Pass --force if you really mean to")
        }
        if let source = protectedByConfig {
            throw SRIOVError(.protected, "\(label) is listed under protected_pfs in \(source); sriovd will not \(action) on it. Pass --force if you really mean to, or remove it from protected_pfs")
        }
    }

    public var configuratorTarget: VFConfigurator.Target? {
        interface.map { VFConfigurator.Target(interface: $0, label: label, driver: driver) }
    }
}

/// What `pf show` reports: the PF and every VF 0..<numVFs exactly once, sysfs and netlink merged.
public struct PFStatus: Sendable, Codable, Equatable {
    public struct PFInfo: Sendable, Codable, Equatable {
        public var interface: String?
        public var device: String
        public var pciAddress: PCIAddress?
        public var driver: String?
        public var numVFs: Int
        public var totalVFs: Int?
        public var operState: String?
        public var `protected`: Bool
    }

    public struct VFInfo: Sendable, Codable, Equatable {
        public enum Source: String, Sendable, Codable { case netlink, sysfsOnly = "sysfs-only" }
        public var index: Int
        public var pciAddress: PCIAddress?
        public var driver: String?
        public var iommuGroup: Int?
        public var mac: String?
        public var vlan: Int?
        public var qos: Int?
        public var vlanProto: String?
        public var spoofCheck: Bool?
        public var trust: Bool?
        public var linkState: String?
        public var minTxRate: UInt32?
        public var maxTxRate: UInt32?
        public var queryRSS: Bool?
        public var source: Source
    }

    public var pf: PFInfo
    public var vfs: [VFInfo]
    public var kernelListWrapped: Bool
    public var missing: [Int]

    public init(target: PFTarget, readout: VFReadout?) {
        let count = max(readout?.numVFs ?? target.numVFs, target.numVFs)
        pf = PFInfo(interface: target.interface?.name, device: target.device.description,
                    pciAddress: target.device.pciAddress, driver: target.driver, numVFs: count,
                    totalVFs: target.totalVFs, operState: readout?.operState, protected: target.isManagement)
        let sysfs = Dictionary((target.pf?.vfs ?? []).map { ($0.index, $0) }, uniquingKeysWith: { a, _ in a })
        let netlink = Dictionary((readout?.vfs ?? []).map { ($0.index, $0) }, uniquingKeysWith: { a, _ in a })
        vfs = (0..<count).map { index in
            let s = sysfs[index]
            var info = VFInfo(index: index, pciAddress: s?.pciAddress, driver: s?.driver, iommuGroup: s?.iommuGroup,
                              source: .sysfsOnly)
            if let n = netlink[index] {
                info.mac = n.mac.description
                info.vlan = Int(n.vlan.id)
                info.qos = Int(n.vlan.qos)
                info.vlanProto = n.vlan.proto.rawValue
                info.spoofCheck = n.spoofCheck
                info.trust = n.trust
                info.linkState = n.linkState?.rawValue
                info.minTxRate = n.minTxRate
                info.maxTxRate = n.maxTxRate
                info.queryRSS = n.queryRSS
                info.source = .netlink
            }
            return info
        }
        kernelListWrapped = readout?.recoveredPastTruncatedLength ?? false
        missing = readout == nil ? [] : vfs.filter { $0.source == .sysfsOnly }.map(\.index)
    }
}
