/// One host check: what was found and, when it is not a PASS, how to fix it.
public struct DoctorCheck: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable, Comparable {
        case pass = "PASS", warn = "WARN", fail = "FAIL"
        var rank: Int { self == .pass ? 0 : self == .warn ? 1 : 2 }
        public static func < (a: Status, b: Status) -> Bool { a.rank < b.rank }
    }

    public var id: String
    public var status: Status
    public var title: String
    public var detail: String
    public var remedy: String?

    public init(id: String, status: Status, title: String, detail: String, remedy: String? = nil) {
        self.id = id
        self.status = status
        self.title = title
        self.detail = detail
        self.remedy = remedy
    }
}

/// The prerequisites for SR-IOV passthrough, judged from an inventory alone (no I/O here).
public enum Doctor {
    public static func run(_ inventory: HostInventory) -> [DoctorCheck] {
        let host = inventory.host
        var checks: [DoctorCheck] = []
        checks.append(iommuEnabled(host))
        checks.append(iommuCommandLine(host))
        checks.append(iommuPassthrough(host))
        checks.append(iommuGroups(host))
        checks.append(interruptRemapping(host))
        checks.append(vfioPCI(host))
        checks.append(managementNIC(inventory))
        checks.append(sriovDevices(inventory))
        for pf in inventory.pfs {
            checks.append(sriovEnabled(pf))
            if let isolation = vfIsolation(pf, host: host) { checks.append(isolation) }
        }
        return checks
    }

    private static let grubRemedy = "add it to GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub (or grub2-mkconfig), and reboot"

    static func iommuEnabled(_ host: HostFacts) -> DoctorCheck {
        let title = "IOMMU enabled (VT-d / AMD-Vi)"
        if !host.iommuUnits.isEmpty || host.iommuGroupsPresent {
            let units = host.iommuUnits.isEmpty ? "IOMMU groups present" : "IOMMU units: \(host.iommuUnits.joined(separator: ", "))"
            return DoctorCheck(id: "iommu-enabled", status: .pass, title: title, detail: units)
        }
        return DoctorCheck(
            id: "iommu-enabled", status: .fail, title: title,
            detail: "no IOMMU is active: /sys/class/iommu is empty and /sys/kernel/iommu_groups has no groups, so no device can be passed to a VM",
            remedy: "enable VT-d (Intel) or AMD-Vi / IOMMU (AMD) in the firmware setup, then boot with intel_iommu=on or amd_iommu=on: \(grubRemedy)")
    }

    static func iommuCommandLine(_ host: HostFacts) -> DoctorCheck {
        let title = "IOMMU on the kernel command line"
        let words = host.iommuCommandLine
        if let intel = words.intelIOMMU, intel.split(separator: ",").contains("off") {
            return DoctorCheck(id: "iommu-cmdline", status: .fail, title: title,
                               detail: "the kernel was booted with intel_iommu=\(intel), which turns the IOMMU off",
                               remedy: "replace it with intel_iommu=on: \(grubRemedy)")
        }
        if let amd = words.amdIOMMU, amd.split(separator: ",").contains("off") {
            return DoctorCheck(id: "iommu-cmdline", status: .fail, title: title,
                               detail: "the kernel was booted with amd_iommu=\(amd), which turns the IOMMU off",
                               remedy: "remove amd_iommu=off (or use amd_iommu=on): \(grubRemedy)")
        }
        if let intel = words.intelIOMMU {
            return DoctorCheck(id: "iommu-cmdline", status: .pass, title: title, detail: "intel_iommu=\(intel)")
        }
        if let amd = words.amdIOMMU {
            return DoctorCheck(id: "iommu-cmdline", status: .pass, title: title, detail: "amd_iommu=\(amd)")
        }
        if host.iommuGroupsPresent {
            return DoctorCheck(id: "iommu-cmdline", status: .pass, title: title,
                               detail: "no intel_iommu=/amd_iommu= word, but the IOMMU is active (on by default in this kernel or firmware)")
        }
        return DoctorCheck(id: "iommu-cmdline", status: .fail, title: title,
                           detail: "the kernel command line has neither intel_iommu=on nor amd_iommu=on" + (host.kernelCommandLine == nil ? " (/proc/cmdline could not be read)" : ""),
                           remedy: "boot with intel_iommu=on (Intel) or amd_iommu=on (AMD), plus iommu=pt: \(grubRemedy)")
    }

    static func iommuPassthrough(_ host: HostFacts) -> DoctorCheck {
        let title = "IOMMU passthrough mode for host devices (iommu=pt)"
        if host.iommuCommandLine.iommu == "pt" {
            return DoctorCheck(id: "iommu-pt", status: .pass, title: title, detail: "iommu=pt: host devices bypass translation; VFIO devices are still isolated")
        }
        return DoctorCheck(id: "iommu-pt", status: .warn, title: title,
                           detail: "iommu=pt is not set: every host DMA (including the PF's own traffic) goes through IOMMU translation, which costs throughput",
                           remedy: "add iommu=pt next to intel_iommu=on / amd_iommu=on: \(grubRemedy)")
    }

