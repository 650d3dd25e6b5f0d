import SRIOVCore

/// Writes to the real sysfs; the kernel applies the rules and answers with errno.
public struct SysfsPCIControl: PCIDeviceControl {
    public let paths: HostPaths

    public init(paths: HostPaths = .host) {
        self.paths = paths
    }

    /// Kernel interface: `/sys/bus/pci/devices/<pf>/sriov_numvfs`.
    public func writeNumVFs(_ count: Int, pf: PCIAddress) throws(SRIOVError) {
        try write(paths.deviceAttribute(pf, .sriovNumVFs), String(count), device: pf, what: "set sriov_numvfs to \(count)")
    }

    /// Kernel interface: `/sys/bus/pci/devices/<pf>/sriov_numvfs`, or
    /// `/sys/bus/netdevsim/devices/netdevsim<N>/sriov_numvfs` (a test device without a PCI function).
    public func writeNumVFs(_ count: Int, device: PFDevice) throws(SRIOVError) {
        switch device {
        case .pci(let address):
            try writeNumVFs(count, pf: address)
        case .netdevsim(let id):
            let path = PFResolver(paths: paths).netdevsimDirectory(id) + "/sriov_numvfs"
            do {
                try FileSystem.write(path, String(count))
            } catch {
                throw SRIOVError(error.code, "\(device): cannot set sriov_numvfs to \(count): \(error.cause.map(\.description) ?? error.message)", cause: error.cause)
            }
        }
    }

    /// Kernel interface: `/sys/bus/pci/devices/<pf>/sriov_drivers_autoprobe`.
    public func writeDriversAutoprobe(_ on: Bool, pf: PCIAddress) throws(SRIOVError) {
        try write(paths.deviceAttribute(pf, .sriovDriversAutoprobe), on ? "1" : "0", device: pf,
                  what: "set sriov_drivers_autoprobe to \(on ? 1 : 0)")
    }

    /// Kernel interface: `/sys/bus/pci/devices/<dev>/driver/unbind`.
    public func unbind(_ device: PCIAddress) throws(SRIOVError) {
        let driverLink = paths.device(device) + "/driver"
        guard FileSystem.entryExists(driverLink) else { return }
        try write(driverLink + "/unbind", device.description, device: device, what: "unbind from its driver")
    }

    /// Kernel interface: `/sys/bus/pci/devices/<dev>/driver_override`; a lone newline clears it.
    public func writeDriverOverride(_ driver: String?, device: PCIAddress) throws(SRIOVError) {
        if let driver { try DriverName.check(driver) }
        try write(paths.deviceAttribute(device, .driverOverride), driver ?? "\n", device: device,
                  what: driver.map { "set driver_override to \($0)" } ?? "clear driver_override")
    }

    /// Kernel interface: `/sys/bus/pci/drivers_probe`.
    public func probe(_ device: PCIAddress) throws(SRIOVError) {
        try write(paths.sysfs + "/bus/pci/drivers_probe", device.description, device: device, what: "probe drivers")
    }

    func write(_ path: String, _ value: String, device: PCIAddress, what: String) throws(SRIOVError) {
        do {
            try FileSystem.write(path, value)
        } catch {
            throw SysfsWriteError.make(device: device, what: what, path: path, underlying: error)
        }
    }
}

/// The one shape of a refused sysfs write, shared by the real sysfs and the simulator so that both
/// report a kernel refusal in the same words.
public enum SysfsWriteError {
    public static func make(device: PCIAddress, what: String, path: String, underlying: SRIOVError) -> SRIOVError {
        var code = underlying.code
        if let e = underlying.errno, e != Errno.EACCES, e != Errno.EPERM, e != Errno.EROFS {
            code = e == Errno.EOPNOTSUPP ? .unsupported : e == Errno.EBUSY ? .busy : .kernelRefused
        }
        return SRIOVError(code, "\(device): cannot \(what): \(underlying.cause.map(\.description) ?? underlying.message)"
            + KernelErrorHint.hint(for: underlying.errno, path: path), cause: underlying.cause)
    }

    /// A refusal with a bare errno (what the simulated kernel answers).
    public static func make(device: PCIAddress, what: String, path: String, errno: Int32) -> SRIOVError {
        make(device: device, what: what, path: path, underlying: SRIOVError(.io, Errno.name(errno), cause: .errno(errno)))
    }
}

/// `driver_override` as sysfs shows it: `(null)` (or nothing) when unset.
public enum DriverOverride {
    public static func value(_ text: String?) -> String? {
        text.flatMap { $0 == "(null)" || $0.isEmpty ? nil : $0 }
    }
}

/// Driver names as they appear under /sys/bus/pci/drivers: no path characters.
public enum DriverName {
    public static func check(_ name: String) throws(SRIOVError) {
        let ok = !name.isEmpty && name.count <= 64 && name != "." && name != ".."
            && name.utf8.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
                    || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".")
            }
        guard ok else {
            throw SRIOVError(.invalidArgument, "invalid driver name \(Quote.shell(name)): use letters, digits, '-', '_' or '.' (e.g. vfio-pci)")
        }
    }
}

/// What an errno from a sysfs write usually means, for the operator.
enum KernelErrorHint {
    static func hint(for errno: Int32?, path: String) -> String {
        guard let errno else { return "" }
        switch errno {
        case Errno.EACCES, Errno.EPERM:
            return "; run as root (or with CAP_SYS_ADMIN)"
        case Errno.EROFS:
            return "; sysfs is mounted read-only here (a container?)"
        case Errno.ENOENT where path.hasSuffix("sriov_numvfs"):
            return "; the PF has no driver bound (the driver creates VFs): load and bind it first"
        case Errno.ENOENT:
            return "; the device or attribute does not exist"
        default:
            return ""
        }
    }
}
