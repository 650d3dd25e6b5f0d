import SRIOVCore

/// Discovers PFs, VFs, network functions without SR-IOV and host facts from a sysfs-shaped tree.
///
/// Kernel interface: `/sys/bus/pci/devices/*/{sriov_*,virtfnN,physfn,class,driver,iommu_group,net}`,
/// `/sys/kernel/iommu_groups`, `/sys/class/iommu`, `/proc/cmdline`, `/proc/interrupts`,
/// `/proc/net/route`, `/proc/net/ipv6_route`. Anything unreadable becomes a recorded problem, never a crash.
public struct SysfsDiscovery: HostInventorySource {
    public let paths: HostPaths

    public init(paths: HostPaths = .host) {
        self.paths = paths
    }

    public func inventory() throws(SRIOVError) -> HostInventory {
        guard FileSystem.isDirectory(paths.sysfs) else {
            throw SRIOVError(.notFound, "sysfs root \(paths.sysfs) does not exist or is not a directory; pass --sysfs-root with a mounted sysfs (usually /sys)")
        }
        guard let deviceNames = FileSystem.list(paths.pciDevices) else {
            throw SRIOVError(.notFound, "\(paths.sysfs) has no readable bus/pci/devices: it is not a sysfs tree, or PCI is absent; pass --sysfs-root with a mounted sysfs (usually /sys)")
        }
        var hostProblems: [String] = []
        let management = managementDevices(problems: &hostProblems)
        var addresses: [PCIAddress] = []
        for name in deviceNames {
            guard let address = PCIAddress(name) else {
                hostProblems.append("ignored \(paths.pciDevices)/\(name): not a PCI address")
                continue
            }
            addresses.append(address)
        }
        // Sorted, a PF comes before its VFs (VF routing ID = PF's + offset), so known VFs are skipped
        // without probing them for sriov_totalvfs: discovery costs a handful of syscalls per VF.
        addresses.sort()
        var found = Found(scan: ScanContext(netdevs: netdevsByDevice()), management: management.devices)
        for address in addresses where !found.knownVFs.contains(address) { read(address, into: &found) }
        return finish(found, management: management, problems: hostProblems)
    }

    /// `inventory()` for the devices `scope` names (`HostInventorySource.inventory(scope:)`): each
    /// named PF with its VFs (a VF stands for its PF), each named device without SR-IOV as
    /// `inventory()` reads it, and the IOMMU groups of all of them with every member, from
    /// `/sys/kernel/iommu_groups/<n>/devices`. A name that is not the netdev of a PCI device (or not
    /// a valid name) leaves nothing to scope by: the whole host is read, and whoever asked judges the
    /// name as ever.
    ///
    /// Kernel interface: `/sys/class/net/<if>/device`, `/sys/bus/pci/devices/<bdf>/physfn`, then as
    /// `inventory()` for those devices, and `/sys/kernel/iommu_groups/<n>/devices`.
    public func inventory(scope: DiscoveryScope) throws(SRIOVError) -> HostInventory {
        guard FileSystem.isDirectory(paths.sysfs), FileSystem.isDirectory(paths.pciDevices) else { return try inventory() }
        var named = scope.devices
        for name in scope.interfaces {
            guard InterfaceName(name) != nil,
                  let device = FileSystem.linkBasename(paths.sysfs + "/class/net/" + name + "/device").flatMap(PCIAddress.init) else {
                return try inventory()
            }
            named.insert(device)
        }
        var addresses = Set<PCIAddress>()
        for address in named {
            addresses.insert(FileSystem.linkBasename(paths.device(address) + "/physfn").flatMap(PCIAddress.init) ?? address)
        }
        var hostProblems: [String] = []
        let management = managementDevices(problems: &hostProblems)
        var found = Found(scan: ScanContext(netdevs: netdevsByDevice()), management: management.devices)
        for address in addresses.sorted() where !found.knownVFs.contains(address) { read(address, into: &found) }
        // The other members of those groups, as `inventory()` knows them from every device's link.
        var seen = Set(found.pfs.map(\.pciAddress)).union(found.knownVFs).union(found.functions.map(\.pciAddress))
        seen.formUnion(found.otherGroups.keys)
        var groupIDs = Set(found.otherGroups.values).union(found.functions.compactMap(\.iommuGroup))
        for pf in found.pfs {
            if let g = pf.iommuGroup { groupIDs.insert(g) }
            for vf in pf.vfs { if let g = vf.iommuGroup { groupIDs.insert(g) } }
        }
        for id in groupIDs.sorted() {
            for name in FileSystem.list(paths.iommuGroups + "/\(id)/devices") ?? [] {
                guard let member = PCIAddress(name), seen.insert(member).inserted else { continue }
                found.otherGroups[member] = id
                if PCIFunction.isBridgeClass(FileSystem.readAttribute(paths.deviceAttribute(member, .class)).value) {
                    found.bridges.append(member)
                }
            }
        }
        found.bridges.sort()
        return finish(found, management: management, problems: hostProblems)
    }

