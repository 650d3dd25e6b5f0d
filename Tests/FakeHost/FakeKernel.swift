import SRIOVCore
import SRIOVSimulator

/// The fake host's state and the kernel's rules over it, as a value: `FakeHost` keeps one behind a
/// `Mutex` and runs each seam call as one mutation. The rules are the simulator's (Docs/Simulator.md),
/// in the same order, with refusals worded as the real sysfs words them.
struct FakeKernel: Sendable {
    struct Device: Sendable {
        var vendorID: String
        var deviceID: String
        var classCode: String
        var numaNode: Int?
        var driver: String?
        var driverOverride: String?
        var group: Int?
        /// A VF's PF and index.
        var physfn: PCIAddress?
        var vfIndex: Int?
        var netdevs: [InterfaceName] = []
    }

    struct PFState: Sendable {
        var spec: FakeHost.PF
        var profile: FakeHost.Driver
        var numVFs = 0
        var autoprobe = true
        /// The VFs that exist, by index.
        var vfs: [PCIAddress] = []
    }

    /// What the kernel reports over netlink for one PF netdev.
    /// A PF netdev's link and VF settings: the simulator's own value (`LinkTable.PFLink`).
    typealias Link = LinkTable.PFLink

    let spec: FakeHost.Spec
    var devices: [PCIAddress: Device] = [:]
    var pfs: [PCIAddress: PFState] = [:]
    /// IOMMU group -> members.
    var groups: [Int: Set<PCIAddress>] = [:]
    /// Groups whose `/dev/vfio/<group>` exists.
    var vfioNodes: Set<Int> = []
    /// Owner, group and mode of `/dev/vfio/<group>` nodes changed from the kernel's root:root 0600.
    var nodeOwners: [Int: VFIONodeOwnership] = [:]
    var loadedDrivers: Set<String> = ["pcieport"]
    /// Netdevs (`/sys/class/net`) by name: the device under each, and its operstate.
    var netdevs: [String: (device: PCIAddress, up: Bool)] = [:]
    /// Netlink state by PF netdev name.
    var links: [String: Link] = [:]
    /// VF counters (IFLA_VF_STATS) set by tests, by PF netdev name and VF index; others read as 0.
    var counters: [String: [Int: VFCounters]] = [:]
    /// RTM_GETLINK requests with statistics, by PF netdev name (how often the kernel was asked).
    var statsReads: [String: Int] = [:]
    /// Reads of a PF netdev's carrier (`pfLink`), by name.
    var linkReads: [String: Int] = [:]
    /// Interfaces with a default route (`/proc/net/route`).
    var defaultRoutes: [String] = []
    /// Every write the host accepted or refused, in order.
    var writes: [FakeHost.Write] = []
    /// Injected refusals, consumed by the first matching write.
    var faults: [(write: FakeHost.Write, errno: Int32)] = []
    /// The kernel's announcements of the changes above (uevents, RTM_NEWLINK), not yet handed to
    /// `FakeHost`'s event subscribers.
    var events: [HostEvent] = []

    init(spec: FakeHost.Spec) throws(SRIOVError) {
        self.spec = spec
        try build()
    }

    // MARK: Building (SimulatedHost.build, in the same order, so group numbers match)

