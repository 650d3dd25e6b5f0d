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

/// Every way a doctor check can end other than PASS: the check, what the finding means and its fix.
/// The one source of `sriovctl doctor`'s remedies and of the table in the operator's guide
/// (Docs/guide/01-prerequisites.md, written by `sriovctl doctor --remedies-markdown`; a test keeps
/// the two equal). `<pf>` in a title or remedy stands for the PF the check is about.
public enum DoctorFinding: String, CaseIterable, Sendable {
    case iommuOff, cmdlineIntelOff, cmdlineAMDOff, cmdlineMissing, passthroughMissing, groupsMissing
    case interruptsNotRemapped, interruptsUnknown, vfioNotLoaded, vfioMissing, managementUnknown
    case noSRIOVDevices, pfNoDriver, pfNoVFs, pfProblems, isolationNoGroups, isolationBroken, isolationPeers

    static let grubRemedy = "add it to GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub (or grub2-mkconfig), and reboot"

    /// The check's id (per-PF checks add `:<PF PCI address>`).
    public var checkID: String {
        switch self {
        case .iommuOff: "iommu-enabled"
        case .cmdlineIntelOff, .cmdlineAMDOff, .cmdlineMissing: "iommu-cmdline"
        case .passthroughMissing: "iommu-pt"
        case .groupsMissing: "iommu-groups"
        case .interruptsNotRemapped, .interruptsUnknown: "interrupt-remapping"
        case .vfioNotLoaded, .vfioMissing: "vfio-pci"
        case .managementUnknown: "management-nic"
        case .noSRIOVDevices: "sriov-devices"
        case .pfNoDriver, .pfNoVFs, .pfProblems: "sriov-enabled"
        case .isolationNoGroups, .isolationBroken, .isolationPeers: "vf-isolation"
        }
    }

    public var title: String { Doctor.title(checkID) }

    public var status: DoctorCheck.Status {
        switch self {
        case .passthroughMissing, .interruptsUnknown, .vfioNotLoaded, .managementUnknown, .pfNoVFs, .pfProblems, .isolationPeers: .warn
        default: .fail
        }
    }

    /// What the finding means, in a line (the check's own detail names the host's values).
    public var means: String {
        switch self {
        case .iommuOff: "no IOMMU is active (/sys/class/iommu empty, no IOMMU groups): no device can be passed to a VM"
        case .cmdlineIntelOff: "the kernel was booted with intel_iommu=off"
        case .cmdlineAMDOff: "the kernel was booted with amd_iommu=off"
        case .cmdlineMissing: "neither intel_iommu=on nor amd_iommu=on, and no IOMMU is on by default"
        case .passthroughMissing: "iommu=pt is not set: the host's own DMA (the PF's traffic too) goes through IOMMU translation"
        case .groupsMissing: "/sys/kernel/iommu_groups is empty or missing: vfio-pci cannot take any device"
        case .interruptsNotRemapped: "interrupt remapping is off: vfio_iommu_type1 refuses to assign devices (a VM could forge MSI writes)"
        case .interruptsUnknown: "/proc/interrupts could not be read, so sriovd cannot tell"
        case .vfioNotLoaded: "vfio-pci is available as a module but not loaded"
        case .vfioMissing: "vfio-pci is neither loaded nor among this kernel's modules"
        case .managementUnknown: "no interface carries a default route, so sriovd cannot tell which NIC manages the host"
        case .noSRIOVDevices: "no PCI device has sriov_totalvfs: no SR-IOV NIC, or SR-IOV is off in the firmware"
        case .pfNoDriver: "no driver is bound to the PF, so the kernel cannot create VFs"
        case .pfNoVFs: "the PF has no VFs yet"
        case .pfProblems: "sysfs shows VFs mid-creation or stale (the detail names them)"
        case .isolationNoGroups: "no IOMMU groups, so no VF is isolated"
        case .isolationBroken: "a VF has no IOMMU group, or shares one with its PF or the management NIC: it can never be passed through"
        case .isolationPeers: "a VF shares its IOMMU group with another device that has a host driver"
        }
    }

