import SRIOVCore

/// Where the host's kernel interfaces are mounted. The real host uses `/sys`, `/proc` and
/// `/lib/modules`; tests and the simulator point these at a directory tree of their own.
public struct HostPaths: Sendable, Equatable {
    /// The sysfs mount (`SysfsRoot`), default `/sys`.
    public var sysfs: String
    /// The procfs mount, default `/proc`.
    public var procfs: String
    /// The kernel modules directory, default `/lib/modules`.
    public var modules: String
    /// Where device nodes live (`/dev`; `/dev/vfio/<group>` appears when a group is bound to vfio-pci).
    public var dev: String

    public static let host = HostPaths(sysfs: DefaultPaths.sysfs, procfs: DefaultPaths.procfs, modules: DefaultPaths.modules)

    public init(sysfs: String, procfs: String, modules: String, dev: String = "/dev") {
        self.sysfs = HostPaths.trimTrailingSlash(sysfs)
        self.procfs = HostPaths.trimTrailingSlash(procfs)
        self.modules = HostPaths.trimTrailingSlash(modules)
        self.dev = HostPaths.trimTrailingSlash(dev)
    }

    /// `/dev/vfio/<group>`.
    public func vfioGroupDevice(_ group: Int) -> String { dev + "/vfio/\(group)" }

    /// A tree that holds `sys/`, `proc/` and `lib/modules/` below one directory (the simulator's layout).
    public init(root: String) {
        let r = HostPaths.trimTrailingSlash(root)
        self.init(sysfs: r + "/sys", procfs: r + "/proc", modules: r + "/lib/modules", dev: r + "/dev")
    }

    /// `/sys/bus/pci/devices/<bdf>`: the only way a device path is formed, from a parsed address.
    public func device(_ address: PCIAddress) -> String { sysfs + "/bus/pci/devices/" + address.description }

    public func deviceAttribute(_ address: PCIAddress, _ attribute: SysfsAttribute) -> String {
        device(address) + "/" + attribute.rawValue
    }

    public var pciDevices: String { sysfs + "/bus/pci/devices" }
    public var pciDrivers: String { sysfs + "/bus/pci/drivers" }
    public var iommuGroups: String { sysfs + "/kernel/iommu_groups" }

    public static func trimTrailingSlash(_ path: String) -> String {
        var p = path
        // utf8.count: O(1) (`count` walks the characters; paths are built on every host call).
        while p.utf8.count > 1 && p.utf8.last == UInt8(ascii: "/") { p.removeLast() }
        return p
    }
}

/// The sysfs attributes sriovd reads or writes; paths are built from these names only.
public enum SysfsAttribute: String, Sendable {
    case vendor, device, `class`
    case numaNode = "numa_node"
    case sriovNumVFs = "sriov_numvfs"
    case sriovTotalVFs = "sriov_totalvfs"
    case sriovDriversAutoprobe = "sriov_drivers_autoprobe"
    case sriovOffset = "sriov_offset"
    case sriovStride = "sriov_stride"
    case sriovVFDevice = "sriov_vf_device"
    case driver
    case driverOverride = "driver_override"
    case iommuGroup = "iommu_group"
    case physfn
    case net
}