    mutating func build() throws(SRIOVError) {
        var seen = Set<PCIAddress>()
        for pf in spec.pfs {
            guard spec.profile(named: pf.profile) != nil else {
                throw SRIOVError(.invalidArgument, "fake PF \(pf.address): unknown driver profile \(Quote.shell(pf.profile))")
            }
            _ = try InterfaceName(parsing: pf.interface)
            guard pf.initialVFs <= pf.totalVFs, seen.insert(pf.address).inserted else {
                throw SRIOVError(.invalidArgument, "fake PF \(pf.address): listed twice, or initialVFs \(pf.initialVFs) above totalVFs \(pf.totalVFs)")
            }
        }
        if spec.vfioPCILoaded { loadedDrivers.insert("vfio-pci") }
        for pf in spec.pfs {
            if let p = spec.profile(named: pf.profile) { loadedDrivers.formUnion([p.pfDriver, p.vfDriver]) }
        }
        for device in spec.devices { loadedDrivers.insert(device.driver) }
        let hostBridge = PCIAddress(domain: 0, routingID: 0)
        devices[hostBridge] = Device(vendorID: "8086", deviceID: "09a2", classCode: "0x060000", numaNode: nil)
        joinNewGroup(hostBridge)
        for pf in spec.pfs {
            guard let profile = spec.profile(named: pf.profile) else { continue }
            devices[pf.address] = Device(vendorID: profile.vendorID, deviceID: profile.pfDeviceID, classCode: "0x020000",
                                         numaNode: pf.numaNode)
            pfs[pf.address] = PFState(spec: pf, profile: profile)
            if let with = pf.iommuGroupWith, let group = devices[with]?.group {
                join(pf.address, group: group)
            } else {
                joinNewGroup(pf.address)
            }
            links[pf.interface] = Link(pf: pf.address, up: pf.linkUp, vfs: [])
            if pf.driverBound {
                // Binding the PF's driver makes its netdev (`bind`).
                bind(pf.address, driver: profile.pfDriver)
            }
            if pf.carriesDefaultRoute { defaultRoutes.append(pf.interface) }
        }
        for pf in spec.pfs where pf.initialVFs > 0 {
            enableVFs(pf.address, count: pf.initialVFs)
        }
        // Functions without SR-IOV last, as the simulator builds them.
        for device in spec.devices {
            guard seen.insert(device.address).inserted else {
                throw SRIOVError(.invalidArgument, "fake device \(device.address): listed twice, or also a PF")
            }
            devices[device.address] = Device(vendorID: device.vendorID, deviceID: device.deviceID, classCode: device.classCode,
                                             numaNode: device.numaNode)
            if let with = device.iommuGroupWith, let group = devices[with]?.group {
                join(device.address, group: group)
            } else {
                joinNewGroup(device.address)
            }
            if device.driverBound { bind(device.address, driver: device.driver) }
            if device.carriesDefaultRoute, let name = device.interface { defaultRoutes.append(name) }
        }
    }

    // MARK: IOMMU groups

    func nextGroupID() -> Int { (groups.keys.max() ?? -1) + 1 }

    mutating func joinNewGroup(_ address: PCIAddress) {
        join(address, group: nextGroupID())
    }

    mutating func join(_ address: PCIAddress, group: Int) {
        guard spec.iommu else { return }
        groups[group, default: []].insert(address)
        devices[address]?.group = group
    }

    mutating func leaveGroup(_ address: PCIAddress) {
        guard let group = devices[address]?.group else { return }
        groups[group]?.remove(address)
        devices[address]?.group = nil
        if groups[group]?.isEmpty == true {
            groups[group] = nil
            vfioNodes.remove(group)
            nodeOwners[group] = nil
        }
    }

    // MARK: Drivers and netdevs

    mutating func addNetdev(_ name: InterfaceName, on address: PCIAddress, up: Bool) {
        netdevs[name.name] = (address, up)
        devices[address]?.netdevs.append(name)
        devices[address]?.netdevs.sort()
    }

    mutating func removeNetdevs(_ address: PCIAddress) {
        for name in devices[address]?.netdevs ?? [] { netdevs[name.name] = nil }
        devices[address]?.netdevs = []
    }

    /// Binds `driver`: a VF's own network driver makes its netdev `<pf>v<n>`; vfio-pci makes the group's
    /// `/dev/vfio/<group>`.
    mutating func bind(_ address: PCIAddress, driver: String) {
        devices[address]?.driver = driver
        events.append(.pci(PCIDeviceEvent(action: .bind, address: address, driver: driver)))
        if driver == "vfio-pci" {
            if let group = devices[address]?.group { vfioNodes.insert(group) }
        } else if let (pf, index) = vfInfo(address), driver == pf.profile.vfDriver, pf.profile.vfHasNetdev {
            let suffix = "v\(index)"
            let name = String(pf.spec.interface.prefix(InterfaceName.maxLength - suffix.count)) + suffix
            if let iface = InterfaceName(name) { addNetdev(iface, on: address, up: pf.spec.linkUp) }
        } else if let pf = pfs[address], driver == pf.profile.pfDriver, let iface = InterfaceName(pf.spec.interface) {
            // A PF's own driver makes its netdev (at build, and when a PF leased whole gets it back).
            addNetdev(iface, on: address, up: pf.spec.linkUp)
        } else if let device = spec.device(at: address), driver == device.driver,
                  let iface = device.interface.flatMap(InterfaceName.init) {
            // So does a function's without SR-IOV (leased whole, it gets it back on release).
            addNetdev(iface, on: address, up: device.linkUp)
        }
    }

