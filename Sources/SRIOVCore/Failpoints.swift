#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// Test-only crash points at every host step and fsync, for the failpoint loop
/// (`Tests/SriovctlTests/FailpointTests.swift`): with `SRIOVD_TEST_CRASH_AT_STEP=n` (n >= 1) the
/// process sends itself SIGKILL at its n-th step, as a crash or power cut would stop it there; with
/// `SRIOVD_TEST_STEP_LOG=<file>` each step is appended to the file as `<n> <step>` (so a harness can
/// say what step n was). Steps are counted before and after each sysfs write, netlink request, bind,
/// unbind and probe (`FailpointPCIControl`, `FailpointVFLink`, installed by `HostSelection` when either
/// variable is set) and each journal or snapshot fsync. Unset, a step costs one load of a constant.
public enum Failpoints {
    public static let crashVariable = "SRIOVD_TEST_CRASH_AT_STEP"
    public static let logVariable = "SRIOVD_TEST_STEP_LOG"

    /// n from the variable; nil when unset or not a number >= 1.
    static let limit: Int? = {
        guard let raw = getenv(crashVariable) else { return nil }
        let text = String(cString: raw)
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(text), n >= 1 else { return nil }
        return n
    }()

    static let logFD: Int32? = {
        guard let raw = getenv(logVariable) else { return nil }
        let fd = open(raw, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        return fd >= 0 ? fd : nil
    }()

    /// Whether steps are counted in this process.
    public static let enabled: Bool = limit != nil || logFD != nil

    static let steps = Atomic<Int>(0)

    /// Counts one step; at the n-th, logs it and kills the process.
    public static func step(_ name: @autoclosure () -> String) {
        guard enabled else { return }
        let n = steps.add(1, ordering: .relaxed).newValue
        if let fd = logFD {
            let line = Array("\(n) \(name())\n".utf8)
            _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        }
        if let limit, n >= limit { kill(getpid(), SIGKILL) }
    }
}

/// A `PCIDeviceControl` that counts a step before and after each write of the control it wraps.
/// `rebind` and `detach` are left to the protocol's defaults, which take them apart into their writes,
/// so a crash can fall between them (as on the real sysfs, where they are separate writes).
public struct FailpointPCIControl: PCIDeviceControl {
    public let inner: any PCIDeviceControl

    public init(_ inner: any PCIDeviceControl) { self.inner = inner }

    func around<T>(_ what: String, _ body: () throws(SRIOVError) -> T) throws(SRIOVError) -> T {
        Failpoints.step("before " + what)
        let value = try body()
        Failpoints.step("after " + what)
        return value
    }

    public func writeNumVFs(_ count: Int, pf: PCIAddress) throws(SRIOVError) {
        try around("sriov_numvfs=\(count) \(pf)") { () throws(SRIOVError) in try inner.writeNumVFs(count, pf: pf) }
    }

    public func writeNumVFs(_ count: Int, device: PFDevice) throws(SRIOVError) {
        try around("sriov_numvfs=\(count) \(device)") { () throws(SRIOVError) in try inner.writeNumVFs(count, device: device) }
    }

    public func writeDriversAutoprobe(_ on: Bool, pf: PCIAddress) throws(SRIOVError) {
        try around("sriov_drivers_autoprobe=\(on ? 1 : 0) \(pf)") { () throws(SRIOVError) in try inner.writeDriversAutoprobe(on, pf: pf) }
    }

    public func unbind(_ device: PCIAddress) throws(SRIOVError) {
        try around("unbind \(device)") { () throws(SRIOVError) in try inner.unbind(device) }
    }

    public func writeDriverOverride(_ driver: String?, device: PCIAddress) throws(SRIOVError) {
        try around("driver_override=\(driver ?? "") \(device)") { () throws(SRIOVError) in try inner.writeDriverOverride(driver, device: device) }
    }

    public func probe(_ device: PCIAddress) throws(SRIOVError) {
        try around("probe \(device)") { () throws(SRIOVError) in try inner.probe(device) }
    }

    // `rebind` and `detach` are the protocol's defaults: its separate writes, each counted above.
}

/// A `VFLinkControl` that counts a step before and after each RTM_SETLINK of the link it wraps.
public struct FailpointVFLink: VFLinkControl {
    public let inner: any VFLinkControl

    public init(_ inner: any VFLinkControl) { self.inner = inner }

    public func readVFs(pf: InterfaceName) async throws(SRIOVError) -> VFReadout {
        try await inner.readVFs(pf: pf)
    }

    public func readVFStats(pf: InterfaceName) async throws(SRIOVError) -> VFStatsReadout {
        try await inner.readVFStats(pf: pf)
    }

    public func apply(_ request: VFSettingRequest, vf: Int, pf: InterfaceName) async throws(SRIOVError) {
        Failpoints.step("before RTM_SETLINK \(pf) vf \(vf) \(request)")
        try await inner.apply(request, vf: vf, pf: pf)
        Failpoints.step("after RTM_SETLINK \(pf) vf \(vf) \(request)")
    }

    public func apply(_ requests: [VFSettingRequest], vf: Int, pf: InterfaceName) async -> (index: Int, error: SRIOVError)? {
        Failpoints.step("before RTM_SETLINK \(pf) vf \(vf) \(requests.count) settings")
        let outcome = await inner.apply(requests, vf: vf, pf: pf)
        Failpoints.step("after RTM_SETLINK \(pf) vf \(vf) \(requests.count) settings")
        return outcome
    }
}
