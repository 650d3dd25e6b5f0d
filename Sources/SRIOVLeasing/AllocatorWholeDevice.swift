import SRIOVConfig
import SRIOVCore

extension Allocator {
    /// Chooses whole devices for a request on a `devices:` pool: pure, all or nothing, with the reason
    /// when it cannot. A unit is the listed function with every other function of the same PCI device
    /// in its IOMMU group (Proxmox's "All Functions"): they are bound and released together, as entries
    /// of one lease. A unit is refused when a function is leased or quarantined, is the management NIC
    /// or protected, is a PF whose VFs exist, is already on vfio-pci outside sriovd, or when its group
    /// holds another device that is not a bridge and not parked on vfio-pci / pci-stub (or is leased).
    func chooseWholeDevices(_ request: LeaseRequest, book: LeaseBook, inventory: HostInventory,
                            groups: [Int: IOMMUGroup]) throws(SRIOVError) -> [(VirtualFunction, PhysicalFunction)] {
        let members = plan.pools[request.pool] ?? []
        // SR-IOV PFs and functions without SR-IOV alike: the same path, numVFs 0 for the latter.
        let pfByAddress = inventory.wholeDeviceCandidates
        let management = Set(inventory.host.managementDevices)
        var rejected: [String: Int] = [:]
        var units: [[(VirtualFunction, PhysicalFunction)]] = []
        var considered = Set<PCIAddress>()
        for address in members where !considered.contains(address) {
            considered.insert(address)
            guard let pf = pfByAddress[address] else {
                rejected["not on this host now", default: 0] += 1
                continue
            }
            if let why = Allocator.wholeDeviceReason(pf, request: request, book: book, management: management, protected: plan.protectedPFs) {
                rejected[why, default: 0] += 1
                continue
            }
            guard let groupID = pf.iommuGroup, let group = groups[groupID] else {
                rejected["without an IOMMU group", default: 0] += 1
                continue
            }
            var unit = [pf.asWholeDevice]
            var why: String?
            for member in group.members where member.pciAddress != address && !member.isBridge {
                let other = member.pciAddress
                if let lease = book.holder(of: other) {
                    why = "sharing IOMMU group \(groupID) with \(other), leased to \(lease)"
                } else if other.isSiblingFunction(of: address) {
                    // Another function of the same device: passed through with it.
                    considered.insert(other)
                    if management.contains(other) || plan.protectedPFs.contains(other) || pfByAddress[other]?.isManagement == true {
                        why = "with function \(other), which is protected or the management NIC"
                    } else if book.isQuarantined(other) {
                        why = "with function \(other), which is quarantined"
                    } else if let sibling = pfByAddress[other] {
                        if let reason = Allocator.wholeDeviceReason(sibling, request: nil, book: book, management: management, protected: plan.protectedPFs) {
                            why = "with function \(other) \(reason)"
                        } else {
                            unit.append(sibling.asWholeDevice)
                        }
                    } else if inventory.pfs.contains(where: { p in p.vfs.contains { $0.pciAddress == other } }) {
                        why = "sharing IOMMU group \(groupID) with VF \(other)"
                    } else {
                        let function = VirtualFunction(index: 0, pciAddress: other, pf: other, driver: member.driver, iommuGroup: groupID)
                        unit.append((function, PhysicalFunction(pciAddress: other, driver: member.driver, iommuGroup: groupID)))
                    }
                } else if member.driver != nil && member.driver != "vfio-pci" && member.driver != "pci-stub" {
                    why = "sharing IOMMU group \(groupID) with \(other) (driver \(member.driver ?? "")), used by the host"
                }
                if why != nil { break }
            }
            if let why {
                rejected[why, default: 0] += 1
                continue
            }
            units.append(unit)
        }
        guard units.count >= request.count else {
            var why = rejected.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
            if why.isEmpty { why = ["none unavailable"] }
            throw SRIOVError(.busy, "pool \(request.pool) cannot satisfy \(request.count) whole device\(request.count == 1 ? "" : "s"): \(units.count) free; of its \(members.count) devices: \(why.joined(separator: ", ")). Nothing was reserved")
        }
        return units.prefix(request.count).flatMap { $0 }
    }

    /// Why a function is not leasable whole on its own (nil: it is), as a refusal counts it.
    /// `request` nil: a sibling function, for which the NUMA filter does not apply.
    static func wholeDeviceReason(_ pf: PhysicalFunction, request: LeaseRequest?, book: LeaseBook, management: Set<PCIAddress>,
                                  protected: Set<PCIAddress>) -> String? {
        if let lease = book.holder(of: pf.pciAddress) { return "leased (\(lease))" }
        if book.isQuarantined(pf.pciAddress) { return "quarantined" }
        if pf.isManagement || management.contains(pf.pciAddress) { return "the management NIC" }
        if protected.contains(pf.pciAddress) { return "protected" }
        if pf.numVFs > 0 || !pf.vfs.isEmpty {
            return "a PF whose VFs exist (\(pf.displayName) has \(max(pf.numVFs, pf.vfs.count)); `sriovctl pf set-numvfs \(pf.displayName) 0` first)"
        }
        if pf.driver == "vfio-pci" { return "already bound to vfio-pci outside sriovd" }
        if let numa = request?.numaNode, pf.numaNode?.value != numa { return "on another NUMA node" }
        return nil
    }
}
