import SRIOVCore
import SRIOVSysfs

/// The description a simulated host is built from: which PFs, which driver profiles, which kernel facts.
/// Stored as `host.json` in the simulated host's directory.
public struct SimulatedHostSpec: Sendable, Codable, Equatable {
    public struct PF: Sendable, Codable, Equatable {
        public var address: PCIAddress
        /// Key into `profiles`.
        public var profile: String
        public var interface: String
        public var numaNode: Int?
        public var totalVFs: Int
        /// VFs created when the host is built.
        public var initialVFs: Int
        /// First VF routing ID = PF routing ID + offset; next ones + stride.
        public var firstVFOffset: Int
        public var vfStride: Int
        public var linkUp: Bool
        /// With ACS below the PF each VF gets its own IOMMU group; without, VFs join the PF's group.
        public var acsIsolated: Bool
        /// This PF carries the host's default route.
        public var carriesDefaultRoute: Bool
        /// The PF's driver is bound (false: writing sriov_numvfs answers ENOENT).
        public var driverBound: Bool
        /// Joins the IOMMU group of this PF, listed before it (functions of one device without ACS
        /// between them: a multi-function device passed through whole); nil: a group of its own.
        public var iommuGroupWith: PCIAddress?

        public init(address: PCIAddress, profile: String, interface: String, numaNode: Int?, totalVFs: Int,
                    initialVFs: Int = 0, firstVFOffset: Int = 0x80, vfStride: Int = 1, linkUp: Bool = true,
                    acsIsolated: Bool = true, carriesDefaultRoute: Bool = false, driverBound: Bool = true,
                    iommuGroupWith: PCIAddress? = nil) {
            self.iommuGroupWith = iommuGroupWith
            self.address = address
            self.profile = profile
            self.interface = interface
            self.numaNode = numaNode
            self.totalVFs = totalVFs
            self.initialVFs = initialVFs
            self.firstVFOffset = firstVFOffset
            self.vfStride = vfStride
            self.linkUp = linkUp
            self.acsIsolated = acsIsolated
            self.carriesDefaultRoute = carriesDefaultRoute
            self.driverBound = driverBound
        }
    }

    /// A PCI function without SR-IOV (a NIC with no `sriov_totalvfs`): leasable whole by a `devices:` pool.
    public struct Device: Sendable, Codable, Equatable {
        public var address: PCIAddress
        public var vendorID: String
        public var deviceID: String
        /// PCI class code (`0x020000`: Ethernet).
        public var classCode: String
        /// The host driver: bound when the host is built (unless `driverBound` is false), and what
        /// `drivers_probe` binds; it makes `interface` when bound.
        public var driver: String
        public var interface: String?
        public var numaNode: Int?
        public var linkUp: Bool
        /// This function carries the host's default route.
        public var carriesDefaultRoute: Bool
        public var driverBound: Bool
        /// Joins the IOMMU group of this PF or device, listed before it; nil: a group of its own.
        public var iommuGroupWith: PCIAddress?

        public init(address: PCIAddress, vendorID: String = "8086", deviceID: String = "10d3", classCode: String = "0x020000",
                    driver: String = "e1000e", interface: String?, numaNode: Int? = nil, linkUp: Bool = true,
                    carriesDefaultRoute: Bool = false, driverBound: Bool = true, iommuGroupWith: PCIAddress? = nil) {
            self.address = address
            self.vendorID = vendorID
            self.deviceID = deviceID
            self.classCode = classCode
            self.driver = driver
            self.interface = interface
            self.numaNode = numaNode
            self.linkUp = linkUp
            self.carriesDefaultRoute = carriesDefaultRoute
            self.driverBound = driverBound
            self.iommuGroupWith = iommuGroupWith
        }
    }

    public var kernelRelease: String
    public var kernelCommandLine: String
    /// An IOMMU is present and on (IOMMU units and groups exist).
    public var iommu: Bool
    public var interruptRemapping: Bool
    public var vfioPCILoaded: Bool
    public var profiles: [DriverProfile]
    public var pfs: [PF]
    /// Functions without SR-IOV, built after the PFs and their initial VFs (so adding one leaves the
    /// PFs' and VFs' IOMMU group numbers as they were).
    public var devices: [Device]

    public init(kernelRelease: String = "6.1.0-sim", kernelCommandLine: String, iommu: Bool = true,
                interruptRemapping: Bool = true, vfioPCILoaded: Bool = true,
                profiles: [DriverProfile] = DriverProfile.builtIn, pfs: [PF], devices: [Device] = []) {
        self.kernelRelease = kernelRelease
        self.kernelCommandLine = kernelCommandLine
        self.iommu = iommu
        self.interruptRemapping = interruptRemapping
        self.vfioPCILoaded = vfioPCILoaded
        self.profiles = profiles
        self.pfs = pfs
        self.devices = devices
    }

    enum CodingKeys: String, CodingKey {
        case kernelRelease, kernelCommandLine, iommu, interruptRemapping, vfioPCILoaded, profiles, pfs, devices
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kernelRelease = try c.decode(String.self, forKey: .kernelRelease)
        kernelCommandLine = try c.decode(String.self, forKey: .kernelCommandLine)
        iommu = try c.decode(Bool.self, forKey: .iommu)
        interruptRemapping = try c.decode(Bool.self, forKey: .interruptRemapping)
        vfioPCILoaded = try c.decode(Bool.self, forKey: .vfioPCILoaded)
        profiles = try c.decode([DriverProfile].self, forKey: .profiles)
        pfs = try c.decode([PF].self, forKey: .pfs)
        // A host.json written before functions without SR-IOV were simulated has none.
        devices = try c.decodeIfPresent([Device].self, forKey: .devices) ?? []
    }