    /// What one discovery pass has read so far.
    struct Found {
        let scan: ScanContext
        let management: Set<PCIAddress>
        var knownVFs = Set<PCIAddress>()
        /// Devices without SR-IOV that are not network functions, by IOMMU group; in a scoped read
        /// also the groups' members outside the scope, whatever they are (read as group members:
        /// driver and class, which is what isolation is judged by).
        var otherGroups: [PCIAddress: Int] = [:]
        var pfs: [PhysicalFunction] = []
        var functions: [PCIFunction] = []
        var bridges: [PCIAddress] = []
    }

    /// Reads one device: a PF with its VFs, a network function without SR-IOV, or another device
    /// (its IOMMU group, and whether it is a bridge).
    func read(_ address: PCIAddress, into found: inout Found) {
        guard FileSystem.entryExists(paths.deviceAttribute(address, .sriovTotalVFs)) else {
            let group = FileSystem.linkBasename(paths.device(address) + "/iommu_group").flatMap { Int($0) }
            // One more read per device without SR-IOV (VFs were skipped above): its class.
            let classCode = FileSystem.readAttribute(paths.deviceAttribute(address, .class)).value
            if PCIFunction.isNetworkClass(classCode), !FileSystem.entryExists(paths.device(address) + "/physfn") {
                var function = readFunction(address, classCode: classCode, group: group, scan: found.scan)
                function.isManagement = found.management.contains(address)
                found.functions.append(function)
                return
            }
            if PCIFunction.isBridgeClass(classCode) { found.bridges.append(address) }
            if let group { found.otherGroups[address] = group }
            return
        }
        var pf = readPF(address, scan: found.scan)
        pf.isManagement = found.management.contains(address)
        for vf in pf.vfs { found.knownVFs.insert(vf.pciAddress) }
        found.pfs.append(pf)
    }

    func finish(_ found: Found, management: Management, problems: [String]) -> HostInventory {
        var found = found
        for vf in found.knownVFs { found.otherGroups[vf] = nil }
        var hostProblems = problems
        var host = hostFacts(problems: &hostProblems)
        host.defaultRouteInterfaces = management.interfaces
        host.managementDevices = management.devices.sorted()
        host.bridges = found.bridges
        host.iommuGroups = groups(for: found.pfs, functions: found.functions, others: found.otherGroups)
        host.problems = hostProblems
        return HostInventory(host: host, pfs: found.pfs, functions: found.functions)
    }

    /// Kernel interface: `/sys/bus/pci/devices/<bdf>/{driver,driver_override,iommu_group}` and
    /// `/sys/kernel/iommu_groups/<n>/devices`.
    public func device(_ address: PCIAddress) throws(SRIOVError) -> DeviceStatus? {
        let dir = paths.device(address)
        let (override, errno) = FileSystem.readAttribute(dir + "/driver_override")
        if override == nil, errno == Errno.ENOENT, !FileSystem.exists(dir) { return nil }
        let driver = FileSystem.linkBasename(dir + "/driver")
        var group: IOMMUGroup?
        if let id = FileSystem.linkBasename(dir + "/iommu_group").flatMap({ Int($0) }) {
            let members = (FileSystem.list(paths.iommuGroups + "/\(id)/devices") ?? []).compactMap(PCIAddress.init).sorted()
            group = IOMMUGroup(id: id, members: members.map { m in
                m == address ? IOMMUGroupMember(pciAddress: m, driver: driver, classCode: nil)
                    : IOMMUGroupMember(pciAddress: m, driver: FileSystem.linkBasename(paths.device(m) + "/driver"),
                                       classCode: FileSystem.readAttribute(paths.deviceAttribute(m, .class)).value)
            })
        }
        return DeviceStatus(pciAddress: address, driver: driver, driverOverride: DriverOverride.value(override), iommuGroup: group)
    }