    /// The fix, as the doctor prints it (`<pf>` filled in by the check).
    public var remedy: String {
        switch self {
        case .iommuOff: "enable VT-d (Intel) or AMD-Vi / IOMMU (AMD) in the firmware setup, then boot with intel_iommu=on or amd_iommu=on: \(Self.grubRemedy)"
        case .cmdlineIntelOff: "replace it with intel_iommu=on: \(Self.grubRemedy)"
        case .cmdlineAMDOff: "remove amd_iommu=off (or use amd_iommu=on): \(Self.grubRemedy)"
        case .cmdlineMissing: "boot with intel_iommu=on (Intel) or amd_iommu=on (AMD), plus iommu=pt: \(Self.grubRemedy)"
        case .passthroughMissing: "add iommu=pt next to intel_iommu=on / amd_iommu=on: \(Self.grubRemedy)"
        case .groupsMissing: "turn the IOMMU on (see iommu-enabled and iommu-cmdline)"
        case .interruptsNotRemapped: "enable interrupt remapping (x2APIC / IR) in the firmware and do not boot with intremap=off; only as a last resort load vfio_iommu_type1 with allow_unsafe_interrupts=1"
        case .interruptsUnknown: "check `dmesg | grep -i remapping` for \"Enabled IRQ remapping\""
        case .vfioNotLoaded: "run `modprobe vfio-pci`, and load it at boot with `echo vfio-pci > /etc/modules-load.d/vfio-pci.conf` (see Config/modprobe.d/vfio.conf for options)"
        case .vfioMissing: "install the kernel's modules package (CONFIG_VFIO_PCI) and run `modprobe vfio-pci`"
        case .managementUnknown: "list the management PF under `protected_pfs` in the sriovd config so it is never changed"
        case .noSRIOVDevices: "enable SR-IOV in the system firmware (and in the NIC's own firmware, e.g. mlxconfig SRIOV_EN=1 NUM_OF_VFS=N for ConnectX)"
        case .pfNoDriver: "load and bind the PF's driver (e.g. `modprobe ice`), then create VFs"
        case .pfNoVFs: "create VFs with `sriovctl pf set-numvfs <pf> N`"
        case .pfProblems: "inspect the PF in sysfs; the VFs named in the problems may be mid-creation or stale"
        case .isolationNoGroups: "turn the IOMMU on (see iommu-enabled)"
        case .isolationBroken: "the platform lacks ACS isolation below this PF: move the NIC to a slot with ACS (a CPU root port), enable ACS in the firmware, or update it; pcie_acs_override is unsafe and not recommended"
        case .isolationPeers: "lease such VFs only together with their group peers, or unbind the peers from their host drivers"
        }
    }

