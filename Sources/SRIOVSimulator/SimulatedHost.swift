#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SRIOVCore
import SRIOVSysfs

/// A simulated SR-IOV host: a sysfs-shaped tree on disk that the real `SysfsDiscovery` reads, plus
/// `netlink/<pf>.table` for what the kernel would report over netlink. Every write goes through the same
/// rules the kernel applies (see Docs/Simulator.md), under a file lock, so several processes can share it.
public struct SimulatedHost: PCIDeviceControl, HostInventorySource {
    public let directory: String
    public let spec: SimulatedHostSpec
    let linkTables = LinkTables()
    let hostLock = HostLock()

    public var paths: HostPaths { HostPaths(root: directory) }
    var tree: TreeWriter { TreeWriter(root: directory) }

    /// The simulated host's folder inside a state directory.
    public static func directory(inStateDirectory stateDir: String) -> String {
        HostPaths.trimTrailingSlash(stateDir) + "/simulated-host"
    }

    /// Opens the simulated host at `directory`, building it from `spec()` the first time.
    public static func openOrCreate(directory: String,
                                    spec: () -> SimulatedHostSpec = SimulatedHostSpec.standard) throws(SRIOVError) -> SimulatedHost {
        if FileSystem.exists(directory + "/host.json") { return try open(directory: directory) }
        return try create(directory: directory, spec: spec())
    }

    /// Opens an existing simulated host.
    public static func open(directory: String) throws(SRIOVError) -> SimulatedHost {
        let specPath = directory + "/host.json"
        let text: String
        switch FileSystem.readResult(specPath) {
        case .success(let t): text = t
        case .failure(let e):
            throw SRIOVError(.notFound, "no simulated host at \(directory) (\(e.message)); it is created on first use with --simulated")
        }
        do {
            let spec = try CompactJSONDecoder().decode(SimulatedHostSpec.self, from: Array(text.utf8))
            return SimulatedHost(directory: directory, spec: spec)
        } catch {
            throw SRIOVError(.corrupt, "\(specPath) is not a valid simulated host description: \(error); delete \(directory) to rebuild the default simulated host")
        }
    }

    /// Builds a fresh simulated host from `spec`, replacing anything at `directory`.
    public static func create(directory: String, spec: SimulatedHostSpec) throws(SRIOVError) -> SimulatedHost {
        try spec.validate()
        let host = SimulatedHost(directory: HostPaths.trimTrailingSlash(directory), spec: spec)
        try host.build()
        return host
    }

    init(directory: String, spec: SimulatedHostSpec) {
        self.directory = directory
        self.spec = spec
    }

    public func inventory() throws(SRIOVError) -> HostInventory {
        try SysfsDiscovery(paths: paths).inventory()
    }

    public func inventory(scope: DiscoveryScope) throws(SRIOVError) -> HostInventory {
        try SysfsDiscovery(paths: paths).inventory(scope: scope)
    }

    public func device(_ address: PCIAddress) throws(SRIOVError) -> DeviceStatus? {
        try SysfsDiscovery(paths: paths).device(address)
    }

    public func physicalFunction(_ address: PCIAddress) throws(SRIOVError) -> PhysicalFunction? {
        try SysfsDiscovery(paths: paths).physicalFunction(address)
    }

    public func defaultRouteInterfaces() -> [InterfaceName] {
        SysfsDiscovery(paths: paths).defaultRouteInterfaces()
    }

    /// Kernel interface (simulated): `/sys/class/net/<if>/device`, `/sys/bus/pci/devices/<bdf>/{sriov_totalvfs,physfn}`.
    public func resolvePF(_ text: String) throws(SRIOVError) -> PFTarget {
        try PFResolver(paths: paths).resolve(text, source: self)
    }

    /// Kernel interface (simulated): `/sys/bus/pci/devices/<pf>/sriov_numvfs`.
    public func readNumVFs(_ pf: PFDevice) throws(SRIOVError) -> Int {
        try SysfsDiscovery(paths: paths).readNumVFs(pf)
    }

    /// Kernel interface (simulated): `/sys/bus/pci/devices/<pf>/virtfn<N>`.
    public func presentVFs(of pf: PCIAddress) -> Int {
        SysfsDiscovery(paths: paths).presentVFs(of: pf)
    }

