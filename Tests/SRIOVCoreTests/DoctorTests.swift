import Testing
@testable import SRIOVCore

@Suite("Doctor")
struct DoctorTests {
    func address(_ s: String) -> PCIAddress { PCIAddress(s)! }

    func healthyHost() -> HostInventory {
        let pf = address("0000:3b:00.0")
        let vf0 = address("0000:3b:02.0")
        let vf1 = address("0000:3b:02.1")
        let host = HostFacts(
            kernelCommandLine: "intel_iommu=on iommu=pt", iommuCommandLine: IOMMUCommandLine(parsing: "intel_iommu=on iommu=pt"),
            iommuUnits: ["dmar0"], iommuGroupsPresent: true, iommuGroupCount: 3, interruptRemapping: true,
            vfioPCILoaded: true, vfioPCIAvailable: true, defaultRouteInterfaces: [InterfaceName("eno1")!],
            managementDevices: [address("0000:19:00.0")],
            iommuGroups: [IOMMUGroup(id: 1, members: [IOMMUGroupMember(pciAddress: pf, driver: "ice")]),
                          IOMMUGroup(id: 2, members: [IOMMUGroupMember(pciAddress: vf0)]),
                          IOMMUGroup(id: 3, members: [IOMMUGroupMember(pciAddress: vf1, driver: "iavf")])])
        return HostInventory(host: host, pfs: [
            PhysicalFunction(pciAddress: pf, driver: "ice", interfaces: [InterfaceName("ens1f0")!], numVFs: 2, totalVFs: 64,
                             iommuGroup: 1, vfs: [VirtualFunction(index: 0, pciAddress: vf0, pf: pf, iommuGroup: 2),
                                                  VirtualFunction(index: 1, pciAddress: vf1, pf: pf, driver: "iavf", iommuGroup: 3)]),
        ])
    }

    func status(_ checks: [DoctorCheck], _ id: String) -> DoctorCheck.Status? {
        checks.first { $0.id == id }?.status
    }

    @Test func healthyHostPasses() {
        let checks = Doctor.run(healthyHost())
        #expect(checks.allSatisfy { $0.status == .pass }, "\(checks.filter { $0.status != .pass })")
        #expect(checks.map(\.id).contains("vf-isolation:0000:3b:00.0"))
    }

    @Test func noIOMMU() {
        var inv = healthyHost()
        inv.host.iommuUnits = []
        inv.host.iommuGroupsPresent = false
        inv.host.iommuCommandLine = IOMMUCommandLine()
        let checks = Doctor.run(inv)
        #expect(status(checks, "iommu-enabled") == .fail)
        #expect(status(checks, "iommu-cmdline") == .fail)
        #expect(status(checks, "iommu-groups") == .fail)
        #expect(status(checks, "iommu-pt") == .warn)
        #expect(checks.filter { $0.status != .pass }.allSatisfy { $0.remedy != nil })
    }

    @Test func iommuOffOnCommandLine() {
        var inv = healthyHost()
        inv.host.iommuCommandLine = IOMMUCommandLine(parsing: "intel_iommu=off")
        #expect(status(Doctor.run(inv), "iommu-cmdline") == .fail)
    }

    @Test func vfioAndInterruptRemapping() {
        var inv = healthyHost()
        inv.host.vfioPCILoaded = false
        inv.host.interruptRemapping = false
        var checks = Doctor.run(inv)
        #expect(status(checks, "vfio-pci") == .warn)
        #expect(checks.first { $0.id == "vfio-pci" }?.remedy?.contains("modprobe vfio-pci") == true)
        #expect(status(checks, "interrupt-remapping") == .fail)
        inv.host.vfioPCIAvailable = false
        inv.host.interruptRemapping = nil
        checks = Doctor.run(inv)
        #expect(status(checks, "vfio-pci") == .fail)
        #expect(status(checks, "interrupt-remapping") == .warn)
    }

    @Test func vfSharingGroupWithPFFails() {
        var inv = healthyHost()
        inv.host.iommuGroups[1].members.append(IOMMUGroupMember(pciAddress: address("0000:3b:00.0"), driver: "ice"))
        let check = Doctor.run(inv).first { $0.id == "vf-isolation:0000:3b:00.0" }
        #expect(check?.status == .fail)
        #expect(check?.detail.contains("shares IOMMU group 2 with its PF") == true)
    }

    @Test func vfSharingGroupWithHostDeviceWarns() {
        var inv = healthyHost()
        inv.host.iommuGroups[1].members.append(IOMMUGroupMember(pciAddress: address("0000:3c:00.0"), driver: "ahci", classCode: "0x010601"))
        inv.host.iommuGroups[2].members.append(IOMMUGroupMember(pciAddress: address("0000:3a:00.0"), driver: "pcieport", classCode: "0x060400"))
        let check = Doctor.run(inv).first { $0.id == "vf-isolation:0000:3b:00.0" }
        #expect(check?.status == .warn)
        #expect(check?.detail.contains("0000:3c:00.0 (driver ahci)") == true)
        #expect(check?.detail.contains("0000:3a:00.0") == false)
    }

    @Test func vfSharingGroupWithManagementNICFails() {
        var inv = healthyHost()
        inv.host.iommuGroups[1].members.append(IOMMUGroupMember(pciAddress: address("0000:19:00.0"), driver: "igb"))
        #expect(Doctor.run(inv).first { $0.id == "vf-isolation:0000:3b:00.0" }?.status == .fail)
    }

    @Test func noPFsAndNoDriver() {
        var inv = healthyHost()
        inv.pfs[0].driver = nil
        #expect(status(Doctor.run(inv), "sriov-enabled:0000:3b:00.0") == .fail)
        inv.pfs = []
        #expect(status(Doctor.run(inv), "sriov-devices") == .fail)
    }

    @Test func managementNIC() {
        var inv = healthyHost()
        inv.host.defaultRouteInterfaces = []
        #expect(status(Doctor.run(inv), "management-nic") == .warn)
    }
}