    /// The check this finding ends, with the host's detail, and the PF (when the check is about one)
    /// in its id, title and remedy.
    func check(_ detail: String, pf: PhysicalFunction? = nil) -> DoctorCheck {
        DoctorCheck(id: pf.map { "\(checkID):\($0.pciAddress)" } ?? checkID, status: status,
                    title: Doctor.title(checkID, pf: pf?.label), detail: detail,
                    remedy: remedy.replacingOccurrences(of: "<pf>", with: pf?.displayName ?? "<pf>"))
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

    /// A check's title; per-PF checks name the PF (`<pf>` without one, as the guide shows them).
    public static func title(_ checkID: String, pf: String? = nil) -> String {
        let pf = pf ?? "<pf>"
        switch checkID {
        case "iommu-enabled": return "IOMMU enabled (VT-d / AMD-Vi)"
        case "iommu-cmdline": return "IOMMU on the kernel command line"
        case "iommu-pt": return "IOMMU passthrough mode for host devices (iommu=pt)"
        case "iommu-groups": return "IOMMU groups present"
        case "interrupt-remapping": return "Interrupt remapping"
        case "vfio-pci": return "vfio-pci driver"
        case "management-nic": return "Management NIC identified and protected"
        case "sriov-devices": return "SR-IOV capable devices"
        case "sriov-enabled": return "SR-IOV enabled on \(pf)"
        case "vf-isolation": return "VFs of \(pf) isolated in their IOMMU groups (ACS)"
        default: return checkID
        }
    }

    /// The guide's table of every non-PASS finding (Docs/guide/01-prerequisites.md between the
    /// `doctor-remedies` markers), from `DoctorFinding`: `sriovctl doctor --remedies-markdown`.
    public static func remediesMarkdown() -> String {
        func cell(_ text: String) -> String { text.replacingOccurrences(of: "|", with: "\\|") }
        // Titles have no code spans: `<pf>` there would read as an HTML tag and vanish.
        func title(_ text: String) -> String { cell(text).replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;") }
        var lines = ["| Check | Result | What it means | Fix |", "| --- | --- | --- | --- |"]
        for finding in DoctorFinding.allCases {
            lines.append("| `\(finding.checkID)` \(title(finding.title)) | \(finding.status.rawValue) | \(cell(finding.means)) | \(cell(finding.remedy)) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func iommuEnabled(_ host: HostFacts) -> DoctorCheck {
        if !host.iommuUnits.isEmpty || host.iommuGroupsPresent {
            let units = host.iommuUnits.isEmpty ? "IOMMU groups present" : "IOMMU units: \(host.iommuUnits.joined(separator: ", "))"
            return pass("iommu-enabled", units)
        }
        return DoctorFinding.iommuOff.check(
            "no IOMMU is active: /sys/class/iommu is empty and /sys/kernel/iommu_groups has no groups, so no device can be passed to a VM")
    }

    static func iommuCommandLine(_ host: HostFacts) -> DoctorCheck {
        let words = host.iommuCommandLine
        if let intel = words.intelIOMMU, intel.split(separator: ",").contains("off") {
            return DoctorFinding.cmdlineIntelOff.check("the kernel was booted with intel_iommu=\(intel), which turns the IOMMU off")
        }
        if let amd = words.amdIOMMU, amd.split(separator: ",").contains("off") {
            return DoctorFinding.cmdlineAMDOff.check("the kernel was booted with amd_iommu=\(amd), which turns the IOMMU off")
        }
        if let intel = words.intelIOMMU { return pass("iommu-cmdline", "intel_iommu=\(intel)") }
        if let amd = words.amdIOMMU { return pass("iommu-cmdline", "amd_iommu=\(amd)") }
        if host.iommuGroupsPresent {
            return pass("iommu-cmdline", "no intel_iommu=/amd_iommu= word, but the IOMMU is active (on by default in this kernel or firmware)")
        }
        return DoctorFinding.cmdlineMissing.check(
            "the kernel command line has neither intel_iommu=on nor amd_iommu=on" + (host.kernelCommandLine == nil ? " (/proc/cmdline could not be read)" : ""))
    }

    static func iommuPassthrough(_ host: HostFacts) -> DoctorCheck {
        if host.iommuCommandLine.iommu == "pt" {
            return pass("iommu-pt", "iommu=pt: host devices bypass translation; VFIO devices are still isolated")
        }
        return DoctorFinding.passthroughMissing.check(
            "iommu=pt is not set: every host DMA (including the PF's own traffic) goes through IOMMU translation, which costs throughput")
    }

    static func iommuGroups(_ host: HostFacts) -> DoctorCheck {
        if host.iommuGroupsPresent {
            return pass("iommu-groups", "\(host.iommuGroupCount) IOMMU groups in /sys/kernel/iommu_groups")
        }
        return DoctorFinding.groupsMissing.check("/sys/kernel/iommu_groups is empty or missing: vfio-pci cannot take any device")
    }

    static func interruptRemapping(_ host: HostFacts) -> DoctorCheck {
        switch host.interruptRemapping {
        case true?:
            return pass("interrupt-remapping", "interrupts are remapped (IR- interrupt chips are in use)")
        case false?:
            return DoctorFinding.interruptsNotRemapped.check(
                "interrupt remapping is not active: vfio_iommu_type1 refuses to assign devices without it (a VM could forge MSI writes)")
        case nil:
            return DoctorFinding.interruptsUnknown.check("could not tell whether interrupts are remapped (/proc/interrupts unreadable)")
        }
    }

    static func vfioPCI(_ host: HostFacts) -> DoctorCheck {
        if host.vfioPCILoaded {
            return pass("vfio-pci", "vfio-pci is loaded (/sys/bus/pci/drivers/vfio-pci)")
        }
        if host.vfioPCIAvailable {
            return DoctorFinding.vfioNotLoaded.check("vfio-pci is available as a module but not loaded")
        }
        return DoctorFinding.vfioMissing.check("vfio-pci is neither loaded nor found in this kernel's modules")
    }

    static func managementNIC(_ inventory: HostInventory) -> DoctorCheck {
        let host = inventory.host
        guard !host.defaultRouteInterfaces.isEmpty else {
            return DoctorFinding.managementUnknown.check("no interface carries a default route, so sriovd cannot tell which NIC manages this host")
        }
        let ifaces = host.defaultRouteInterfaces.map(\.name).joined(separator: ", ")
        if host.managementDevices.isEmpty {
            return pass("management-nic", "default route via \(ifaces), which is not a PCI device: no PF is at risk")
        }
        let devs = host.managementDevices.map(\.description).joined(separator: ", ")
        let sriovPFs = inventory.pfs.filter(\.isManagement).map(\.label)
        let protectedText = sriovPFs.isEmpty
            ? "it is not an SR-IOV PF"
            : "SR-IOV PF \(sriovPFs.joined(separator: ", ")) is protected: sriovd refuses to change it without --force"
        return pass("management-nic", "default route via \(ifaces) on \(devs); \(protectedText)")
    }

    static func sriovDevices(_ inventory: HostInventory) -> DoctorCheck {
        if inventory.pfs.isEmpty {
            return DoctorFinding.noSRIOVDevices.check(
                "no PCI device has sriov_totalvfs: this host has no SR-IOV capable NIC, or SR-IOV is off in its firmware")
        }
        let total = inventory.pfs.reduce(0) { $0 + $1.totalVFs }
        return pass("sriov-devices", "\(inventory.pfs.count) PFs, up to \(total) VFs in all")
    }

    static func sriovEnabled(_ pf: PhysicalFunction) -> DoctorCheck {
        var notes = pf.problems.isEmpty ? "" : "; problems: " + pf.problems.joined(separator: "; ")
        if pf.isManagement { notes += "; carries the management traffic (protected)" }
        guard let driver = pf.driver else {
            return DoctorFinding.pfNoDriver.check(
                "no driver is bound to the PF, so the kernel cannot create VFs (sriov_numvfs answers ENOENT)" + notes, pf: pf)
        }
        if pf.numVFs == 0 && pf.isManagement {
            return pass("sriov-enabled", "driver \(driver), no VFs: the management NIC is left as it is" + notes, pf: pf)
        }
        if pf.numVFs == 0 {
            return DoctorFinding.pfNoVFs.check("driver \(driver), 0 of \(pf.totalVFs) VFs created" + notes, pf: pf)
        }
        let detail = "driver \(driver), \(pf.numVFs) of \(pf.totalVFs) VFs" + notes
        return pf.problems.isEmpty ? pass("sriov-enabled", detail, pf: pf) : DoctorFinding.pfProblems.check(detail, pf: pf)
    }

    /// Each VF must be alone in its IOMMU group, or share it only with devices that can go to vfio-pci
    /// with it (ACS). A VF grouped with its PF or with the management NIC can never be passed through.
    static func vfIsolation(_ pf: PhysicalFunction, host: HostFacts) -> DoctorCheck? {
        guard !pf.vfs.isEmpty else { return nil }
        guard host.iommuGroupsPresent else {
            return DoctorFinding.isolationNoGroups.check("no IOMMU groups: VFs cannot be isolated", pf: pf)
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
        if !failures.isEmpty { return DoctorFinding.isolationBroken.check(summarize(failures), pf: pf) }
        if !warnings.isEmpty { return DoctorFinding.isolationPeers.check(summarize(warnings), pf: pf) }
        return pass("vf-isolation", "each of the \(pf.vfs.count) VFs has its own IOMMU group", pf: pf)
    }

    private static func pass(_ checkID: String, _ detail: String, pf: PhysicalFunction? = nil) -> DoctorCheck {
        DoctorCheck(id: pf.map { "\(checkID):\($0.pciAddress)" } ?? checkID, status: .pass,
                    title: title(checkID, pf: pf?.label), detail: detail)
    }

    private static func summarize(_ items: [String]) -> String {
        items.count <= 3 ? items.joined(separator: "; ")
            : items.prefix(3).joined(separator: "; ") + "; and \(items.count - 3) more"
    }
}