    /// The function without SR-IOV at `address`, if the spec has one.
    public func device(at address: PCIAddress) -> Device? { devices.first { $0.address == address } }

    public func profile(named name: String) -> DriverProfile? { profiles.first { $0.name == name } }

    static let defaultCommandLine = "BOOT_IMAGE=/boot/vmlinuz-6.1.0-sim root=/dev/sda1 ro quiet intel_iommu=on iommu=pt"

    /// The embedded default: a two-socket NFV host with an Intel E810 (2 ports, NUMA 0), an NVIDIA
    /// ConnectX-5 (2 ports, NUMA 1), an Intel I350 management port (`eno1`) that carries the default
    /// route and must never be touched, and an Intel 82574L without SR-IOV (`enp94s0`, e1000e): a NIC a
    /// `devices:` pool can lease whole.
    public static func standard() -> SimulatedHostSpec {
        func a(_ text: String) -> PCIAddress { PCIAddress(text)! }
        return SimulatedHostSpec(kernelCommandLine: defaultCommandLine, pfs: [
            PF(address: a("0000:19:00.0"), profile: "igb-i350", interface: "eno1", numaNode: 0, totalVFs: 7,
               firstVFOffset: 0x80, vfStride: 4, carriesDefaultRoute: true),
            PF(address: a("0000:3b:00.0"), profile: "ice-e810", interface: "ens1f0", numaNode: 0, totalVFs: 64,
               initialVFs: 8, firstVFOffset: 0x10),
            PF(address: a("0000:3b:00.1"), profile: "ice-e810", interface: "ens1f1", numaNode: 0, totalVFs: 64,
               initialVFs: 8, firstVFOffset: 0x4f),
            PF(address: a("0000:af:00.0"), profile: "mlx5-cx5", interface: "ens4f0np0", numaNode: 1, totalVFs: 16,
               initialVFs: 4, firstVFOffset: 0x02),
            PF(address: a("0000:af:00.1"), profile: "mlx5-cx5", interface: "ens4f1np1", numaNode: 1, totalVFs: 16,
               firstVFOffset: 0x11),
        ], devices: [
            Device(address: a("0000:5e:00.0"), interface: "enp94s0", numaNode: 0),
        ])
    }

    /// A large host for benchmarks and scale tests: `pfCount` ConnectX-like PFs, each with `vfsPerPF` VFs
    /// created, spread over two NUMA nodes, plus the I350 management port.
    public static func generated(pfCount: Int, vfsPerPF: Int) -> SimulatedHostSpec {
        var pfs: [PF] = [PF(address: PCIAddress(domain: 0, routingID: 0x1900), profile: "igb-i350", interface: "eno1",
                            numaNode: 0, totalVFs: 7, firstVFOffset: 0x80, vfStride: 4, carriesDefaultRoute: true)]
        for i in 0..<pfCount {
            // One bus pair per PF: the PF at bus:00.0, its VFs from bus:10.0 on (256 VFs reach into bus+1).
            let bus = 0x20 + 2 * i
            pfs.append(PF(address: PCIAddress(domain: 0, routingID: UInt16(bus << 8)), profile: "mlx5-cx5",
                          interface: "enp\(bus)s0f0", numaNode: i % 2, totalVFs: max(vfsPerPF, 1),
                          initialVFs: vfsPerPF, firstVFOffset: 0x80))
        }
        return SimulatedHostSpec(kernelCommandLine: defaultCommandLine, pfs: pfs)
    }

    /// Checks the spec before building a tree from it.
    public func validate() throws(SRIOVError) {
        var seen = Set<PCIAddress>()
        for pf in pfs {
            guard profile(named: pf.profile) != nil else {
                throw SRIOVError(.invalidArgument, "simulated PF \(pf.address): unknown driver profile \(Quote.shell(pf.profile))")
            }
            _ = try InterfaceName(parsing: pf.interface)
            guard pf.initialVFs <= pf.totalVFs, pf.totalVFs <= 4096 else {
                throw SRIOVError(.invalidArgument, "simulated PF \(pf.address): initialVFs \(pf.initialVFs) / totalVFs \(pf.totalVFs) out of range")
            }
            if let with = pf.iommuGroupWith, !seen.contains(with) {
                throw SRIOVError(.invalidArgument, "simulated PF \(pf.address): iommuGroupWith \(with) is not a PF listed before it")
            }
            guard seen.insert(pf.address).inserted else {
                throw SRIOVError(.invalidArgument, "simulated PF \(pf.address) is listed twice")
            }
        }
        for device in devices {
            if let name = device.interface { _ = try InterfaceName(parsing: name) }
            try DriverName.check(device.driver)
            if let with = device.iommuGroupWith, !seen.contains(with) {
                throw SRIOVError(.invalidArgument, "simulated device \(device.address): iommuGroupWith \(with) is not a PF or device listed before it")
            }
            guard seen.insert(device.address).inserted else {
                throw SRIOVError(.invalidArgument, "simulated device \(device.address) is listed twice (or is also a PF)")
            }
        }
        for pf in pfs {
            for i in 0..<pf.totalVFs {
                let vf = SimulatedHostSpec.vfAddress(pf, index: i)
                guard seen.insert(vf).inserted else {
                    throw SRIOVError(.invalidArgument, "simulated PF \(pf.address): VF \(i) would be at \(vf), which another device already uses; change firstVFOffset/vfStride")
                }
            }
        }
    }

    /// SR-IOV routing: VF n is at PF RID + First VF Offset + n * VF Stride.
    public static func vfAddress(_ pf: PF, index: Int) -> PCIAddress {
        let rid = (Int(pf.address.routingID) + pf.firstVFOffset + index * pf.vfStride) & 0xffff
        return PCIAddress(domain: pf.address.domain, routingID: UInt16(rid))
    }
}
