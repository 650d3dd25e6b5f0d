/// What sriovd knows about a host: its SR-IOV PFs with their VFs, the network functions without
/// SR-IOV (leasable whole), and the host facts `doctor` judges.
public struct HostInventory: Sendable, Codable, Equatable {
    public var host: HostFacts
    /// Sorted by PCI address.
    public var pfs: [PhysicalFunction]
    /// Network functions (PCI class 0x02) without SR-IOV and not VFs, sorted by PCI address: what a
    /// `devices:` pool may lease whole besides a PF with no VFs. Not PFs: `pf:` selectors, `sriovctl pf`
    /// and doctor's SR-IOV checks never see them.
    public var functions: [PCIFunction]

    public init(host: HostFacts, pfs: [PhysicalFunction], functions: [PCIFunction] = []) {
        self.host = host
        self.pfs = pfs
        self.functions = functions
    }

    enum CodingKeys: String, CodingKey { case host, pfs, functions }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        host = try c.decode(HostFacts.self, forKey: .host)
        pfs = try c.decode([PhysicalFunction].self, forKey: .pfs)
        // A daemon from before functions without SR-IOV were listed sends none.
        functions = try c.decodeIfPresent([PCIFunction].self, forKey: .functions) ?? []
    }

    /// Finds a PF by PCI address or by one of its netdev names.
    public func pf(named text: String) throws(SRIOVError) -> PhysicalFunction {
        if let address = PCIAddress(text) {
            if let pf = pfs.first(where: { $0.pciAddress == address }) { return pf }
            if pfs.contains(where: { pf in pf.vfs.contains { $0.pciAddress == address } }) {
                throw SRIOVError(.invalidArgument, "\(address) is a VF, not a PF; name its PF (see `sriovctl inventory --vfs`)")
            }
            throw SRIOVError(.notFound, "no SR-IOV PF at \(address); `sriovctl inventory` lists the PFs of this host")
        }
        let name = try InterfaceName(parsing: text)
        if let pf = pfs.first(where: { $0.interfaces.contains(name) }) { return pf }
        throw SRIOVError(.notFound, "no SR-IOV PF has the interface \(name); `sriovctl inventory` lists the PFs of this host")
    }

    /// Every VF of every PF.
    public var allVFs: [VirtualFunction] { pfs.flatMap(\.vfs) }
}

/// One SR-IOV capable PCI function (a PF).
public struct PhysicalFunction: Sendable, Codable, Equatable {
    public var pciAddress: PCIAddress
    public var vendorID: String?
    public var deviceID: String?
    public var driver: String?
    public var interfaces: [InterfaceName]
    public var numVFs: Int
    public var totalVFs: Int
    /// `sriov_drivers_autoprobe`: whether new VFs are bound to a driver as they are born.
    public var driversAutoprobe: Bool?
    public var numaNode: NUMANode?
    /// `operstate` of the first netdev (`up`, `down`, ...).
    public var linkState: String?
    /// `carrier` of the first netdev (false also while it is admin-down), nil without a netdev or
    /// when unreadable: what `require_link: up` checks (`PFLinkState`).
    public var carrier: Bool?
    public var iommuGroup: Int?
    /// True when this PF (or one of its VFs) carries the host's default route.
    public var isManagement: Bool
    public var vfs: [VirtualFunction]
    /// Things discovery could not read or found inconsistent (a dangling `virtfn` link, ...).
    public var problems: [String]

    public init(pciAddress: PCIAddress, vendorID: String? = nil, deviceID: String? = nil, driver: String? = nil,
                interfaces: [InterfaceName] = [], numVFs: Int = 0, totalVFs: Int = 0, driversAutoprobe: Bool? = nil,
                numaNode: NUMANode? = nil, linkState: String? = nil, carrier: Bool? = nil, iommuGroup: Int? = nil,
                isManagement: Bool = false, vfs: [VirtualFunction] = [], problems: [String] = []) {
        self.pciAddress = pciAddress
        self.vendorID = vendorID
        self.deviceID = deviceID
        self.driver = driver
        self.interfaces = interfaces
        self.numVFs = numVFs
        self.totalVFs = totalVFs
        self.driversAutoprobe = driversAutoprobe
        self.numaNode = numaNode
        self.linkState = linkState
        self.carrier = carrier
        self.iommuGroup = iommuGroup
        self.isManagement = isManagement
        self.vfs = vfs
        self.problems = problems
    }

    /// The name to show for this PF: its first netdev, else its PCI address.
    public var displayName: String { interfaces.first?.name ?? pciAddress.description }

    /// "0000:3b:00.0 (ens1f0)" for messages.
    public var label: String {
        interfaces.isEmpty ? pciAddress.description : "\(pciAddress) (\(interfaces.map(\.name).joined(separator: ",")))"
    }

    /// VFs bound to a driver (any driver), as opposed to driverless.
    public var boundVFCount: Int { vfs.filter { $0.driver != nil }.count }
}

