import SRIOVCore

extension FakeHost {
    /// How one NIC model's drivers behave: the simulator's `DriverProfile`, as data the fake applies.
    public struct Driver: Sendable, Equatable {
        public var name: String
        public var vendorID: String
        public var pfDeviceID: String
        public var vfDeviceID: String
        public var pfDriver: String
        public var vfDriver: String
        /// The VF driver creates a netdev (igbvf, iavf, mlx5_core do).
        public var vfHasNetdev: Bool
        /// `ip link set ... vf N state` works; false answers EOPNOTSUPP (igb).
        public var supportsLinkState: Bool
        /// `min_tx_rate` works; false answers EINVAL.
        public var supportsMinTxRate: Bool
        /// `max_tx_rate` needs the PF's link up, else EINVAL (igb).
        public var maxTxRateNeedsLinkUp: Bool
        /// 802.1ad port VLANs work; false answers EPROTONOSUPPORT.
        public var supports8021ad: Bool
        /// An all-zero MAC is refused with EINVAL (the scrub then falls back to a placeholder).
        public var rejectsZeroMAC: Bool
        /// The driver enables at most this many VFs whatever is asked; nil: no limit.
        public var maxVFsEnabled: Int?

        public init(name: String, vendorID: String, pfDeviceID: String, vfDeviceID: String, pfDriver: String,
                    vfDriver: String, vfHasNetdev: Bool = true, supportsLinkState: Bool = true,
                    supportsMinTxRate: Bool = true, maxTxRateNeedsLinkUp: Bool = false, supports8021ad: Bool = true,
                    rejectsZeroMAC: Bool = false, maxVFsEnabled: Int? = nil) {
            self.name = name
            self.vendorID = vendorID
            self.pfDeviceID = pfDeviceID
            self.vfDeviceID = vfDeviceID
            self.pfDriver = pfDriver
            self.vfDriver = vfDriver
            self.vfHasNetdev = vfHasNetdev
            self.supportsLinkState = supportsLinkState
            self.supportsMinTxRate = supportsMinTxRate
            self.maxTxRateNeedsLinkUp = maxTxRateNeedsLinkUp
            self.supports8021ad = supports8021ad
            self.rejectsZeroMAC = rejectsZeroMAC
            self.maxVFsEnabled = maxVFsEnabled
        }

        /// Intel I350 (igb / igbvf): no VF link state, no min rate, max rate only with the PF link up.
        public static let igbI350 = Driver(
            name: "igb-i350", vendorID: "8086", pfDeviceID: "1521", vfDeviceID: "1520", pfDriver: "igb",
            vfDriver: "igbvf", supportsLinkState: false, supportsMinTxRate: false, maxTxRateNeedsLinkUp: true,
            supports8021ad: false)
        /// Intel E810 (ice / iavf).
        public static let iceE810 = Driver(
            name: "ice-e810", vendorID: "8086", pfDeviceID: "1593", vfDeviceID: "1889", pfDriver: "ice",
            vfDriver: "iavf", supports8021ad: true)
        /// NVIDIA ConnectX-5 (mlx5_core for PF and VF): everything supported.
        public static let mlx5CX5 = Driver(
            name: "mlx5-cx5", vendorID: "15b3", pfDeviceID: "1017", vfDeviceID: "1018", pfDriver: "mlx5_core",
            vfDriver: "mlx5_core")

        public static let builtIn: [Driver] = [igbI350, iceE810, mlx5CX5]
    }

    /// One PF of the fake host (the fields of `SimulatedHostSpec.PF`).
    public struct PF: Sendable, Equatable {
        public var address: PCIAddress
        /// Key into `Spec.profiles`.
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

        public init(address: PCIAddress, profile: String, interface: String, numaNode: Int?, totalVFs: Int,
                    initialVFs: Int = 0, firstVFOffset: Int = 0x80, vfStride: Int = 1, linkUp: Bool = true,
                    acsIsolated: Bool = true, carriesDefaultRoute: Bool = false, driverBound: Bool = true) {
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

        /// SR-IOV routing: VF n is at PF RID + First VF Offset + n * VF Stride.
        public func vfAddress(_ index: Int) -> PCIAddress {
            let rid = (Int(address.routingID) + firstVFOffset + index * vfStride) & 0xffff
            return PCIAddress(domain: address.domain, routingID: UInt16(rid))
        }
    }

    /// What a fake host is built from (the shape of `SimulatedHostSpec`, so tests change it the same way).
    public struct Spec: Sendable, Equatable {
        public var kernelRelease: String
        public var kernelCommandLine: String
        /// An IOMMU is present and on (IOMMU units and groups exist).
        public var iommu: Bool
        public var interruptRemapping: Bool
        public var vfioPCILoaded: Bool
        public var profiles: [Driver]
        public var pfs: [PF]

        public init(kernelRelease: String = "6.1.0-sim", kernelCommandLine: String = Spec.defaultCommandLine,
                    iommu: Bool = true, interruptRemapping: Bool = true, vfioPCILoaded: Bool = true,
                    profiles: [Driver] = Driver.builtIn, pfs: [PF]) {
            self.kernelRelease = kernelRelease
            self.kernelCommandLine = kernelCommandLine
            self.iommu = iommu
            self.interruptRemapping = interruptRemapping
            self.vfioPCILoaded = vfioPCILoaded
            self.profiles = profiles
            self.pfs = pfs
        }

        public func profile(named name: String) -> Driver? { profiles.first { $0.name == name } }

        public static let defaultCommandLine = "BOOT_IMAGE=/boot/vmlinuz-6.1.0-sim root=/dev/sda1 ro quiet intel_iommu=on iommu=pt"

        /// The simulator's default host (`SimulatedHostSpec.standard()`, Docs/Simulator.md): an Intel E810
        /// (2 ports, NUMA 0), an NVIDIA ConnectX-5 (2 ports, NUMA 1) and an Intel I350 management port
        /// (`eno1`) that carries the default route. Same names, addresses and VF counts, so the test
        /// configurations written for the simulator resolve here too.
        public static func standard() -> Spec {
            func a(_ text: String) -> PCIAddress {
                guard let address = PCIAddress(text) else { preconditionFailure("bad PCI address literal \(text)") }
                return address
            }
            return Spec(pfs: [
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
            ])
        }
    }
}