    /// Kernel interface: `/sys/bus/pci/devices/<pf>/{sriov_*,virtfnN,...}` for one PF and its VFs,
    /// plus `/sys/class/net` and the routing tables for its netdevs and the management flag.
    public func physicalFunction(_ address: PCIAddress) throws(SRIOVError) -> PhysicalFunction? {
        guard FileSystem.entryExists(paths.deviceAttribute(address, .sriovTotalVFs)) else { return nil }
        var problems: [String] = []
        let management = managementDevices(problems: &problems)
        var pf = readPF(address, scan: ScanContext(netdevs: netdevsByDevice()))
        pf.isManagement = management.devices.contains(address)
        return pf
    }

    public func defaultRouteInterfaces() -> [InterfaceName] {
        var problems: [String] = []
        return managementDevices(problems: &problems).interfaces
    }

    /// Kernel interface: `/sys/class/net/<if>/device`, `/sys/bus/pci/devices/<bdf>/{sriov_totalvfs,physfn}`,
    /// `/sys/bus/netdevsim/devices/netdevsim<N>/sriov_numvfs` (`PFResolver`).
    public func resolvePF(_ text: String) throws(SRIOVError) -> PFTarget {
        try PFResolver(paths: paths).resolve(text, source: self)
    }

    /// Kernel interface: `/sys/bus/pci/devices/<pf>/sriov_numvfs`, or
    /// `/sys/bus/netdevsim/devices/netdevsim<N>/sriov_numvfs`.
    public func readNumVFs(_ pf: PFDevice) throws(SRIOVError) -> Int {
        let path: String
        switch pf {
        case .pci(let a): path = paths.deviceAttribute(a, .sriovNumVFs)
        case .netdevsim(let id): path = PFResolver(paths: paths).netdevsimDirectory(id) + "/sriov_numvfs"
        }
        let (value, errno) = FileSystem.readAttribute(path)
        guard let value, let n = Int(value) else {
            throw SRIOVError(.io, "cannot read \(path): \(Errno.name(errno))", cause: .errno(errno))
        }
        return n
    }

    /// Kernel interface: `/sys/bus/pci/devices/<pf>/virtfn<N>` (links whose device directory exists).
    public func presentVFs(of pf: PCIAddress) -> Int {
        let dir = paths.device(pf)
        return (FileSystem.list(dir) ?? []).filter { $0.hasPrefix("virtfn") && FileSystem.exists(dir + "/" + $0) }.count
    }

    /// Kernel interface: `/dev/vfio/<group>` (under `HostPaths.dev`).
    public func vfioGroupNode(_ group: Int) -> VFIOGroupNode {
        let path = paths.vfioGroupDevice(group)
        return VFIOGroupNode(path: path, exists: FileSystem.entryExists(path))
    }

    /// Kernel interface: `/sys/class/net/<if>/carrier` (EINVAL while admin-down), `/sys/class/net/<if>/operstate`.
    public func pfLink(_ interface: InterfaceName) -> PFLinkState {
        let dir = paths.sysfs + "/class/net/" + interface.name
        let carrier = FileSystem.readAttribute(dir + "/carrier")
        return PFLinkState.fromSysfs(carrier: carrier.value, carrierErrno: carrier.errno,
                                     operState: FileSystem.readAttribute(dir + "/operstate").value)
    }

    /// What one discovery pass reads once and shares.
    struct ScanContext {
        /// Netdev names by the PCI device they sit on, from /sys/class/net.
        var netdevs: [PCIAddress: [InterfaceName]]
    }