    static func iommuGroups(_ host: HostFacts) -> DoctorCheck {
        let title = "IOMMU groups present"
        if host.iommuGroupsPresent {
            return DoctorCheck(id: "iommu-groups", status: .pass, title: title, detail: "\(host.iommuGroupCount) IOMMU groups in /sys/kernel/iommu_groups")
        }
        return DoctorCheck(id: "iommu-groups", status: .fail, title: title,
                           detail: "/sys/kernel/iommu_groups is empty or missing: vfio-pci cannot take any device",
                           remedy: "turn the IOMMU on (see iommu-enabled and iommu-cmdline)")
    }

    static func interruptRemapping(_ host: HostFacts) -> DoctorCheck {
        let title = "Interrupt remapping"
        switch host.interruptRemapping {
        case true?:
            return DoctorCheck(id: "interrupt-remapping", status: .pass, title: title, detail: "interrupts are remapped (IR- interrupt chips are in use)")
        case false?:
            return DoctorCheck(id: "interrupt-remapping", status: .fail, title: title,
                               detail: "interrupt remapping is not active: vfio_iommu_type1 refuses to assign devices without it (a VM could forge MSI writes)",
                               remedy: "enable interrupt remapping (x2APIC / IR) in the firmware and do not boot with intremap=off; only as a last resort load vfio_iommu_type1 with allow_unsafe_interrupts=1")
        case nil:
            return DoctorCheck(id: "interrupt-remapping", status: .warn, title: title,
                               detail: "could not tell whether interrupts are remapped (/proc/interrupts unreadable)",
                               remedy: "check `dmesg | grep -i remapping` for \"Enabled IRQ remapping\"")
        }
    }

    static func vfioPCI(_ host: HostFacts) -> DoctorCheck {
        let title = "vfio-pci driver"
        if host.vfioPCILoaded {
            return DoctorCheck(id: "vfio-pci", status: .pass, title: title, detail: "vfio-pci is loaded (/sys/bus/pci/drivers/vfio-pci)")
        }
        if host.vfioPCIAvailable {
            return DoctorCheck(id: "vfio-pci", status: .warn, title: title,
                               detail: "vfio-pci is available as a module but not loaded",
                               remedy: "run `modprobe vfio-pci`, and load it at boot with `echo vfio-pci > /etc/modules-load.d/vfio-pci.conf` (see Config/modprobe.d/vfio.conf for options)")
        }
        return DoctorCheck(id: "vfio-pci", status: .fail, title: title,
                           detail: "vfio-pci is neither loaded nor found in this kernel's modules",
                           remedy: "install the kernel's modules package (CONFIG_VFIO_PCI) and run `modprobe vfio-pci`")
    }

    static func managementNIC(_ inventory: HostInventory) -> DoctorCheck {
        let host = inventory.host
        let title = "Management NIC identified and protected"
        guard !host.defaultRouteInterfaces.isEmpty else {
            return DoctorCheck(id: "management-nic", status: .warn, title: title,
                               detail: "no interface carries a default route, so sriovd cannot tell which NIC manages this host",
                               remedy: "list the management PF under `protected_pfs` in the sriovd config so it is never changed")
        }
        let ifaces = host.defaultRouteInterfaces.map(\.name).joined(separator: ", ")
        if host.managementDevices.isEmpty {
            return DoctorCheck(id: "management-nic", status: .pass, title: title,
                               detail: "default route via \(ifaces), which is not a PCI device: no PF is at risk")
        }
        let devs = host.managementDevices.map(\.description).joined(separator: ", ")
        let sriovPFs = inventory.pfs.filter(\.isManagement).map(\.label)
        let protectedText = sriovPFs.isEmpty
            ? "it is not an SR-IOV PF"
            : "SR-IOV PF \(sriovPFs.joined(separator: ", ")) is protected: sriovd refuses to change it without --force"
        return DoctorCheck(id: "management-nic", status: .pass, title: title,
                           detail: "default route via \(ifaces) on \(devs); \(protectedText)")
    }

    static func sriovDevices(_ inventory: HostInventory) -> DoctorCheck {
        let title = "SR-IOV capable devices"
        if inventory.pfs.isEmpty {
            return DoctorCheck(id: "sriov-devices", status: .fail, title: title,
                               detail: "no PCI device has sriov_totalvfs: this host has no SR-IOV capable NIC, or SR-IOV is off in its firmware",
                               remedy: "enable SR-IOV in the system firmware (and in the NIC's own firmware, e.g. mlxconfig SRIOV_EN=1 NUM_OF_VFS=N for ConnectX)")
        }
        let total = inventory.pfs.reduce(0) { $0 + $1.totalVFs }
        return DoctorCheck(id: "sriov-devices", status: .pass, title: title,
                           detail: "\(inventory.pfs.count) PFs, up to \(total) VFs in all")
    }

