/// Reads the whole host: the PFs, their VFs and the host facts.
///
/// Implemented by `SRIOVSysfs.SysfsDiscovery` over any sysfs-shaped tree (the real `/sys` or the
/// simulator's), and in memory by the tests' `FakeHost`.
public protocol HostInventorySource: Sendable {
    func inventory() throws(SRIOVError) -> HostInventory
    /// One device's driver, override and IOMMU group (with the group's members), read directly:
    /// what lease steps check after binding, without rediscovering the whole host. Nil if absent.
    func device(_ address: PCIAddress) throws(SRIOVError) -> DeviceStatus?
    /// One PF with its VFs, read without discovering the rest of the host; nil if it is not an SR-IOV PF.
    func physicalFunction(_ address: PCIAddress) throws(SRIOVError) -> PhysicalFunction?
    /// The interfaces that carry a default route (the management NIC).
    func defaultRouteInterfaces() -> [InterfaceName]
    /// The PF a user names: a PCI address or the netdev of an SR-IOV PF (or of a netdevsim port, which
    /// has SR-IOV but no PCI function), reading only that PF. Refuses a VF, naming its PF as the remedy.
    ///
    /// Kernel interface: `/sys/class/net/<if>/device`, `/sys/bus/pci/devices/<bdf>/{sriov_totalvfs,physfn}`,
    /// `/sys/bus/netdevsim/devices/netdevsim<N>/sriov_numvfs`.
    func resolvePF(_ text: String) throws(SRIOVError) -> PFTarget
    /// A PF's VF count as the kernel reports it now. The error names the attribute it could not read;
    /// callers put the PF's label in front.
    ///
    /// Kernel interface: `/sys/bus/pci/devices/<pf>/sriov_numvfs`, or
    /// `/sys/bus/netdevsim/devices/netdevsim<N>/sriov_numvfs`.
    func readNumVFs(_ pf: PFDevice) throws(SRIOVError) -> Int
    /// How many of a PCI PF's VFs exist as devices now: behind `sriov_numvfs` while the driver is still
    /// creating or removing them (mlx5 takes about a minute for 125).
    ///
    /// Kernel interface: `/sys/bus/pci/devices/<pf>/virtfn<N>` (links whose device directory exists).
    func presentVFs(of pf: PCIAddress) -> Int
    /// The group's VFIO device node, which the kernel creates once a member is bound to vfio-pci: what a
    /// VM opens, so a lease is not active without it.
    ///
    /// Kernel interface: `/dev/vfio/<group>`.
    func vfioGroupNode(_ group: Int) -> VFIOGroupNode
    /// A PF netdev's link now (carrier, operstate): two small reads, cheap enough for every acquire to
    /// make once per PF of its pool (`require_link: up`). A netdev that does not exist reads as unknown.
    ///
    /// Kernel interface: `/sys/class/net/<if>/carrier` (EINVAL while admin-down: no link),
    /// `/sys/class/net/<if>/operstate` (`PFLinkState.fromSysfs`).
    func pfLink(_ interface: InterfaceName) -> PFLinkState
    /// The inventory as `inventory()` reads it, for the devices `scope` names only: each named PF with
    /// its VFs (a named VF brings its PF), each named device without SR-IOV, and the IOMMU groups of
    /// all of them with every member (read from the group's directory, so isolation is judged as on
    /// the whole host); the management devices and host facts as ever. What a short-lived process
    /// that works on its pools needs, without reading every PCI device. A source that cannot scope
    /// reads the whole host (the default).
    func inventory(scope: DiscoveryScope) throws(SRIOVError) -> HostInventory
}

extension HostInventorySource {
    public func inventory(scope: DiscoveryScope) throws(SRIOVError) -> HostInventory { try inventory() }
}

/// The devices a scoped discovery reads (`HostInventorySource.inventory(scope:)`), by PCI address or
/// netdev name, as a configuration names them.
public struct DiscoveryScope: Sendable, Equatable {
    public var devices: Set<PCIAddress>
    public var interfaces: Set<String>

    public init(devices: Set<PCIAddress> = [], interfaces: Set<String> = []) {
        self.devices = devices
        self.interfaces = interfaces
    }

    /// Adds a PF or device as a configuration names it: a PCI address, or else a netdev name.
    public mutating func insert(named text: String) {
        if let address = PCIAddress(text) { devices.insert(address) } else { interfaces.insert(text) }
    }
}