    /// Maps each netdev in /sys/class/net to its PCI device, from the link target
    /// (`../../devices/pci0000:00/0000:00:03.0/0000:3b:00.0/net/ens1f0`, or `.../virtio0/net/eth0`
    /// under a virtio PCI function): one readlink per netdev
    /// instead of listing every device's `net` directory.
    func netdevsByDevice() -> [PCIAddress: [InterfaceName]] {
        var result: [PCIAddress: [InterfaceName]] = [:]
        let classNet = paths.sysfs + "/class/net"
        for name in FileSystem.list(classNet) ?? [] {
            guard let iface = InterfaceName(name), let target = FileSystem.readLink(classNet + "/" + name) else { continue }
            let parts = FileSystem.lastComponents(target, 4)
            // virtio-net sits one level further down (.../0000:00:03.0/virtio0/net/eth0): the device is
            // the PCI function above.
            guard parts.count >= 4, parts[parts.count - 2] == "net", parts[parts.count - 1] == name,
                  let device = PCIAddress(String(parts[parts.count - 3]))
                    ?? (parts[parts.count - 3].hasPrefix("virtio") ? PCIAddress(String(parts[parts.count - 4])) : nil)
            else { continue }
            result[device, default: []].append(iface)
        }
        for key in result.keys { result[key]?.sort() }
        return result
    }

    // MARK: PFs and VFs

    func readPF(_ address: PCIAddress, scan: ScanContext) -> PhysicalFunction {
        let dir = paths.device(address)
        var problems: [String] = []
        func attribute(_ a: SysfsAttribute) -> String? {
            let (value, errno) = FileSystem.readAttribute(dir + "/" + a.rawValue)
            if value == nil && errno != Errno.ENOENT {
                problems.append("cannot read \(a.rawValue): \(Errno.name(errno))")
            }
            return value
        }
        let total = attribute(.sriovTotalVFs).flatMap { Int($0) }
        if total == nil { problems.append("sriov_totalvfs is unreadable or not a number") }
        let num = attribute(.sriovNumVFs).flatMap { Int($0) }
        if num == nil { problems.append("sriov_numvfs is unreadable or not a number") }
        let interfaces = scan.netdevs[address] ?? []
        var pf = PhysicalFunction(
            pciAddress: address,
            vendorID: attribute(.vendor).map(stripHex),
            deviceID: attribute(.device).map(stripHex),
            driver: FileSystem.linkBasename(dir + "/driver"),
            interfaces: interfaces,
            numVFs: num ?? 0,
            totalVFs: total ?? 0,
            driversAutoprobe: attribute(.sriovDriversAutoprobe).map { $0 == "1" },
            numaNode: attribute(.numaNode).flatMap(NUMANode.fromSysfs),
            linkState: interfaces.first.flatMap { FileSystem.readAttribute(dir + "/net/\($0.name)/operstate").value },
            carrier: interfaces.first.flatMap { pfLink($0).carrier },
            iommuGroup: FileSystem.linkBasename(dir + "/iommu_group").flatMap { Int($0) }
        )
        // All VFs of a PF share one device ID, which the PF publishes.
        let vfDeviceID = attribute(.sriovVFDevice).map(stripHex)
        var vfs: [VirtualFunction] = []
        for entry in FileSystem.list(dir) ?? [] where entry.hasPrefix("virtfn") {
            guard let index = Int(entry.dropFirst(6)), index >= 0 else { continue }
            guard let target = FileSystem.linkBasename(dir + "/" + entry), let vfAddress = PCIAddress(target) else {
                problems.append("\(entry) is not a link to a PCI device")
                continue
            }
            guard let vf = readVF(vfAddress, index: index, pf: address, numaNode: pf.numaNode, deviceID: vfDeviceID,
                                  scan: scan) else {
                problems.append("\(entry) points to \(vfAddress), which does not exist (dangling link)")
                continue
            }
            vfs.append(vf)
        }
        vfs.sort { $0.index < $1.index }
        if let num, num != vfs.count, problems.allSatisfy({ !$0.contains("dangling") }) {
            problems.append("sriov_numvfs says \(num) but \(vfs.count) virtfn links were found")
        }
        pf.vfs = vfs
        pf.problems = problems
        return pf
    }

