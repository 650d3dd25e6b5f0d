import Synchronization
import SRIOVCore
import SRIOVSimulator

/// An in-memory SR-IOV host for the engine's unit tests: PFs, VFs, drivers, overrides, IOMMU groups,
/// `/dev/vfio` nodes and VF link settings, held behind a `Mutex`, with no disk and no clock, so a test
/// runs the same way every time (like NIOEmbedded). Every write goes through the rules the simulator
/// applies (Docs/Simulator.md): VF counts change only through 0 (else EBUSY), above `sriov_totalvfs`
/// ERANGE, `driver_override` + `drivers_probe` binds, unbinding an unbound device is a no-op, binding to
/// vfio-pci creates `/dev/vfio/<group>`, VF settings read back with each driver's quirks, the management
/// NIC is the one with the default route.
///
/// Tests can inject a refusal (`failNext`) and read back every write in order (`writes`).
public final class FakeHost: HostInventorySource, PCIDeviceControl, VFLinkControl, HostEventSource, Sendable {
    /// A write the host was asked to do, as the kernel interface sees it.
    public enum Write: Sendable, Equatable, CustomStringConvertible {
        case numVFs(PCIAddress, Int)
        case driversAutoprobe(PCIAddress, Bool)
        case unbind(PCIAddress)
        case driverOverride(PCIAddress, String?)
        case probe(PCIAddress)
        case vfSetting(InterfaceName, vf: Int, VFSettingRequest)

        public var description: String {
            switch self {
            case .numVFs(let a, let n): return "\(a)/sriov_numvfs = \(n)"
            case .driversAutoprobe(let a, let on): return "\(a)/sriov_drivers_autoprobe = \(on ? 1 : 0)"
            case .unbind(let a): return "\(a)/driver/unbind"
            case .driverOverride(let a, let d): return "\(a)/driver_override = \(d ?? "(null)")"
            case .probe(let a): return "drivers_probe \(a)"
            case .vfSetting(let pf, let vf, let r): return "ip link set \(pf) vf \(vf) \(r)"
            }
        }
    }

    public let spec: Spec
    let kernel: Mutex<FakeKernel>
    /// Subscribers of `events()`, handed the kernel's announcements after each call that changed something.
    let subscribers = Mutex<[AsyncStream<HostEvent>.Continuation]>([])
    /// Every event announced since the last `takeAnnounced()` (tests build batches from it).
    let announced = Mutex<[HostEvent]>([])

    /// A host built from `spec`, by default the simulator's standard host.
    public init(spec: Spec = .standard()) throws(SRIOVError) {
        self.spec = spec
        var kernel = try FakeKernel(spec: spec)
        kernel.events = []
        self.kernel = Mutex(kernel)
    }

    // MARK: Test hooks

    /// The next write equal to `write` is refused with `errno` (as the kernel would answer) and changes
    /// nothing. Several calls queue several refusals.
    public func failNext(_ write: Write, errno: Int32) {
        kernel.withLock { $0.faults.append((write, errno)) }
    }

    /// Every write so far, accepted or refused, in order.
    public var writes: [Write] { kernel.withLock { $0.writes } }

    public func clearWrites() {
        kernel.withLock { $0.writes = [] }
    }

    // MARK: HostInventorySource