    /// Kernel interface (simulated): `dev/vfio/<group>` in the simulated host's tree.
    public func vfioGroupNode(_ group: Int) -> VFIOGroupNode {
        SysfsDiscovery(paths: paths).vfioGroupNode(group)
    }

    /// Kernel interface (simulated): `sys/class/net/<if>/{carrier,operstate}` in the simulated host's tree.
    public func pfLink(_ interface: InterfaceName) -> PFLinkState {
        SysfsDiscovery(paths: paths).pfLink(interface)
    }

    // MARK: Building

    func build() throws(SRIOVError) {
        tree.remove("sys")
        tree.remove("proc")
        tree.remove("lib")
        tree.remove("dev")
        // Processes that mapped the old tables move to the new ones.
        linkTables.retireAll(in: directory + "/netlink")
        tree.remove("netlink")
        tree.remove("netlink.state")
        tree.remove("netlink.json")
        try tree.mkdirs("")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let json = try? encoder.encode(spec) else {
            throw SRIOVError(.io, "simulator: cannot encode the host description")
        }
        try tree.write("host.json", String(decoding: json, as: UTF8.self))
        try withLock { () throws(SRIOVError) in
            var links = LinkTable()
            for dir in ["sys/bus/pci/devices", "sys/bus/pci/drivers", "sys/kernel/iommu_groups", "sys/class/net",
                        "sys/class/iommu", "sys/module", "proc/net", "proc/sys/kernel", "dev/vfio",
                        "lib/modules/\(spec.kernelRelease)/kernel/drivers/vfio/pci"] {
                try tree.mkdirs(dir)
            }
            try tree.write("sys/bus/pci/drivers_probe", "")
            var drivers = Set(["pcieport"])
            if spec.vfioPCILoaded { drivers.insert("vfio-pci") }
            for pf in spec.pfs {
                if let p = spec.profile(named: pf.profile) { drivers.formUnion([p.pfDriver, p.vfDriver]) }
            }
            for device in spec.devices { drivers.insert(device.driver) }
            for driver in drivers.sorted() {
                try tree.mkdirs("sys/bus/pci/drivers/\(driver)")
                try tree.write("sys/bus/pci/drivers/\(driver)/bind", "")
                try tree.write("sys/bus/pci/drivers/\(driver)/unbind", "")
            }
            if spec.vfioPCILoaded {
                try tree.mkdirs("sys/module/vfio_pci")
                try tree.write("dev/vfio/vfio", "")
            }
            if spec.iommu { try tree.mkdirs("sys/class/iommu/dmar0") }
            // The root complex, in a group of its own.
            let hostBridge = PCIAddress(domain: 0, routingID: 0)
            try makeDevice(hostBridge, vendor: "8086", device: "09a2", classCode: "0x060000", numaNode: nil)
            try joinNewGroup(hostBridge)

            var routes: [String] = []
            for pf in spec.pfs {
                guard let profile = spec.profile(named: pf.profile) else { continue }
                try makeDevice(pf.address, vendor: profile.vendorID, device: profile.pfDeviceID, classCode: "0x020000",
                               numaNode: pf.numaNode)
                let dev = devicePath(pf.address)
                try tree.write(dev + "/sriov_totalvfs", "\(pf.totalVFs)\n")
                try tree.write(dev + "/sriov_numvfs", "0\n")
                try tree.write(dev + "/sriov_drivers_autoprobe", "1\n")
                try tree.write(dev + "/sriov_offset", "\(pf.firstVFOffset)\n")
                try tree.write(dev + "/sriov_stride", "\(pf.vfStride)\n")
                try tree.write(dev + "/sriov_vf_device", "\(profile.vfDeviceID)\n")
                if let with = pf.iommuGroupWith, let group = groupOf(with) {
                    try join(pf.address, group: group)
                } else {
                    try joinNewGroup(pf.address)
                }
                links.pfs[pf.interface] = LinkTable.PFLink(pf: pf.address, up: pf.linkUp, vfs: [])
                if pf.driverBound {
                    // Binding the PF's driver makes its netdev (`bind`).
                    try bind(pf.address, driver: profile.pfDriver)
                }
                if pf.carriesDefaultRoute {
                    routes.append(pf.interface)
                }
            }
            try saveLinks(links)
            for pf in spec.pfs where pf.initialVFs > 0 {
                try enableVFs(pf, count: pf.initialVFs)
            }
            // Functions without SR-IOV last: the PFs' and VFs' group numbers stay as without them.
            for device in spec.devices {
                try makeDevice(device.address, vendor: device.vendorID, device: device.deviceID, classCode: device.classCode,
                               numaNode: device.numaNode)
                if let with = device.iommuGroupWith, let group = groupOf(with) {
                    try join(device.address, group: group)
                } else {
                    try joinNewGroup(device.address)
                }
                if device.driverBound { try bind(device.address, driver: device.driver) }
                if device.carriesDefaultRoute, let name = device.interface { routes.append(name) }
            }
            try writeProc(defaultRoutes: routes)
        }
    }