    mutating func unbindInternal(_ address: PCIAddress) {
        guard let driver = devices[address]?.driver else { return }
        if driver != "vfio-pci" { removeNetdevs(address) }
        devices[address]?.driver = nil
        events.append(.pci(PCIDeviceEvent(action: .unbind, address: address, driver: driver)))
        if driver == "vfio-pci", let group = devices[address]?.group {
            let stillVFIO = (groups[group] ?? []).contains { $0 != address && devices[$0]?.driver == "vfio-pci" }
            if !stillVFIO {
                vfioNodes.remove(group)
                nodeOwners[group] = nil
            }
        }
    }

    func vfInfo(_ address: PCIAddress) -> (PFState, Int)? {
        guard let device = devices[address], let physfn = device.physfn, let index = device.vfIndex,
              let pf = pfs[physfn] else { return nil }
        return (pf, index)
    }

    /// The driver whose ID table matches the device (what autoprobe and drivers_probe pick).
    func matchingDriver(_ address: PCIAddress) -> String? {
        if let pf = pfs[address] { return pf.profile.pfDriver }
        if let device = spec.device(at: address) { return device.driver }
        return vfInfo(address)?.0.profile.vfDriver
    }

    /// `drivers_probe`: a bound device stays; with an override only that driver binds (if loaded);
    /// else the matching driver, unless the device is a VF of a PF with autoprobe 0.
    mutating func probeInternal(_ address: PCIAddress) {
        guard let device = devices[address], device.driver == nil else { return }
        if let override = device.driverOverride {
            if loadedDrivers.contains(override) { bind(address, driver: override) }
            return
        }
        if let physfn = device.physfn, pfs[physfn]?.autoprobe == false { return }
        if let driver = matchingDriver(address), loadedDrivers.contains(driver) { bind(address, driver: driver) }
    }

    // MARK: VFs

    mutating func enableVFs(_ address: PCIAddress, count: Int) {
        guard var pf = pfs[address] else { return }
        let enabled = min(count, pf.profile.maxVFsEnabled ?? count)
        var nextGroup = nextGroupID()
        pf.vfs = []
        for index in 0..<enabled {
            let vf = pf.spec.vfAddress(index)
            devices[vf] = Device(vendorID: pf.profile.vendorID, deviceID: pf.profile.vfDeviceID, classCode: "0x020000",
                                 numaNode: pf.spec.numaNode, physfn: address, vfIndex: index)
            events.append(.pci(PCIDeviceEvent(action: .add, address: vf)))
            pf.vfs.append(vf)
            pfs[address] = pf
            if pf.spec.acsIsolated {
                join(vf, group: nextGroup)
                nextGroup += 1
            } else if let group = devices[address]?.group {
                join(vf, group: group)
            }
            if pf.autoprobe { bind(vf, driver: pf.profile.vfDriver) }
        }
        pf.numVFs = enabled
        pfs[address] = pf
        let states = (0..<enabled).map { VFState(index: $0) }
        links[pf.spec.interface, default: Link(pf: address, up: pf.spec.linkUp, vfs: [])].vfs = states
        counters[pf.spec.interface] = nil
        events.append(.link(LinkEvent(kind: .changed, interface: InterfaceName(pf.spec.interface), ifindex: 0, vfInfo: true)))
    }

    mutating func disableVFs(_ address: PCIAddress) {
        guard var pf = pfs[address] else { return }
        for vf in pf.vfs {
            unbindInternal(vf)
            leaveGroup(vf)
            devices[vf] = nil
            events.append(.pci(PCIDeviceEvent(action: .remove, address: vf)))
        }
        pf.vfs = []
        pf.numVFs = 0
        pfs[address] = pf
        links[pf.spec.interface]?.vfs = []
        counters[pf.spec.interface] = nil
        events.append(.link(LinkEvent(kind: .changed, interface: InterfaceName(pf.spec.interface), ifindex: 0, vfInfo: true)))
    }