    public func inventory() throws(SRIOVError) -> HostInventory {
        kernel.withLock { k in
            let pfs = k.pfs.keys.sorted().compactMap { FakeHost.physicalFunction($0, in: k) }
            var host = HostFacts(
                kernelRelease: k.spec.kernelRelease,
                kernelCommandLine: k.spec.kernelCommandLine,
                iommuCommandLine: IOMMUCommandLine(parsing: k.spec.kernelCommandLine),
                iommuUnits: k.spec.iommu ? ["dmar0"] : [],
                iommuGroupsPresent: !k.groups.isEmpty,
                iommuGroupCount: k.groups.count,
                interruptRemapping: k.spec.interruptRemapping,
                vfioPCILoaded: k.loadedDrivers.contains("vfio-pci"),
                // modules.dep lists vfio-pci.ko, as on the simulated host.
                vfioPCIAvailable: true)
            let management = FakeHost.management(k)
            host.defaultRouteInterfaces = management.interfaces
            host.managementDevices = management.devices.sorted()
            var members: [Int: [IOMMUGroupMember]] = [:]
            for pf in pfs {
                if let g = pf.iommuGroup { members[g, default: []].append(IOMMUGroupMember(pciAddress: pf.pciAddress, driver: pf.driver)) }
                for vf in pf.vfs {
                    if let g = vf.iommuGroup { members[g, default: []].append(IOMMUGroupMember(pciAddress: vf.pciAddress, driver: vf.driver)) }
                }
            }
            // Network functions without SR-IOV (not PFs, not VFs) and bridges, as discovery sorts them.
            var functions: [PCIFunction] = []
            for (address, device) in k.devices.sorted(by: { $0.key < $1.key }) where k.pfs[address] == nil && device.physfn == nil {
                if PCIFunction.isNetworkClass(device.classCode) {
                    functions.append(PCIFunction(
                        pciAddress: address, vendorID: device.vendorID, deviceID: device.deviceID, classCode: device.classCode,
                        driver: device.driver, interfaces: device.netdevs, iommuGroup: device.group,
                        numaNode: device.numaNode.flatMap { NUMANode.fromSysfs(String($0)) },
                        isManagement: management.devices.contains(address)))
                } else if PCIFunction.isBridgeClass(device.classCode) {
                    host.bridges.append(address)
                }
            }
            for function in functions {
                if let g = function.iommuGroup {
                    members[g, default: []].append(IOMMUGroupMember(pciAddress: function.pciAddress, driver: function.driver,
                                                                    classCode: function.classCode))
                }
            }
            let known = Set(pfs.flatMap { [$0.pciAddress] + $0.vfs.map(\.pciAddress) } + functions.map(\.pciAddress))
            for (id, group) in k.groups where members[id] != nil {
                for other in group where !known.contains(other) {
                    members[id]?.append(IOMMUGroupMember(pciAddress: other, driver: k.devices[other]?.driver,
                                                         classCode: k.devices[other]?.classCode))
                }
            }
            host.iommuGroups = members.keys.sorted().map { id in
                IOMMUGroup(id: id, members: (members[id] ?? []).sorted { $0.pciAddress < $1.pciAddress })
            }
            return HostInventory(host: host, pfs: pfs, functions: functions)
        }
    }

    public func device(_ address: PCIAddress) throws(SRIOVError) -> DeviceStatus? {
        kernel.withLock { k in
            guard let device = k.devices[address] else { return nil }
            let group = device.group.map { id in
                IOMMUGroup(id: id, members: (k.groups[id] ?? []).sorted().map { m in
                    m == address ? IOMMUGroupMember(pciAddress: m, driver: device.driver, classCode: nil)
                        : IOMMUGroupMember(pciAddress: m, driver: k.devices[m]?.driver, classCode: k.devices[m]?.classCode)
                })
            }
            return DeviceStatus(pciAddress: address, driver: device.driver, driverOverride: device.driverOverride, iommuGroup: group)
        }
    }

    public func physicalFunction(_ address: PCIAddress) throws(SRIOVError) -> PhysicalFunction? {
        kernel.withLock { FakeHost.physicalFunction(address, in: $0) }
    }

    public func defaultRouteInterfaces() -> [InterfaceName] {
        kernel.withLock { FakeHost.management($0).interfaces }
    }

    /// The simulated kernel's answers to `PFResolver`'s reads, without the paths.
    public func resolvePF(_ text: String) throws(SRIOVError) -> PFTarget {
        if let address = PCIAddress(text) {
            if let pf = try physicalFunction(address) { return PFTarget(pf) }
            if kernel.withLock({ $0.devices[address]?.physfn != nil }) {
                throw SRIOVError(.invalidArgument, "\(address) is a VF, not a PF; name its PF (see `sriovctl inventory --vfs`)")
            }
            throw SRIOVError(.notFound, "no SR-IOV PF at \(address); `sriovctl inventory` lists the PFs of this host")
        }
        let name = try InterfaceName(parsing: text)
        if let (address, isVF) = kernel.withLock({ k in k.netdevs[name.name].map { ($0.device, k.devices[$0.device]?.physfn != nil) } }) {
            if let pf = try physicalFunction(address) { return PFTarget(pf) }
            if isVF {
                throw SRIOVError(.invalidArgument, "\(name) is the netdev of VF \(address), not of a PF; name its PF (see `sriovctl inventory --vfs`)")
            }
            throw SRIOVError(.notFound, "\(name) is not an SR-IOV PF (its device has no sriov_totalvfs); `sriovctl inventory` lists the PFs of this host")
        }
        throw SRIOVError(.notFound, "no network interface or SR-IOV PF named \(name); `sriovctl inventory` lists the PFs of this host")
    }