    func writeProc(defaultRoutes: [String]) throws(SRIOVError) {
        try tree.write("proc/cmdline", spec.kernelCommandLine + "\n")
        try tree.write("proc/sys/kernel/osrelease", spec.kernelRelease + "\n")
        let chip = spec.interruptRemapping ? "IR-PCI-MSI" : "PCI-MSI"
        try tree.write("proc/interrupts", """
                       CPU0       CPU1
              0:         12          0   IO-APIC    2-edge      timer
             24:       1203        981  \(chip) 524288-edge      nvme0q0

            """)
        var route = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        var route6 = ""
        for iface in defaultRoutes {
            route += "\(iface)\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
            route += "\(iface)\t0000A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"
            route6 += "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 \(iface)\n"
        }
        try tree.write("proc/net/route", route)
        try tree.write("proc/net/ipv6_route", route6)
        try tree.write("lib/modules/\(spec.kernelRelease)/modules.dep",
                       "kernel/drivers/vfio/pci/vfio-pci.ko: kernel/drivers/vfio/pci/vfio-pci-core.ko\n")
    }

    // MARK: Devices

    func devicesRoot(_ address: PCIAddress) -> String {
        "sys/devices/pci" + String(address.description.prefix(while: { $0 != ":" })) + ":00"
    }

    func devicePath(_ address: PCIAddress) -> String { devicesRoot(address) + "/" + address.description }

    func makeDevice(_ address: PCIAddress, vendor: String, device: String, classCode: String, numaNode: Int?) throws(SRIOVError) {
        let dev = devicePath(address)
        try tree.mkdirs(dev)
        try tree.write(dev + "/vendor", "0x\(vendor)\n")
        try tree.write(dev + "/device", "0x\(device)\n")
        try tree.write(dev + "/class", "\(classCode)\n")
        try tree.write(dev + "/numa_node", "\(numaNode ?? -1)\n")
        try tree.write(dev + "/driver_override", "(null)\n")
        try tree.symlink("../../../" + dev.dropFirst(4), at: "sys/bus/pci/devices/\(address)")
    }

    func makeNetdev(_ address: PCIAddress, name: String, up: Bool) throws(SRIOVError) {
        let dir = devicePath(address) + "/net/" + name
        try tree.mkdirs(dir)
        try tree.write(dir + "/operstate", up ? "up\n" : "down\n")
        try tree.write(dir + "/carrier", up ? "1\n" : "0\n")
        try tree.write(dir + "/address", "00:00:00:00:00:00\n")
        try tree.symlink("../../../\(address)", at: dir + "/device")
        try tree.symlink("../../" + dir.dropFirst(4), at: "sys/class/net/\(name)")
    }

    func removeNetdevs(_ address: PCIAddress) {
        let dir = devicePath(address) + "/net"
        for name in FileSystem.list(tree.path(dir)) ?? [] { tree.removeLink("sys/class/net/\(name)") }
        tree.remove(dir)
    }

    // MARK: IOMMU groups

    func groupOf(_ address: PCIAddress) -> Int? {
        FileSystem.linkBasename(tree.path(devicePath(address) + "/iommu_group")).flatMap { Int($0) }
    }

    /// Puts the device in a new group and returns its number (the next after the highest in use).
    @discardableResult
    func joinNewGroup(_ address: PCIAddress, hint: Int? = nil) throws(SRIOVError) -> Int {
        let id = hint ?? nextGroupID()
        guard spec.iommu else { return id }
        try join(address, group: id)
        return id
    }