    // MARK: Refusals

    /// The first injected fault for `write`, consumed.
    mutating func injectedFault(_ write: FakeHost.Write) -> Int32? {
        guard let i = faults.firstIndex(where: { $0.write == write }) else { return nil }
        return faults.remove(at: i).errno
    }

    /// A refused sysfs write, in the words of `SysfsWriteError` (device, what, errno, hint).
    static func refusal(_ device: PCIAddress, _ what: String, attribute: String, errno: Int32) -> SRIOVError {
        var code = SRIOVError.Code.io
        if errno != Errno.EACCES, errno != Errno.EPERM, errno != Errno.EROFS {
            code = errno == Errno.EOPNOTSUPP ? .unsupported : errno == Errno.EBUSY ? .busy : .kernelRefused
        }
        let cause = SRIOVError.Cause.errno(errno)
        let hint: String
        switch errno {
        case Errno.EACCES, Errno.EPERM: hint = "; run as root (or with CAP_SYS_ADMIN)"
        case Errno.EROFS: hint = "; sysfs is mounted read-only here (a container?)"
        case Errno.ENOENT where attribute == "sriov_numvfs":
            hint = "; the PF has no driver bound (the driver creates VFs): load and bind it first"
        case Errno.ENOENT: hint = "; the device or attribute does not exist"
        default: hint = ""
        }
        return SRIOVError(code, "\(device): cannot \(what): \(cause.description)" + hint, cause: cause)
    }

    func requireDevice(_ device: PCIAddress, what: String) throws(SRIOVError) {
        guard devices[device] != nil else {
            throw FakeKernel.refusal(device, what, attribute: "", errno: Errno.ENODEV)
        }
    }

    /// Records the write and answers an injected fault for it, before any rule runs.
    mutating func begin(_ write: FakeHost.Write, _ device: PCIAddress, _ what: String, attribute: String) throws(SRIOVError) {
        writes.append(write)
        if let errno = injectedFault(write) {
            throw FakeKernel.refusal(device, what, attribute: attribute, errno: errno)
        }
    }

    // MARK: PCIDeviceControl rules

    /// `sriov_numvfs`, in the kernel's order: ERANGE above totalvfs; the same value is a no-op; ENOENT
    /// without a PF driver; 0 removes the VFs; non-zero to non-zero EBUSY; the driver may enable fewer.
    mutating func writeNumVFs(_ count: Int, pf address: PCIAddress) throws(SRIOVError) {
        let what = "set sriov_numvfs to \(count)"
        try begin(.numVFs(address, count), address, what, attribute: "sriov_numvfs")
        guard let pf = pfs[address] else {
            throw FakeKernel.refusal(address, what, attribute: "sriov_numvfs", errno: Errno.ENOENT)
        }
        guard count >= 0 else { throw FakeKernel.refusal(address, what, attribute: "sriov_numvfs", errno: Errno.EINVAL) }
        guard count <= pf.spec.totalVFs else {
            throw FakeKernel.refusal(address, what, attribute: "sriov_numvfs", errno: Errno.ERANGE)
        }
        if count == pf.numVFs { return }
        guard devices[address]?.driver != nil else {
            throw FakeKernel.refusal(address, what, attribute: "sriov_numvfs", errno: Errno.ENOENT)
        }
        if count == 0 {
            disableVFs(address)
            return
        }
        guard pf.numVFs == 0 else {
            throw FakeKernel.refusal(address, what, attribute: "sriov_numvfs", errno: Errno.EBUSY)
        }
        enableVFs(address, count: count)
    }

    mutating func writeDriversAutoprobe(_ on: Bool, pf address: PCIAddress) throws(SRIOVError) {
        let what = "set sriov_drivers_autoprobe"
        try begin(.driversAutoprobe(address, on), address, what, attribute: "sriov_drivers_autoprobe")
        guard pfs[address] != nil else {
            throw FakeKernel.refusal(address, what, attribute: "sriov_numvfs", errno: Errno.ENOENT)
        }
        pfs[address]?.autoprobe = on
    }