/// `/dev/vfio/<group>` on a host: where it is (under the host's `/dev`) and whether it exists now.
public struct VFIOGroupNode: Sendable, Equatable {
    public var path: String
    public var exists: Bool

    public init(path: String, exists: Bool) {
        self.path = path
        self.exists = exists
    }
}

/// One PCI device as its sysfs directory shows it now.
public struct DeviceStatus: Sendable, Equatable {
    public var pciAddress: PCIAddress
    public var driver: String?
    public var driverOverride: String?
    public var iommuGroup: IOMMUGroup?

    public init(pciAddress: PCIAddress, driver: String?, driverOverride: String?, iommuGroup: IOMMUGroup?) {
        self.pciAddress = pciAddress
        self.driver = driver
        self.driverOverride = driverOverride
        self.iommuGroup = iommuGroup
    }
}

/// The PCI side of SR-IOV: VF counts and driver binding, as sysfs offers them.
///
/// Implemented by `SRIOVSysfs.SysfsPCIControl` (writes to the real sysfs, where the kernel applies its
/// rules), by `SRIOVSimulator.SimulatedHost` (which applies the same rules itself) and, in memory, by
/// the tests' `FakeHost` (the simulator's rules again).
public protocol PCIDeviceControl: Sendable {
    /// Kernel interface: `/sys/bus/pci/devices/<pf>/sriov_numvfs`.
    func writeNumVFs(_ count: Int, pf: PCIAddress) throws(SRIOVError)
    /// The VF count of any PF a user can name: a PCI PF (`writeNumVFs(_:pf:)`) or a netdevsim device.
    /// The default handles PCI PFs and refuses netdevsim, for hosts that have none.
    ///
    /// Kernel interface: `/sys/bus/pci/devices/<pf>/sriov_numvfs`, or
    /// `/sys/bus/netdevsim/devices/netdevsim<N>/sriov_numvfs`.
    func writeNumVFs(_ count: Int, device: PFDevice) throws(SRIOVError)
    /// Kernel interface: `/sys/bus/pci/devices/<pf>/sriov_drivers_autoprobe`.
    func writeDriversAutoprobe(_ on: Bool, pf: PCIAddress) throws(SRIOVError)
    /// Kernel interface: `/sys/bus/pci/devices/<dev>/driver/unbind`. No-op when unbound.
    func unbind(_ device: PCIAddress) throws(SRIOVError)
    /// Kernel interface: `/sys/bus/pci/devices/<dev>/driver_override` (nil clears it).
    func writeDriverOverride(_ driver: String?, device: PCIAddress) throws(SRIOVError)
    /// Kernel interface: `/sys/bus/pci/drivers_probe`.
    func probe(_ device: PCIAddress) throws(SRIOVError)
    /// `unbind`, then `driver_override` = `driver`, then `probe`, in that order (the default does
    /// exactly those three writes; the simulator does them under one lock).
    func rebind(_ device: PCIAddress, override driver: String) throws(SRIOVError)
    /// `unbind`, then clear `driver_override`.
    func detach(_ device: PCIAddress) throws(SRIOVError)
    /// Whether `rebind` and `detach` are one step of their own (the simulator takes its lock once)
    /// rather than the three or two writes of the defaults: a wrapper that times each write must then
    /// call them as they are. Default: false.
    var bindsAtomically: Bool { get }
}

extension PCIDeviceControl {
    public func writeNumVFs(_ count: Int, device: PFDevice) throws(SRIOVError) {
        switch device {
        case .pci(let address):
            try writeNumVFs(count, pf: address)
        case .netdevsim:
            throw SRIOVError(.notFound, "\(device): cannot set sriov_numvfs to \(count): this host has no netdevsim devices; name a PCI PF (`sriovctl inventory` lists them)",
                             cause: .errno(Errno.ENODEV))
        }
    }

    public func rebind(_ device: PCIAddress, override driver: String) throws(SRIOVError) {
        try unbind(device)
        try writeDriverOverride(driver, device: device)
        try probe(device)
    }

    public func detach(_ device: PCIAddress) throws(SRIOVError) {
        try unbind(device)
        try writeDriverOverride(nil, device: device)
    }

    public var bindsAtomically: Bool { false }
}