    func nextGroupID() -> Int {
        ((FileSystem.list(tree.path("sys/kernel/iommu_groups")) ?? []).compactMap { Int($0) }.max() ?? -1) + 1
    }

    func join(_ address: PCIAddress, group: Int) throws(SRIOVError) {
        guard spec.iommu else { return }
        try tree.mkdirs("sys/kernel/iommu_groups/\(group)/devices")
        try tree.symlink("../../../../" + devicePath(address).dropFirst(4), at: "sys/kernel/iommu_groups/\(group)/devices/\(address)")
        try tree.symlink("../../../kernel/iommu_groups/\(group)", at: devicePath(address) + "/iommu_group")
    }

    func leaveGroup(_ address: PCIAddress) {
        guard let group = groupOf(address) else { return }
        tree.removeLink("sys/kernel/iommu_groups/\(group)/devices/\(address)")
        if (FileSystem.list(tree.path("sys/kernel/iommu_groups/\(group)/devices")) ?? []).isEmpty {
            tree.remove("sys/kernel/iommu_groups/\(group)")
            tree.remove("dev/vfio/\(group)")
        }
    }

    /// `/dev/vfio/<group>` exists while any member of the group is bound to vfio-pci. `unbound`: a
    /// member just unbound (known driverless, so not read again).
    func refreshVFIONode(group: Int?, unbound: PCIAddress? = nil) throws(SRIOVError) {
        guard let group else { return }
        let members = FileSystem.list(tree.path("sys/kernel/iommu_groups/\(group)/devices")) ?? []
        let anyVFIO = members.compactMap(PCIAddress.init).contains { $0 != unbound && driverOf($0) == "vfio-pci" }
        if anyVFIO { try addVFIONode(group: group) } else { removeVFIONode(group: group) }
    }

    /// A member was just bound to vfio-pci: the node exists (created if need be, never truncated).
    func addVFIONode(group: Int?) throws(SRIOVError) {
        guard let group else { return }
        try tree.touch("dev/vfio/\(group)")
    }

    func removeVFIONode(group: Int) {
        let path = tree.path("dev/vfio/\(group)")
        if unlink(path) != 0 && errno != ENOENT { tree.remove("dev/vfio/\(group)") }
    }

    // MARK: Drivers

    func driverOf(_ address: PCIAddress) -> String? {
        FileSystem.linkBasename(tree.path(devicePath(address) + "/driver"))
    }

    /// Binds `driver`; `vf` (PF spec, index, profile) saves looking the VF up when the caller knows it.
    func bind(_ address: PCIAddress, driver: String,
              vf known: (SimulatedHostSpec.PF, Int, DriverProfile)? = nil, group: Int?? = nil) throws(SRIOVError) {
        let dev = devicePath(address)
        try tree.symlink("../../../bus/pci/drivers/\(driver)", at: dev + "/driver")
        try tree.symlink("../../../../" + String(dev.dropFirst(4)), at: "sys/bus/pci/drivers/\(driver)/\(address)")
        // Only a VF's own network driver makes a netdev (vfio-pci never does: no VF lookup for it).
        if driver != "vfio-pci", let (pf, index, profile) = known ?? vfInfo(address), driver == profile.vfDriver, profile.vfHasNetdev {
            try makeNetdev(address, name: SimulatedHost.vfInterfaceName(pf: pf.interface, index: index),
                           up: pf.linkUp)
        } else if driver != "vfio-pci", known == nil, let pf = spec.pfs.first(where: { $0.address == address }),
                  driver == spec.profile(named: pf.profile)?.pfDriver {
            // A PF's own driver makes its netdev (at build, and when a PF leased whole gets it back).
            try makeNetdev(address, name: pf.interface, up: pf.linkUp)
        } else if driver != "vfio-pci", known == nil, let device = spec.device(at: address), driver == device.driver,
                  let name = device.interface {
            // So does a function's without SR-IOV (leased whole, it gets it back on release).
            try makeNetdev(address, name: name, up: device.linkUp)
        }
        if driver == "vfio-pci" { try addVFIONode(group: group ?? groupOf(address)) }
        SimulatedEventLog.append(directory, [SimulatedEventLog.pci(.bind, address, driver: driver)])
    }