    /// A network function without SR-IOV: the few attributes a whole-device lease needs.
    func readFunction(_ address: PCIAddress, classCode: String?, group: Int?, scan: ScanContext) -> PCIFunction {
        let dir = paths.device(address)
        return PCIFunction(
            pciAddress: address,
            vendorID: FileSystem.readAttribute(dir + "/vendor").value.map(stripHex),
            deviceID: FileSystem.readAttribute(dir + "/device").value.map(stripHex),
            classCode: classCode,
            driver: FileSystem.linkBasename(dir + "/driver"),
            interfaces: scan.netdevs[address] ?? [],
            iommuGroup: group,
            numaNode: FileSystem.readAttribute(dir + "/numa_node").value.flatMap(NUMANode.fromSysfs)
        )
    }

    /// Nil when the VF's device directory does not exist (a dangling `virtfn` link).
    func readVF(_ address: PCIAddress, index: Int, pf: PCIAddress, numaNode: NUMANode?, deviceID: String?,
                scan: ScanContext) -> VirtualFunction? {
        let dir = paths.device(address)
        // driver_override exists on every PCI device: reading it doubles as the existence check.
        let (overrideText, errno) = FileSystem.readAttribute(dir + "/driver_override")
        if overrideText == nil, errno == Errno.ENOENT, !FileSystem.exists(dir) { return nil }
        let override = DriverOverride.value(overrideText)
        return VirtualFunction(
            index: index,
            pciAddress: address,
            pf: pf,
            deviceID: deviceID ?? FileSystem.readAttribute(dir + "/device").value.map(stripHex),
            driver: FileSystem.linkBasename(dir + "/driver"),
            driverOverride: override,
            iommuGroup: FileSystem.linkBasename(dir + "/iommu_group").flatMap { Int($0) },
            interfaces: scan.netdevs[address] ?? [],
            numaNode: numaNode
        )
    }

    func stripHex(_ text: String) -> String {
        text.hasPrefix("0x") ? String(text.dropFirst(2)) : text
    }

    // MARK: IOMMU groups

    /// The groups that hold a PF, a VF or a network function without SR-IOV, with every member's driver
    /// and class. Membership comes from each device's `iommu_group` link (all PCI devices were seen),
    /// not from listing every group.
    func groups(for pfs: [PhysicalFunction], functions: [PCIFunction], others: [PCIAddress: Int]) -> [IOMMUGroup] {
        var members: [Int: [IOMMUGroupMember]] = [:]
        for function in functions {
            if let g = function.iommuGroup {
                members[g, default: []].append(IOMMUGroupMember(pciAddress: function.pciAddress, driver: function.driver,
                                                                classCode: function.classCode))
            }
        }
        for pf in pfs {
            if let g = pf.iommuGroup { members[g, default: []].append(IOMMUGroupMember(pciAddress: pf.pciAddress, driver: pf.driver)) }
            for vf in pf.vfs {
                if let g = vf.iommuGroup { members[g, default: []].append(IOMMUGroupMember(pciAddress: vf.pciAddress, driver: vf.driver)) }
            }
        }
        // Other devices matter only where they share a group with a PF or a VF: read their driver and
        // class (a bridge may stay in a passed-through group).
        for (address, g) in others where members[g] != nil {
            members[g]?.append(IOMMUGroupMember(
                pciAddress: address,
                driver: FileSystem.linkBasename(paths.device(address) + "/driver"),
                classCode: FileSystem.readAttribute(paths.deviceAttribute(address, .class)).value))
        }
        return members.keys.sorted().map { id in
            IOMMUGroup(id: id, members: (members[id] ?? []).sorted { $0.pciAddress < $1.pciAddress })
        }
    }

    // MARK: Host facts