    static func sriovEnabled(_ pf: PhysicalFunction) -> DoctorCheck {
        let id = "sriov-enabled:\(pf.pciAddress)"
        let title = "SR-IOV enabled on \(pf.label)"
        var notes = pf.problems.isEmpty ? "" : "; problems: " + pf.problems.joined(separator: "; ")
        if pf.isManagement { notes += "; carries the management traffic (protected)" }
        guard let driver = pf.driver else {
            return DoctorCheck(id: id, status: .fail, title: title,
                               detail: "no driver is bound to the PF, so the kernel cannot create VFs (sriov_numvfs answers ENOENT)" + notes,
                               remedy: "load and bind the PF's driver (e.g. `modprobe ice`), then create VFs")
        }
        if pf.numVFs == 0 && pf.isManagement {
            return DoctorCheck(id: id, status: .pass, title: title,
                               detail: "driver \(driver), no VFs: the management NIC is left as it is" + notes)
        }
        if pf.numVFs == 0 {
            return DoctorCheck(id: id, status: .warn, title: title,
                               detail: "driver \(driver), 0 of \(pf.totalVFs) VFs created" + notes,
                               remedy: "create VFs with `sriovctl pf set-numvfs \(pf.displayName) N`")
        }
        let status: DoctorCheck.Status = pf.problems.isEmpty ? .pass : .warn
        return DoctorCheck(id: id, status: status, title: title,
                           detail: "driver \(driver), \(pf.numVFs) of \(pf.totalVFs) VFs" + notes,
                           remedy: pf.problems.isEmpty ? nil : "inspect the PF in sysfs; the VFs named in the problems may be mid-creation or stale")
    }

    /// Each VF must be alone in its IOMMU group, or share it only with devices that can go to vfio-pci
    /// with it (ACS). A VF grouped with its PF or with the management NIC can never be passed through.
    static func vfIsolation(_ pf: PhysicalFunction, host: HostFacts) -> DoctorCheck? {
        guard !pf.vfs.isEmpty else { return nil }
        let id = "vf-isolation:\(pf.pciAddress)"
        let title = "VFs of \(pf.label) isolated in their IOMMU groups (ACS)"
        guard host.iommuGroupsPresent else {
            return DoctorCheck(id: id, status: .fail, title: title, detail: "no IOMMU groups: VFs cannot be isolated",
                               remedy: "turn the IOMMU on (see iommu-enabled)")
        }
        var failures: [String] = []
        var warnings: [String] = []
        for vf in pf.vfs {
            guard let groupID = vf.iommuGroup else {
                failures.append("VF \(vf.index) (\(vf.pciAddress)) has no IOMMU group")
                continue
            }
            guard let group = host.group(groupID) else { continue }
            for member in group.members where member.pciAddress != vf.pciAddress {
                if member.pciAddress == pf.pciAddress {
                    failures.append("VF \(vf.index) shares IOMMU group \(groupID) with its PF")
                } else if host.managementDevices.contains(member.pciAddress) {
                    failures.append("VF \(vf.index) shares IOMMU group \(groupID) with the management NIC \(member.pciAddress)")
                } else if member.isBridge || member.driver == nil || member.driver == "vfio-pci" || member.driver == "pci-stub" {
                    continue
                } else {
                    warnings.append("VF \(vf.index) shares IOMMU group \(groupID) with \(member.pciAddress) (driver \(member.driver ?? "none")), which must go to vfio-pci with it")
                }
            }
        }
        if !failures.isEmpty {
            return DoctorCheck(id: id, status: .fail, title: title,
                               detail: summarize(failures),
                               remedy: "the platform lacks ACS isolation below this PF: move the NIC to a slot with ACS (a CPU root port), enable ACS in the firmware, or update it; pcie_acs_override is unsafe and not recommended")
        }
        if !warnings.isEmpty {
            return DoctorCheck(id: id, status: .warn, title: title, detail: summarize(warnings),
                               remedy: "lease such VFs only together with their group peers, or unbind the peers from their host drivers")
        }
        return DoctorCheck(id: id, status: .pass, title: title, detail: "each of the \(pf.vfs.count) VFs has its own IOMMU group")
    }

    private static func summarize(_ items: [String]) -> String {
        items.count <= 3 ? items.joined(separator: "; ")
            : items.prefix(3).joined(separator: "; ") + "; and \(items.count - 3) more"
    }
}