    static func vfInterfaceName(pf: String, index: Int) -> String {
        let suffix = "v\(index)"
        return String(pf.prefix(InterfaceName.maxLength - suffix.count)) + suffix
    }

    /// The PF spec, index and profile of a VF address, if it is a VF of a simulated PF.
    func vfInfo(_ address: PCIAddress) -> (SimulatedHostSpec.PF, Int, DriverProfile)? {
        guard let physfn = FileSystem.linkBasename(tree.path(devicePath(address) + "/physfn")).flatMap(PCIAddress.init),
              let pf = spec.pfs.first(where: { $0.address == physfn }),
              let profile = spec.profile(named: pf.profile) else { return nil }
        // SR-IOV routing gives the index (RID = PF RID + offset + n * stride); the virtfn link confirms it.
        let delta = Int(address.routingID) - Int(pf.address.routingID) - pf.firstVFOffset
        guard delta >= 0, pf.vfStride > 0, delta % pf.vfStride == 0 else { return nil }
        let index = delta / pf.vfStride
        guard FileSystem.linkBasename(tree.path(devicePath(physfn) + "/virtfn\(index)")) == address.description else { return nil }
        return (pf, index, profile)
    }

    /// The driver whose ID table matches the device (what autoprobe and drivers_probe pick).
    func matchingDriver(_ address: PCIAddress) -> String? {
        if let pf = spec.pfs.first(where: { $0.address == address }) {
            return spec.profile(named: pf.profile)?.pfDriver
        }
        if let device = spec.device(at: address) { return device.driver }
        return vfInfo(address)?.2.vfDriver
    }

    func isDriverLoaded(_ driver: String) -> Bool {
        FileSystem.isDirectory(tree.path("sys/bus/pci/drivers/\(driver)"))
    }

    func unbindInternal(_ address: PCIAddress, group: Int?? = nil) throws(SRIOVError) {
        guard let driver = driverOf(address) else { return }
        // vfio-pci has no netdev to remove (saves listing the device's net directory).
        if driver != "vfio-pci" { removeNetdevs(address) }
        tree.removeLink(devicePath(address) + "/driver")
        tree.removeLink("sys/bus/pci/drivers/\(driver)/\(address)")
        if driver == "vfio-pci" { try refreshVFIONode(group: group ?? groupOf(address), unbound: address) }
        SimulatedEventLog.append(directory, [SimulatedEventLog.pci(.unbind, address, driver: driver)])
    }

    // MARK: VFs

    func enableVFs(_ pf: SimulatedHostSpec.PF, count: Int) throws(SRIOVError) {
        guard let profile = spec.profile(named: pf.profile) else { return }
        let pfDev = devicePath(pf.address)
        let autoprobe = FileSystem.read(tree.path(pfDev + "/sriov_drivers_autoprobe")) != "0"
        let enabled = min(count, profile.maxVFsEnabled ?? count)
        var links = try loadLinks()
        var states: [VFState] = []
        var nextGroup = nextGroupID()
        for index in 0..<enabled {
            let vf = SimulatedHostSpec.vfAddress(pf, index: index)
            try makeDevice(vf, vendor: profile.vendorID, device: profile.vfDeviceID, classCode: "0x020000",
                           numaNode: pf.numaNode)
            try tree.symlink("../\(vf)", at: pfDev + "/virtfn\(index)")
            try tree.symlink("../\(pf.address)", at: devicePath(vf) + "/physfn")
            SimulatedEventLog.append(directory, [SimulatedEventLog.pci(.add, vf)])
            if pf.acsIsolated {
                try joinNewGroup(vf, hint: nextGroup)
                nextGroup += 1
            } else if let group = groupOf(pf.address) {
                try join(vf, group: group)
            }
            if autoprobe { try bind(vf, driver: profile.vfDriver, vf: (pf, index, profile)) }
            states.append(VFState(index: index))
        }
        try tree.write(pfDev + "/sriov_numvfs", "\(enabled)\n")
        links.pfs[pf.interface, default: LinkTable.PFLink(pf: pf.address, up: pf.linkUp, vfs: [])].vfs = states
        try saveLinks(links)
        SimulatedEventLog.append(directory, [SimulatedEventLog.vfInfo(pf.interface)])
    }