    func hostFacts(problems: inout [String]) -> HostFacts {
        let cmdline = FileSystem.read(paths.procfs + "/cmdline")
        if cmdline == nil { problems.append("cannot read \(paths.procfs)/cmdline") }
        let release = FileSystem.read(paths.procfs + "/sys/kernel/osrelease")
        let groupNames = FileSystem.list(paths.iommuGroups) ?? []
        let units = (FileSystem.list(paths.sysfs + "/class/iommu") ?? []).sorted()
        let vfioLoaded = FileSystem.isDirectory(paths.pciDrivers + "/vfio-pci")
        return HostFacts(
            kernelRelease: release,
            kernelCommandLine: cmdline,
            iommuCommandLine: IOMMUCommandLine(parsing: cmdline ?? ""),
            iommuUnits: units,
            iommuGroupsPresent: !groupNames.isEmpty,
            iommuGroupCount: groupNames.count,
            interruptRemapping: interruptRemapping(),
            vfioPCILoaded: vfioLoaded,
            vfioPCIAvailable: vfioLoaded || vfioModuleAvailable(release: release)
        )
    }

    /// IR- interrupt chips (IR-PCI-MSI, IR-IO-APIC) appear only when remapping is on.
    func interruptRemapping() -> Bool? {
        FileSystem.contains(paths.procfs + "/interrupts", " IR-")
    }

    func vfioModuleAvailable(release: String?) -> Bool {
        if FileSystem.isDirectory(paths.sysfs + "/module/vfio_pci") { return true }
        guard let release, !release.contains("/") else { return false }
        let dir = paths.modules + "/" + release
        for file in ["modules.builtin", "modules.dep"] {
            if FileSystem.contains(dir + "/" + file, "/vfio-pci.ko") == true { return true }
        }
        return false
    }

    // MARK: Management NIC

    struct Management {
        var interfaces: [InterfaceName] = []
        var devices: Set<PCIAddress> = []
    }

    /// Interfaces with a default route and the PCI devices under them (through VLAN, bond and bridge
    /// lower links; a VF's PF counts too, since changing the PF disturbs the VF).
    func managementDevices(problems: inout [String]) -> Management {
        var names: [String] = []
        // Byte fields: /proc/net/{route,ipv6_route} are ASCII, and splitting them as Characters cost more
        // than the rest of discovery on a small host (callgrind, Docs/Performance.md).
        if case .success(let v4) = FileSystem.readBytes(paths.procfs + "/net/route") {
            for f in Bytes.fields(v4).dropFirst() {
                // Iface Destination Gateway Flags RefCnt Use Metric Mask ...
                if f.count >= 8, Bytes.equal(f[1], "00000000"), Bytes.equal(f[7], "00000000"), !Bytes.equal(f[0], "lo") {
                    names.append(String(decoding: f[0], as: UTF8.self))
                }
            }
        }
        if case .success(let v6) = FileSystem.readBytes(paths.procfs + "/net/ipv6_route") {
            for f in Bytes.fields(v6) {
                // dest prefixlen src srclen nexthop metric refcnt use flags iface
                if f.count >= 10, Bytes.equal(f[0], "00000000000000000000000000000000"), Bytes.equal(f[1], "00"), !Bytes.equal(f[9], "lo") {
                    names.append(String(decoding: f[9], as: UTF8.self))
                }
            }
        }
        var result = Management()
        var seen: [String] = []
        for name in names.sorted() where seen.last != name {
            seen.append(name)
            guard let iface = InterfaceName(name) else {
                problems.append("default route names an invalid interface \(Quote.shell(name))")
                continue
            }
            result.interfaces.append(iface)
            pciDevices(under: iface, depth: 0, into: &result.devices)
        }
        return result
    }

    func pciDevices(under iface: InterfaceName, depth: Int, into devices: inout Set<PCIAddress>) {
        guard depth < 8 else { return }
        let dir = paths.sysfs + "/class/net/" + iface.name
        // `device` may point below the PCI function (virtio-net: .../0000:00:01.0/virtio0): the PCI
        // device is the nearest path component that is a PCI address.
        if let target = FileSystem.realPath(dir + "/device"),
           let address = FileSystem.components(target).reversed().lazy.compactMap({ PCIAddress(String($0)) }).first {
            devices.insert(address)
            if let pf = FileSystem.linkBasename(paths.device(address) + "/physfn").flatMap(PCIAddress.init) {
                devices.insert(pf)
            }
        }
        for entry in FileSystem.list(dir) ?? [] where entry.hasPrefix("lower_") {
            if let lower = InterfaceName(String(entry.dropFirst(6))) {
                pciDevices(under: lower, depth: depth + 1, into: &devices)
            }
        }
    }
}
