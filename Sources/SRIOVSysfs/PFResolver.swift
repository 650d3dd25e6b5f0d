import SRIOVCore

/// Finds the PF a user names: a PCI address or a netdev of an SR-IOV PF, or the
/// netdev of a netdevsim device (used by the kernel lane; it has SR-IOV but no PCI function).
public struct PFResolver: Sendable {
    public let paths: HostPaths

    public init(paths: HostPaths) {
        self.paths = paths
    }

    /// Reads only the named PF, not the whole host.
    /// Kernel interface: `/sys/class/net/<if>/device`, `/sys/bus/pci/devices/<bdf>/{sriov_totalvfs,physfn}`.
    public func resolve(_ text: String, source: any HostInventorySource) throws(SRIOVError) -> PFTarget {
        guard FileSystem.isDirectory(paths.sysfs) else {
            throw SRIOVError(.notFound, "sysfs root \(paths.sysfs) does not exist or is not a directory; pass --sysfs-root with a mounted sysfs (usually /sys)")
        }
        if let address = PCIAddress(text) {
            if let pf = try source.physicalFunction(address) { return target(for: pf) }
            if FileSystem.entryExists(paths.device(address) + "/physfn") {
                throw SRIOVError(.invalidArgument, "\(address) is a VF, not a PF; name its PF (see `sriovctl inventory --vfs`)")
            }
            throw SRIOVError(.notFound, "no SR-IOV PF at \(address); `sriovctl inventory` lists the PFs of this host")
        }
        let name = try InterfaceName(parsing: text)
        if let device = FileSystem.realPath(paths.sysfs + "/class/net/" + name.name + "/device"),
           let last = FileSystem.components(device).last {
            if let address = PCIAddress(String(last)) {
                if let pf = try source.physicalFunction(address) { return target(for: pf) }
                if FileSystem.entryExists(paths.device(address) + "/physfn") {
                    throw SRIOVError(.invalidArgument, "\(name) is the netdev of VF \(address), not of a PF; name its PF (see `sriovctl inventory --vfs`)")
                }
            } else if last.hasPrefix("netdevsim"), let id = Int(last.dropFirst("netdevsim".count)) {
                let dir = netdevsimDirectory(id)
                guard let numVFs = FileSystem.readAttribute(dir + "/sriov_numvfs").value.flatMap({ Int($0) }) else {
                    throw SRIOVError(.notFound, "\(name) is a netdevsim port but \(dir)/sriov_numvfs is unreadable; is netdevsim loaded with SR-IOV support?")
                }
                return PFTarget(device: .netdevsim(id), interface: name, driver: "netdevsim", numVFs: numVFs, totalVFs: nil,
                                isManagement: source.defaultRouteInterfaces().contains(name), pf: nil)
            }
        }
        if FileSystem.entryExists(paths.sysfs + "/class/net/" + name.name) {
            throw SRIOVError(.notFound, "\(name) is not an SR-IOV PF (its device has no sriov_totalvfs); `sriovctl inventory` lists the PFs of this host")
        }
        throw SRIOVError(.notFound, "no network interface or SR-IOV PF named \(name); `sriovctl inventory` lists the PFs of this host")
    }

    public func target(for pf: PhysicalFunction) -> PFTarget {
        PFTarget(pf)
    }

    /// `/sys/bus/netdevsim/devices/netdevsim<N>`, built from a number only.
    public func netdevsimDirectory(_ id: Int) -> String {
        paths.sysfs + "/bus/netdevsim/devices/netdevsim\(id)"
    }
}