    /// Kernel interface (fake): `sriov_numvfs`; a non-PF reads as ENOENT, as the missing attribute would.
    public func readNumVFs(_ pf: PFDevice) throws(SRIOVError) -> Int {
        let count: Int? = switch pf {
        case .pci(let address): kernel.withLock { $0.pfs[address]?.numVFs }
        case .netdevsim: nil
        }
        guard let count else {
            let path = switch pf {
            case .pci(let address): "/sys/bus/pci/devices/\(address)/sriov_numvfs"
            case .netdevsim(let id): "/sys/bus/netdevsim/devices/netdevsim\(id)/sriov_numvfs"
            }
            throw SRIOVError(.io, "cannot read \(path): \(Errno.name(Errno.ENOENT))", cause: .errno(Errno.ENOENT))
        }
        return count
    }

    /// Kernel interface (fake): `virtfn<N>`: VF devices appear at once here.
    public func presentVFs(of pf: PCIAddress) -> Int {
        kernel.withLock { $0.pfs[pf]?.vfs.count ?? 0 }
    }

    /// Kernel interface (fake): `/dev/vfio/<group>`.
    public func vfioGroupNode(_ group: Int) -> VFIOGroupNode {
        VFIOGroupNode(path: "/dev/vfio/\(group)", exists: kernel.withLock { $0.vfioNodes.contains(group) })
    }

    /// Kernel interface (fake): `/sys/class/net/<if>/{carrier,operstate}`; unknown for a missing netdev.
    public func pfLink(_ interface: InterfaceName) -> PFLinkState {
        kernel.withLock { k in
            k.linkReads[interface.name, default: 0] += 1
            guard let netdev = k.netdevs[interface.name] else { return PFLinkState(carrier: nil, operState: nil) }
            return PFLinkState(carrier: netdev.up, operState: netdev.up ? "up" : "down")
        }
    }

    /// How many times `pfLink` read `interface`.
    public func linkReads(_ interface: InterfaceName) -> Int {
        kernel.withLock { $0.linkReads[interface.name] ?? 0 }
    }

    /// Whether `/dev/vfio/<group>` exists now.
    public func vfioNodeExists(_ group: Int) -> Bool { vfioGroupNode(group).exists }

    static func physicalFunction(_ address: PCIAddress, in k: FakeKernel) -> PhysicalFunction? {
        guard let state = k.pfs[address], let device = k.devices[address] else { return nil }
        let numa = device.numaNode.flatMap { NUMANode.fromSysfs(String($0)) }
        var pf = PhysicalFunction(
            pciAddress: address, vendorID: device.vendorID, deviceID: device.deviceID, driver: device.driver,
            interfaces: device.netdevs, numVFs: state.numVFs, totalVFs: state.spec.totalVFs,
            driversAutoprobe: state.autoprobe, numaNode: numa,
            linkState: device.netdevs.first.flatMap { k.netdevs[$0.name] }.map { $0.up ? "up" : "down" },
            carrier: device.netdevs.first.flatMap { k.netdevs[$0.name] }.map(\.up),
            iommuGroup: device.group)
        pf.isManagement = management(k).devices.contains(address)
        pf.vfs = state.vfs.enumerated().compactMap { index, vf in
            guard let d = k.devices[vf] else { return nil }
            return VirtualFunction(index: index, pciAddress: vf, pf: address, deviceID: state.profile.vfDeviceID,
                                   driver: d.driver, driverOverride: d.driverOverride, iommuGroup: d.group,
                                   interfaces: d.netdevs, numaNode: numa)
        }
        return pf
    }

    /// Interfaces with a default route and the PCI devices under them (a VF's PF counts too).
    static func management(_ k: FakeKernel) -> (interfaces: [InterfaceName], devices: Set<PCIAddress>) {
        var interfaces: [InterfaceName] = []
        var devices = Set<PCIAddress>()
        for name in Set(k.defaultRoutes).sorted() {
            guard let iface = InterfaceName(name) else { continue }
            interfaces.append(iface)
            if let device = k.netdevs[name]?.device {
                devices.insert(device)
                if let pf = k.devices[device]?.physfn { devices.insert(pf) }
            }
        }
        return (interfaces, devices)
    }

    // MARK: PCIDeviceControl