/// A PCI network function without SR-IOV (no `sriov_totalvfs`, no `physfn`): a NIC a `devices:` pool
/// may lease whole, as sysfs shows it.
public struct PCIFunction: Sendable, Codable, Equatable {
    public var pciAddress: PCIAddress
    public var vendorID: String?
    public var deviceID: String?
    /// PCI class code, e.g. `0x020000` (Ethernet).
    public var classCode: String?
    public var driver: String?
    public var interfaces: [InterfaceName]
    public var iommuGroup: Int?
    public var numaNode: NUMANode?
    /// True when this function carries the host's default route (through VLAN/bond/bridge lower links too).
    public var isManagement: Bool

    public init(pciAddress: PCIAddress, vendorID: String? = nil, deviceID: String? = nil, classCode: String? = nil,
                driver: String? = nil, interfaces: [InterfaceName] = [], iommuGroup: Int? = nil, numaNode: NUMANode? = nil,
                isManagement: Bool = false) {
        self.pciAddress = pciAddress
        self.vendorID = vendorID
        self.deviceID = deviceID
        self.classCode = classCode
        self.driver = driver
        self.interfaces = interfaces
        self.iommuGroup = iommuGroup
        self.numaNode = numaNode
        self.isManagement = isManagement
    }

    /// "0000:03:00.0 (enp3s0)" for messages.
    public var label: String {
        interfaces.isEmpty ? pciAddress.description : "\(pciAddress) (\(interfaces.map(\.name).joined(separator: ",")))"
    }

    /// PCI class 0x02: a network controller.
    public static func isNetworkClass(_ classCode: String?) -> Bool { isClass(classCode, "02") }

    /// PCI class 0x06: a bridge (host, ISA, PCI-to-PCI, ...), never leasable.
    public static func isBridgeClass(_ classCode: String?) -> Bool { isClass(classCode, "06") }

    /// Whether a class code (`0x020000` or `020000`, six hex digits) has the base class `base`.
    static func isClass(_ classCode: String?, _ base: String) -> Bool {
        guard let classCode else { return false }
        let hex = classCode.hasPrefix("0x") ? classCode.dropFirst(2) : Substring(classCode)
        return hex.count == 6 && hex.hasPrefix(base)
    }
}

/// One VF, as sysfs shows it.
public struct VirtualFunction: Sendable, Codable, Equatable {
    public var index: Int
    public var pciAddress: PCIAddress
    public var pf: PCIAddress
    public var deviceID: String?
    public var driver: String?
    /// `driver_override`, when set.
    public var driverOverride: String?
    public var iommuGroup: Int?
    public var interfaces: [InterfaceName]
    public var numaNode: NUMANode?

    public init(index: Int, pciAddress: PCIAddress, pf: PCIAddress, deviceID: String? = nil, driver: String? = nil,
                driverOverride: String? = nil, iommuGroup: Int? = nil, interfaces: [InterfaceName] = [],
                numaNode: NUMANode? = nil) {
        self.index = index
        self.pciAddress = pciAddress
        self.pf = pf
        self.deviceID = deviceID
        self.driver = driver
        self.driverOverride = driverOverride
        self.iommuGroup = iommuGroup
        self.interfaces = interfaces
        self.numaNode = numaNode
    }
}

/// A member of an IOMMU group, for viability checks.
public struct IOMMUGroupMember: Sendable, Codable, Equatable {
    public var pciAddress: PCIAddress
    public var driver: String?
    /// PCI class code, e.g. `0x020000` (Ethernet), `0x060400` (PCI bridge).
    public var classCode: String?

    public init(pciAddress: PCIAddress, driver: String? = nil, classCode: String? = nil) {
        self.pciAddress = pciAddress
        self.driver = driver
        self.classCode = classCode
    }

    /// Bridges may stay in a group that is passed through (vfio allows them).
    public var isBridge: Bool { classCode?.hasPrefix("0x0604") ?? false }
}

public struct IOMMUGroup: Sendable, Codable, Equatable {
    public var id: Int
    public var members: [IOMMUGroupMember]

    public init(id: Int, members: [IOMMUGroupMember]) {
        self.id = id
        self.members = members
    }
}

/// The kernel command line's IOMMU words.
public struct IOMMUCommandLine: Sendable, Codable, Equatable {
    /// Value of `intel_iommu=` (e.g. `on`, `off`, `sm_on`), if given.
    public var intelIOMMU: String?
    /// Value of `amd_iommu=`, if given.
    public var amdIOMMU: String?
    /// Value of `iommu=` (e.g. `pt`), if given.
    public var iommu: String?

    public init(intelIOMMU: String? = nil, amdIOMMU: String? = nil, iommu: String? = nil) {
        self.intelIOMMU = intelIOMMU
        self.amdIOMMU = amdIOMMU
        self.iommu = iommu
    }

    /// Reads the IOMMU words of a kernel command line; the last occurrence wins, as in the kernel.
    public init(parsing cmdline: String) {
        self.init()
        // On UTF-8 bytes: splitting a command line of a few hundred characters as Characters cost ~0.9M
        // instructions, a tenth of a `sriovctl --direct` process.
        for word in cmdline.utf8.split(whereSeparator: { $0 == 0x20 || $0 == 0x0a || $0 == 0x09 }) {
            guard let eq = word.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let key = String(decoding: word[..<eq], as: UTF8.self)
            let value = String(decoding: word[word.index(after: eq)...], as: UTF8.self)
            switch key {
            case "intel_iommu": intelIOMMU = value
            case "amd_iommu": amdIOMMU = value
            case "iommu": iommu = value
            default: break
            }
        }
    }
}

