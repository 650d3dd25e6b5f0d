/// Whole-device passthrough: a PCI function leased as it is (a PF with no VFs, or a network function
/// without SR-IOV) rather than its VFs.
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

extension PCIFunction {
    /// This function in the shape the whole-device path takes: a "PF" that has no SR-IOV (no VFs, a
    /// total of 0), so leasing it is exactly leasing a PF with no VFs, and no VF-count logic applies.
    public var asPhysicalFunction: PhysicalFunction {
        PhysicalFunction(pciAddress: pciAddress, vendorID: vendorID, deviceID: deviceID, driver: driver, interfaces: interfaces,
                         numVFs: 0, totalVFs: 0, numaNode: numaNode, iommuGroup: iommuGroup, isManagement: isManagement)
    }
}

extension HostInventory {
    /// Every function a lease may hold, by address: each VF with its PF, and each PF and each function
    /// without SR-IOV as a whole device (`PhysicalFunction.asWholeDevice`), so a function leased whole
    /// is not judged vanished.
    public var leasableFunctions: [PCIAddress: (vf: VirtualFunction, pf: PhysicalFunction)] {
        var map: [PCIAddress: (vf: VirtualFunction, pf: PhysicalFunction)] = [:]
        for pf in pfs {
            for vf in pf.vfs { map[vf.pciAddress] = (vf, pf) }
            let whole = pf.asWholeDevice
            map[pf.pciAddress] = (whole.function, whole.holder)
        }
        for function in functions {
            let whole = function.asPhysicalFunction.asWholeDevice
            map[function.pciAddress] = (whole.function, whole.holder)
        }
        return map
    }

    /// What a `devices:` pool may hold, by address: the SR-IOV PFs and the functions without SR-IOV
    /// (`PCIFunction.asPhysicalFunction`), each as the PF the whole-device path takes.
    public var wholeDeviceCandidates: [PCIAddress: PhysicalFunction] {
        var map: [PCIAddress: PhysicalFunction] = [:]
        for pf in pfs { map[pf.pciAddress] = pf }
        for function in functions { map[function.pciAddress] = function.asPhysicalFunction }
        return map
    }

    /// The function without SR-IOV at `address`, if discovery listed one.
    public func function(at address: PCIAddress) -> PCIFunction? {
        functions.first { $0.pciAddress == address }
    }
}

extension PCIAddress {
    /// Another function of the same PCI device (same domain, bus and slot): what Proxmox's "All
    /// Functions" passes through together.
    public func isSiblingFunction(of other: PCIAddress) -> Bool {
        self != other && domain == other.domain && (routingID >> 3) == (other.routingID >> 3)
    }
}