    mutating func unbind(_ device: PCIAddress) throws(SRIOVError) {
        try requireDevice(device, what: "unbind from its driver")
        try begin(.unbind(device), device, "unbind from its driver", attribute: "driver/unbind")
        unbindInternal(device)
    }

    mutating func writeDriverOverride(_ driver: String?, device: PCIAddress) throws(SRIOVError) {
        if let driver { try FakeKernel.checkDriverName(driver) }
        let what = driver.map { "set driver_override to \($0)" } ?? "clear driver_override"
        try requireDevice(device, what: what)
        try begin(.driverOverride(device, driver), device, what, attribute: "driver_override")
        devices[device]?.driverOverride = driver
    }

    mutating func probe(_ device: PCIAddress) throws(SRIOVError) {
        try requireDevice(device, what: "probe drivers")
        try begin(.probe(device), device, "probe drivers", attribute: "drivers_probe")
        probeInternal(device)
    }

    /// Driver names as they appear under /sys/bus/pci/drivers (`DriverName.check`'s rule and words).
    static func checkDriverName(_ name: String) throws(SRIOVError) {
        let ok = !name.isEmpty && name.count <= 64 && name != "." && name != ".."
            && name.utf8.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
                    || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".")
            }
        guard ok else {
            throw SRIOVError(.invalidArgument, "invalid driver name \(Quote.shell(name)): use letters, digits, '-', '_' or '.' (e.g. vfio-pci)")
        }
    }

    // MARK: Netlink (the simulator's per-driver quirks)

    func readVFs(pf: InterfaceName) throws(SRIOVError) -> VFReadout {
        guard let link = links[pf.name] else {
            throw SRIOVError(.notFound, "no network interface named \(pf) in this network namespace; `ip link` lists them", cause: .errno(Errno.ENODEV))
        }
        let profile = pfs[link.pf]?.profile
        let vfs = link.vfs.map { state -> VFState in
            var s = state
            // Drivers that do not report a setting answer -1, which reads as "unreported".
            if profile?.supportsLinkState == false { s.linkState = nil }
            return s
        }
        return VFReadout(interface: pf, numVFs: link.vfs.count, vfs: vfs, operState: link.up ? "up" : "down")
    }

    /// Every VF's counters, as one RTM_GETLINK with statistics answers (unset VFs: every counter 0).
    mutating func readVFStats(pf: InterfaceName) throws(SRIOVError) -> VFStatsReadout {
        guard let link = links[pf.name] else {
            throw SRIOVError(.notFound, "no network interface named \(pf) in this network namespace; `ip link` lists them", cause: .errno(Errno.ENODEV))
        }
        statsReads[pf.name, default: 0] += 1
        let set = counters[pf.name] ?? [:]
        var all: [Int: VFCounters] = [:]
        for vf in link.vfs { all[vf.index] = set[vf.index] ?? .zero }
        return VFStatsReadout(interface: pf, numVFs: link.vfs.count, counters: all)
    }

    /// Each request as its own RTM_SETLINK: the ones before a refusal stay applied.
    mutating func apply(_ requests: [VFSettingRequest], vf: Int, pf: InterfaceName) -> (index: Int, error: SRIOVError)? {
        guard var link = links[pf.name] else {
            return (0, SRIOVError(.notFound, "no network interface named \(pf)", cause: .errno(Errno.ENODEV)))
        }
        let profile = pfs[link.pf]?.profile ?? FakeHost.Driver.mlx5CX5
        defer {
            links[pf.name] = link
            // RTM_NEWLINK with the PF's VF list, as the kernel sends after a VF setting changes.
            events.append(.link(LinkEvent(kind: .changed, interface: pf, ifindex: 0, vfInfo: true)))
        }
        for (index, request) in requests.enumerated() {
            writes.append(.vfSetting(pf, vf: vf, request))
            let context = "\(pf) VF \(vf): \(request) (RTM_SETLINK)"
            if let errno = injectedFault(.vfSetting(pf, vf: vf, request)) {
                return (index, SRIOVError(.kernelRefused, "\(context): \(Errno.name(errno))", cause: .errno(errno)))
            }
            do throws(SRIOVError) {
                try SimulatedHost.set(request, vf: vf, on: &link, pf: pf, profile: profile)
            } catch {
                return (index, error)
            }
        }
        return nil
    }
}