/// Host-wide facts.
public struct HostFacts: Sendable, Codable, Equatable {
    public var kernelRelease: String?
    public var kernelCommandLine: String?
    public var iommuCommandLine: IOMMUCommandLine
    /// `/sys/class/iommu` has units (dmar*, ivhd*, ...): the firmware exposes an IOMMU and the kernel drives it.
    public var iommuUnits: [String]
    /// `/sys/kernel/iommu_groups` has groups: the IOMMU is in use for DMA translation.
    public var iommuGroupsPresent: Bool
    public var iommuGroupCount: Int
    /// Interrupt remapping seen active (IR-* chips in /proc/interrupts), nil when unknown.
    public var interruptRemapping: Bool?
    /// `vfio-pci` is bound-capable now (its driver directory exists).
    public var vfioPCILoaded: Bool
    /// `vfio-pci` can be loaded (loaded, built in, or found in modules.dep).
    public var vfioPCIAvailable: Bool
    /// Interfaces carrying a default route (IPv4 or IPv6).
    public var defaultRouteInterfaces: [InterfaceName]
    /// PCI devices under those interfaces (through VLAN/bond/bridge lower links).
    public var managementDevices: [PCIAddress]
    /// PCI bridges (class 0x06: host bridges, root ports, switch ports), sorted: never leasable, known
    /// so that a `devices:` entry naming one is refused as what it is.
    public var bridges: [PCIAddress]
    /// IOMMU groups that hold a PF, a VF or a network function without SR-IOV.
    public var iommuGroups: [IOMMUGroup]
    /// Problems reading host facts.
    public var problems: [String]

    public init(kernelRelease: String? = nil, kernelCommandLine: String? = nil,
                iommuCommandLine: IOMMUCommandLine = IOMMUCommandLine(), iommuUnits: [String] = [],
                iommuGroupsPresent: Bool = false, iommuGroupCount: Int = 0, interruptRemapping: Bool? = nil,
                vfioPCILoaded: Bool = false, vfioPCIAvailable: Bool = false,
                defaultRouteInterfaces: [InterfaceName] = [], managementDevices: [PCIAddress] = [],
                bridges: [PCIAddress] = [], iommuGroups: [IOMMUGroup] = [], problems: [String] = []) {
        self.kernelRelease = kernelRelease
        self.kernelCommandLine = kernelCommandLine
        self.iommuCommandLine = iommuCommandLine
        self.iommuUnits = iommuUnits
        self.iommuGroupsPresent = iommuGroupsPresent
        self.iommuGroupCount = iommuGroupCount
        self.interruptRemapping = interruptRemapping
        self.vfioPCILoaded = vfioPCILoaded
        self.vfioPCIAvailable = vfioPCIAvailable
        self.defaultRouteInterfaces = defaultRouteInterfaces
        self.managementDevices = managementDevices
        self.bridges = bridges
        self.iommuGroups = iommuGroups
        self.problems = problems
    }

    public func group(_ id: Int) -> IOMMUGroup? { iommuGroups.first { $0.id == id } }

    enum CodingKeys: String, CodingKey {
        case kernelRelease, kernelCommandLine, iommuCommandLine, iommuUnits, iommuGroupsPresent, iommuGroupCount,
             interruptRemapping, vfioPCILoaded, vfioPCIAvailable, defaultRouteInterfaces, managementDevices, bridges,
             iommuGroups, problems
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kernelRelease = try c.decodeIfPresent(String.self, forKey: .kernelRelease)
        kernelCommandLine = try c.decodeIfPresent(String.self, forKey: .kernelCommandLine)
        iommuCommandLine = try c.decode(IOMMUCommandLine.self, forKey: .iommuCommandLine)
        iommuUnits = try c.decode([String].self, forKey: .iommuUnits)
        iommuGroupsPresent = try c.decode(Bool.self, forKey: .iommuGroupsPresent)
        iommuGroupCount = try c.decode(Int.self, forKey: .iommuGroupCount)
        interruptRemapping = try c.decodeIfPresent(Bool.self, forKey: .interruptRemapping)
        vfioPCILoaded = try c.decode(Bool.self, forKey: .vfioPCILoaded)
        vfioPCIAvailable = try c.decode(Bool.self, forKey: .vfioPCIAvailable)
        defaultRouteInterfaces = try c.decode([InterfaceName].self, forKey: .defaultRouteInterfaces)
        managementDevices = try c.decode([PCIAddress].self, forKey: .managementDevices)
        // A daemon from before bridges were recorded sends none.
        bridges = try c.decodeIfPresent([PCIAddress].self, forKey: .bridges) ?? []
        iommuGroups = try c.decode([IOMMUGroup].self, forKey: .iommuGroups)
        problems = try c.decode([String].self, forKey: .problems)
    }
}
