/// Whole-device passthrough: a PCI function leased as it is (a PF with no VFs) rather than its VFs.
///
/// A lease holds a whole function as a `LeasedVF` whose `pf` is the function itself; the engine's
/// views of "what a lease may hold" list it the same way: a `VirtualFunction` whose `pf` is its own
/// address, under a `PhysicalFunction` without interfaces (VF settings do not apply to it).
extension PhysicalFunction {
    /// This function as a lease holds it whole: itself as its own "VF" (index 0), with its driver,
    /// override, IOMMU group and NUMA node.
    public var asWholeDevice: (function: VirtualFunction, holder: PhysicalFunction) {
        let function = VirtualFunction(index: 0, pciAddress: pciAddress, pf: pciAddress, deviceID: deviceID, driver: driver,
                                       driverOverride: nil, iommuGroup: iommuGroup, interfaces: interfaces, numaNode: numaNode)
        let holder = PhysicalFunction(pciAddress: pciAddress, vendorID: vendorID, deviceID: deviceID, driver: driver,
                                      interfaces: [], numVFs: numVFs, totalVFs: totalVFs, numaNode: numaNode,
                                      iommuGroup: iommuGroup, isManagement: isManagement)
        return (function, holder)
    }
}

extension HostInventory {
    /// Every function a lease may hold, by address: each VF with its PF, and each PF as a whole
    /// device (`PhysicalFunction.asWholeDevice`), so a PF leased whole is not judged vanished.
    public var leasableFunctions: [PCIAddress: (vf: VirtualFunction, pf: PhysicalFunction)] {
        var map: [PCIAddress: (vf: VirtualFunction, pf: PhysicalFunction)] = [:]
        for pf in pfs {
            for vf in pf.vfs { map[vf.pciAddress] = (vf, pf) }
            let whole = pf.asWholeDevice
            map[pf.pciAddress] = (whole.function, whole.holder)
        }
        return map
    }
}

extension PCIAddress {
    /// Another function of the same PCI device (same domain, bus and slot): what Proxmox's "All
    /// Functions" passes through together.
    public func isSiblingFunction(of other: PCIAddress) -> Bool {
        self != other && domain == other.domain && (routingID >> 3) == (other.routingID >> 3)
    }
}