    func disableVFs(_ pf: SimulatedHostSpec.PF) throws(SRIOVError) {
        let pfDev = devicePath(pf.address)
        for entry in FileSystem.list(tree.path(pfDev)) ?? [] where entry.hasPrefix("virtfn") {
            if let vf = FileSystem.linkBasename(tree.path(pfDev + "/" + entry)).flatMap(PCIAddress.init) {
                try unbindInternal(vf)
                leaveGroup(vf)
                tree.removeLink("sys/bus/pci/devices/\(vf)")
                tree.remove(devicePath(vf))
                SimulatedEventLog.append(directory, [SimulatedEventLog.pci(.remove, vf)])
            }
            tree.removeLink(pfDev + "/" + entry)
        }
        try tree.write(pfDev + "/sriov_numvfs", "0\n")
        var links = try loadLinks()
        links.pfs[pf.interface]?.vfs = []
        try saveLinks(links)
        SimulatedEventLog.append(directory, [SimulatedEventLog.vfInfo(pf.interface)])
    }

    func pfSpec(_ address: PCIAddress, what: String) throws(SRIOVError) -> SimulatedHostSpec.PF {
        guard let pf = spec.pfs.first(where: { $0.address == address }) else {
            // The kernel has no such attribute on a non-PF (or no device at all): the open fails.
            throw SysfsWriteError.make(device: address, what: what, path: paths.deviceAttribute(address, .sriovNumVFs),
                                       errno: Errno.ENOENT)
        }
        return pf
    }

    // MARK: PCIDeviceControl (the kernel's rules)

    /// Kernel interface (simulated): `sriov_numvfs`. Rules, in the kernel's order: above
    /// `sriov_totalvfs` ERANGE; the same value is a no-op; no PF driver ENOENT; 0 removes the VFs;
    /// non-zero to another non-zero EBUSY; the driver may enable fewer than asked.
    public func writeNumVFs(_ count: Int, pf address: PCIAddress) throws(SRIOVError) {
        let what = "set sriov_numvfs to \(count)"
        let path = paths.deviceAttribute(address, .sriovNumVFs)
        let pf = try pfSpec(address, what: what)
        try withLock { () throws(SRIOVError) in
            guard count >= 0 else { throw SysfsWriteError.make(device: address, what: what, path: path, errno: Errno.EINVAL) }
            guard count <= pf.totalVFs else {
                throw SysfsWriteError.make(device: address, what: what, path: path, errno: Errno.ERANGE)
            }
            let current = Int(FileSystem.read(tree.path(devicePath(address) + "/sriov_numvfs")) ?? "0") ?? 0
            if count == current { return }
            guard driverOf(address) != nil else {
                throw SysfsWriteError.make(device: address, what: what, path: path, errno: Errno.ENOENT)
            }
            if count == 0 {
                try disableVFs(pf)
                return
            }
            guard current == 0 else {
                throw SysfsWriteError.make(device: address, what: what, path: path, errno: Errno.EBUSY)
            }
            try enableVFs(pf, count: count)
        }
    }

    /// Kernel interface (simulated): `sriov_drivers_autoprobe` (0 or 1; matters for VFs created later).
    public func writeDriversAutoprobe(_ on: Bool, pf address: PCIAddress) throws(SRIOVError) {
        _ = try pfSpec(address, what: "set sriov_drivers_autoprobe")
        try withLock { () throws(SRIOVError) in
            try tree.write(devicePath(address) + "/sriov_drivers_autoprobe", on ? "1\n" : "0\n")
        }
    }

    /// Kernel interface (simulated): `driver/unbind`: the device is left driverless.
    public func unbind(_ device: PCIAddress) throws(SRIOVError) {
        try requireDevice(device, what: "unbind from its driver")
        try withDeviceLock(device) { (group) throws(SRIOVError) in try unbindInternal(device, group: group) }
    }

    /// Kernel interface (simulated): `driver_override` (does not unbind the current driver).
    public func writeDriverOverride(_ driver: String?, device: PCIAddress) throws(SRIOVError) {
        if let driver { try DriverName.check(driver) }
        try requireDevice(device, what: driver.map { "set driver_override to \($0)" } ?? "clear driver_override")
        try withDeviceLock(device) { (_) throws(SRIOVError) in
            try tree.write(devicePath(device) + "/driver_override", (driver ?? "(null)") + "\n")
        }
    }

