/// Reads the whole host: the PFs, their VFs and the host facts.
///
/// Implemented by `SRIOVSysfs.SysfsDiscovery` over any sysfs-shaped tree (the real `/sys` or the
/// simulator's).
public protocol HostInventorySource: Sendable {
    func inventory() throws(SRIOVError) -> HostInventory
    /// One device's driver, override and IOMMU group (with the group's members), read directly:
    /// what lease steps check after binding, without rediscovering the whole host. Nil if absent.
    func device(_ address: PCIAddress) throws(SRIOVError) -> DeviceStatus?
    /// One PF with its VFs, read without discovering the rest of the host; nil if it is not an SR-IOV PF.
    func physicalFunction(_ address: PCIAddress) throws(SRIOVError) -> PhysicalFunction?
    /// The interfaces that carry a default route (the management NIC).
    func defaultRouteInterfaces() -> [InterfaceName]
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
/// rules) and by `SRIOVSimulator.SimulatedHost` (which applies the same rules itself).
public protocol PCIDeviceControl: Sendable {
    /// Kernel interface: `/sys/bus/pci/devices/<pf>/sriov_numvfs`.
    func writeNumVFs(_ count: Int, pf: PCIAddress) throws(SRIOVError)
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
}

extension PCIDeviceControl {
    public func rebind(_ device: PCIAddress, override driver: String) throws(SRIOVError) {
        try unbind(device)
        try writeDriverOverride(driver, device: device)
        try probe(device)
    }

    public func detach(_ device: PCIAddress) throws(SRIOVError) {
        try unbind(device)
        try writeDriverOverride(nil, device: device)
    }
}