    public func writeNumVFs(_ count: Int, pf: PCIAddress) throws(SRIOVError) {
        defer { flushEvents() }
        try kernel.withLock { (k) throws(SRIOVError) in try k.writeNumVFs(count, pf: pf) }
    }

    public func writeDriversAutoprobe(_ on: Bool, pf: PCIAddress) throws(SRIOVError) {
        try kernel.withLock { (k) throws(SRIOVError) in try k.writeDriversAutoprobe(on, pf: pf) }
    }

    public func unbind(_ device: PCIAddress) throws(SRIOVError) {
        defer { flushEvents() }
        try kernel.withLock { (k) throws(SRIOVError) in try k.unbind(device) }
    }

    public func writeDriverOverride(_ driver: String?, device: PCIAddress) throws(SRIOVError) {
        try kernel.withLock { (k) throws(SRIOVError) in try k.writeDriverOverride(driver, device: device) }
    }

    public func probe(_ device: PCIAddress) throws(SRIOVError) {
        defer { flushEvents() }
        try kernel.withLock { (k) throws(SRIOVError) in try k.probe(device) }
    }

    // MARK: VFLinkControl

    public func readVFs(pf: InterfaceName) async throws(SRIOVError) -> VFReadout {
        try kernel.withLock { (k) throws(SRIOVError) in try k.readVFs(pf: pf) }
    }

    public func apply(_ request: VFSettingRequest, vf: Int, pf: InterfaceName) async throws(SRIOVError) {
        if let (_, error) = await apply([request], vf: vf, pf: pf) { throw error }
    }

    public func apply(_ requests: [VFSettingRequest], vf: Int, pf: InterfaceName) async -> (index: Int, error: SRIOVError)? {
        defer { flushEvents() }
        return kernel.withLock { $0.apply(requests, vf: vf, pf: pf) }
    }

    public func readVFStats(pf: InterfaceName) async throws(SRIOVError) -> VFStatsReadout {
        try kernel.withLock { (k) throws(SRIOVError) in try k.readVFStats(pf: pf) }
    }

    // MARK: Test conveniences

    /// Sets one VF's counters, as traffic through it would (IFLA_VF_STATS); nil counters read as not
    /// reported. A VF-count change clears them.
    public func setVFStats(_ counters: VFCounters, vf: Int, pf: InterfaceName) {
        kernel.withLock { $0.counters[pf.name, default: [:]][vf] = counters }
    }

    /// How many RTM_GETLINK requests with statistics the host answered for `pf`.
    public func statsReads(_ pf: InterfaceName) -> Int {
        kernel.withLock { $0.statsReads[pf.name] ?? 0 }
    }

    /// The PF's link (carrier) goes up or down, as `ip link set <pf> up|down` would.
    public func setLink(_ pf: InterfaceName, up: Bool) {
        kernel.withLock { k in
            k.links[pf.name]?.up = up
            if let device = k.netdevs[pf.name]?.device { k.netdevs[pf.name] = (device, up) }
            k.events.append(.link(LinkEvent(kind: .changed, interface: pf, ifindex: 0, operState: up ? .up : .down, carrier: up)))
        }
        flushEvents()
    }
}

// MARK: HostEventSource

extension FakeHost {
    /// The host's announcements from now on: uevents for VFs added, removed, bound and unbound, and
    /// RTM_NEWLINK (VF info) for VF settings and counts, as the kernel sends them for the same writes.
    public func events() throws(SRIOVError) -> AsyncStream<HostEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: HostEvent.self, bufferingPolicy: .bufferingNewest(65_536))
        subscribers.withLock { $0.append(continuation) }
        return stream
    }

    /// Announces one event as the kernel would (tests: a uevent flood, a lost-events overflow).
    public func announce(_ event: HostEvent) {
        announced.withLock { $0.append(event) }
        for c in subscribers.withLock({ $0 }) { c.yield(event) }
    }

    /// The events announced since the last call, in order.
    public func takeAnnounced() -> [HostEvent] {
        announced.withLock { a in
            let taken = a
            a = []
            return taken
        }
    }

    /// Hands the events the last call produced to the subscribers, in order.
    func flushEvents() {
        let events = kernel.withLock { k in
            let taken = k.events
            k.events = []
            return taken
        }
        guard !events.isEmpty else { return }
        announced.withLock { $0 += events }
        let subscribers = self.subscribers.withLock { $0 }
        for event in events { for c in subscribers { c.yield(event) } }
    }
}
