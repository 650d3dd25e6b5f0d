import SRIOVCore

/// Times every host operation the engine performs, by kind (`netlink.getlink`, `sysfs.unbind`, ...),
/// for the per-step profile of acquire and release (`sriovd_host_operation_duration_seconds` in
/// `/metrics`; Docs/Performance.md). A decorator around the host's seams: the engine and the seams'
/// implementations do not know it is there, and what it forwards is unchanged.
public enum HostProfile {
    /// Where each operation's duration goes.
    public typealias Record = @Sendable (_ operation: String, _ duration: Duration) -> Void

    /// `host` with its PCI control and VF link timed (discovery reads are not lease steps, except the
    /// one-device read-back, which is timed too).
    public static func wrap(_ host: LeaseEngine.Host, record: @escaping Record) -> LeaseEngine.Host {
        LeaseEngine.Host(source: TimedSource(inner: host.source, record: record),
                         control: TimedControl(inner: host.control, record: record),
                         link: TimedLink(inner: host.link, record: record), consumers: host.consumers, nodes: host.nodes)
    }

    static func timed<T>(_ operation: String, _ record: Record, _ body: () throws(SRIOVError) -> T) throws(SRIOVError) -> T {
        let start = ContinuousClock.now
        defer { record(operation, start.duration(to: .now)) }
        return try body()
    }

    static func timed<T>(_ operation: String, _ record: Record, _ body: () async throws(SRIOVError) -> T) async throws(SRIOVError) -> T {
        let start = ContinuousClock.now
        defer { record(operation, start.duration(to: .now)) }
        return try await body()
    }
}

/// Each sysfs write on its own (`rebind` and `detach` go through the protocol's defaults, so their
/// writes are timed one by one), unless the implementation does them as one step.
struct TimedControl: PCIDeviceControl {
    let inner: any PCIDeviceControl
    let record: HostProfile.Record

    func writeNumVFs(_ count: Int, pf: PCIAddress) throws(SRIOVError) {
        try HostProfile.timed("sysfs.sriov_numvfs", record) { () throws(SRIOVError) in try inner.writeNumVFs(count, pf: pf) }
    }
    func writeNumVFs(_ count: Int, device: PFDevice) throws(SRIOVError) {
        try HostProfile.timed("sysfs.sriov_numvfs", record) { () throws(SRIOVError) in try inner.writeNumVFs(count, device: device) }
    }
    func writeDriversAutoprobe(_ on: Bool, pf: PCIAddress) throws(SRIOVError) {
        try HostProfile.timed("sysfs.sriov_drivers_autoprobe", record) { () throws(SRIOVError) in try inner.writeDriversAutoprobe(on, pf: pf) }
    }
    func unbind(_ device: PCIAddress) throws(SRIOVError) {
        try HostProfile.timed("sysfs.unbind", record) { () throws(SRIOVError) in try inner.unbind(device) }
    }
    func writeDriverOverride(_ driver: String?, device: PCIAddress) throws(SRIOVError) {
        try HostProfile.timed("sysfs.driver_override", record) { () throws(SRIOVError) in try inner.writeDriverOverride(driver, device: device) }
    }
    func probe(_ device: PCIAddress) throws(SRIOVError) {
        try HostProfile.timed("sysfs.drivers_probe", record) { () throws(SRIOVError) in try inner.probe(device) }
    }
    func rebind(_ device: PCIAddress, override driver: String) throws(SRIOVError) {
        guard inner.bindsAtomically else {
            try unbind(device)
            try writeDriverOverride(driver, device: device)
            try probe(device)
            return
        }
        try HostProfile.timed("sysfs.rebind", record) { () throws(SRIOVError) in try inner.rebind(device, override: driver) }
    }
    func detach(_ device: PCIAddress) throws(SRIOVError) {
        guard inner.bindsAtomically else {
            try unbind(device)
            try writeDriverOverride(nil, device: device)
            return
        }
        try HostProfile.timed("sysfs.detach", record) { () throws(SRIOVError) in try inner.detach(device) }
    }
    var bindsAtomically: Bool { inner.bindsAtomically }
}

/// Netlink requests: RTM_GETLINK of a PF's VF list, RTM_SETLINK per setting (a batch of them, as the
/// implementation sends it, as one).
struct TimedLink: VFLinkControl {
    let inner: any VFLinkControl
    let record: HostProfile.Record

    func readVFs(pf: InterfaceName) async throws(SRIOVError) -> VFReadout {
        try await HostProfile.timed("netlink.getlink", record) { () async throws(SRIOVError) in try await inner.readVFs(pf: pf) }
    }
    func apply(_ request: VFSettingRequest, vf: Int, pf: InterfaceName) async throws(SRIOVError) {
        try await HostProfile.timed("netlink.setlink", record) { () async throws(SRIOVError) in try await inner.apply(request, vf: vf, pf: pf) }
    }
    func apply(_ requests: [VFSettingRequest], vf: Int, pf: InterfaceName) async -> (index: Int, error: SRIOVError)? {
        let start = ContinuousClock.now
        defer { record("netlink.setlink_batch", start.duration(to: .now)) }
        return await inner.apply(requests, vf: vf, pf: pf)
    }
    func readVFStats(pf: InterfaceName) async throws(SRIOVError) -> VFStatsReadout {
        try await HostProfile.timed("netlink.getlink_stats", record) { () async throws(SRIOVError) in try await inner.readVFStats(pf: pf) }
    }
}

/// Discovery passes through untimed; the one-device read-back a lease step makes after binding is timed.
struct TimedSource: HostInventorySource {
    let inner: any HostInventorySource
    let record: HostProfile.Record

    func inventory() throws(SRIOVError) -> HostInventory { try inner.inventory() }
    func inventory(scope: DiscoveryScope) throws(SRIOVError) -> HostInventory { try inner.inventory(scope: scope) }
    func device(_ address: PCIAddress) throws(SRIOVError) -> DeviceStatus? {
        try HostProfile.timed("sysfs.read_device", record) { () throws(SRIOVError) in try inner.device(address) }
    }
    func physicalFunction(_ address: PCIAddress) throws(SRIOVError) -> PhysicalFunction? { try inner.physicalFunction(address) }
    func defaultRouteInterfaces() -> [InterfaceName] { inner.defaultRouteInterfaces() }
    func resolvePF(_ text: String) throws(SRIOVError) -> PFTarget { try inner.resolvePF(text) }
    func readNumVFs(_ pf: PFDevice) throws(SRIOVError) -> Int { try inner.readNumVFs(pf) }
    func presentVFs(of pf: PCIAddress) -> Int { inner.presentVFs(of: pf) }
    func vfioGroupNode(_ group: Int) -> VFIOGroupNode { inner.vfioGroupNode(group) }
    func pfLink(_ interface: InterfaceName) -> PFLinkState {
        let start = ContinuousClock.now
        defer { record("sysfs.carrier", start.duration(to: .now)) }
        return inner.pfLink(interface)
    }
}