    /// Kernel interface (simulated): `drivers_probe`. A bound device stays as it is; with
    /// `driver_override` only that driver may bind (and nothing binds if it is not loaded); without
    /// it, the driver whose ID table matches binds, unless the device is a VF of a PF with
    /// `sriov_drivers_autoprobe` 0.
    public func probe(_ device: PCIAddress) throws(SRIOVError) {
        try requireDevice(device, what: "probe drivers")
        try withDeviceLock(device) { (group) throws(SRIOVError) in try probeInternal(device, group: group) }
    }

    /// `unbind` + `driver_override` + `drivers_probe` under one lock (the same rules as the three).
    /// `rebind` and `detach` run under one lock, as one step.
    public var bindsAtomically: Bool { true }

    public func rebind(_ device: PCIAddress, override driver: String) throws(SRIOVError) {
        try DriverName.check(driver)
        try requireDevice(device, what: "bind to \(driver)")
        try withDeviceLock(device) { (group) throws(SRIOVError) in
            try unbindInternal(device, group: group)
            try tree.write(devicePath(device) + "/driver_override", driver + "\n")
            // Known under the lock: no driver now, and the override just written.
            try probeInternal(device, group: group, unbound: true, override: .some(driver))
        }
    }

    /// `unbind` + clearing `driver_override` under one lock.
    public func detach(_ device: PCIAddress) throws(SRIOVError) {
        try requireDevice(device, what: "unbind from its driver")
        try withDeviceLock(device) { (group) throws(SRIOVError) in
            try unbindInternal(device, group: group)
            try tree.write(devicePath(device) + "/driver_override", "(null)\n")
        }
    }

    /// `unbound`/`override`: what the caller knows already under the lock (saves reading them again).
    func probeInternal(_ device: PCIAddress, group: Int?? = nil, unbound: Bool = false, override known: String?? = nil) throws(SRIOVError) {
        guard unbound || driverOf(device) == nil else { return }
        let override = known ?? DriverOverride.value(FileSystem.read(tree.path(devicePath(device) + "/driver_override")))
        if let override {
            if isDriverLoaded(override) { try bind(device, driver: override, group: group) }
            return
        }
        // pci_device_can_probe(): a VF whose PF has sriov_drivers_autoprobe 0 binds only through
        // driver_override; drivers_probe still succeeds.
        if let pf = FileSystem.linkBasename(tree.path(devicePath(device) + "/physfn")).flatMap(PCIAddress.init),
           FileSystem.read(tree.path(devicePath(pf) + "/sriov_drivers_autoprobe")) == "0" {
            return
        }
        if let driver = matchingDriver(device), isDriverLoaded(driver) { try bind(device, driver: driver, group: group) }
    }

    func requireDevice(_ device: PCIAddress, what: String) throws(SRIOVError) {
        guard FileSystem.exists(tree.path(devicePath(device))) else {
            throw SysfsWriteError.make(device: device, what: what, path: paths.device(device), errno: Errno.ENODEV)
        }
    }

    // MARK: Locking

    /// Runs `body` with the host to itself (PF-level changes: VF counts, autoprobe, building).
    /// `HostLock` says how threads and processes share the host.
    func withLock<T>(_ body: () throws(SRIOVError) -> T) throws(SRIOVError) -> T {
        try hostLock.withLock(directory + "/.lock", .exclusive, body)
    }

    /// Runs `body` holding `device`'s stripe (its IOMMU group): other devices' steps run meanwhile.
    func withDeviceLock<T>(_ device: PCIAddress, _ body: (_ group: Int?) throws(SRIOVError) -> T) throws(SRIOVError) -> T {
        // The group cannot change under the stripe (only a VF-count change, which locks all, moves
        // it), so the body gets it instead of reading the link again.
        let group = groupOf(device)
        return try hostLock.withLock(directory + "/.lock", .device(stripe: HostLock.stripe(group: group, address: device))) { () throws(SRIOVError) -> T in
            try body(group)
        }
    }

    /// Runs `body` holding the lock of the `netlink/` state (VF settings).
    func withLinksLock<T>(_ body: () throws(SRIOVError) -> T) throws(SRIOVError) -> T {
        try hostLock.withLock(directory + "/.lock", .links, body)
    }
}
