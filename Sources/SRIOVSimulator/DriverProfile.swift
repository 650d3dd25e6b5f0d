/// How one simulated NIC model and its drivers behave: the per-driver quirks, as data.
public struct DriverProfile: Sendable, Codable, Equatable {
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
    /// `min_tx_rate` works; false answers EINVAL (igb, many Intel NICs).
    public var supportsMinTxRate: Bool
    /// `max_tx_rate` needs the PF's link up, else EINVAL (igb).
    public var maxTxRateNeedsLinkUp: Bool
    /// 802.1ad port VLANs work; false answers EPROTONOSUPPORT.
    public var supports8021ad: Bool
    /// An all-zero MAC is refused with EINVAL (the scrub then falls back to a placeholder).
    public var rejectsZeroMAC: Bool
    /// The driver enables at most this many VFs whatever is asked (MSI-X or queue limits); nil: no limit.
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
    public static let igbI350 = DriverProfile(
        name: "igb-i350", vendorID: "8086", pfDeviceID: "1521", vfDeviceID: "1520", pfDriver: "igb",
        vfDriver: "igbvf", supportsLinkState: false, supportsMinTxRate: false, maxTxRateNeedsLinkUp: true,
        supports8021ad: false)
    /// Intel E810 (ice / iavf).
    public static let iceE810 = DriverProfile(
        name: "ice-e810", vendorID: "8086", pfDeviceID: "1593", vfDeviceID: "1889", pfDriver: "ice",
        vfDriver: "iavf", supports8021ad: true)
    /// NVIDIA ConnectX-5 (mlx5_core for PF and VF): everything supported.
    public static let mlx5CX5 = DriverProfile(
        name: "mlx5-cx5", vendorID: "15b3", pfDeviceID: "1017", vfDeviceID: "1018", pfDriver: "mlx5_core",
        vfDriver: "mlx5_core")

    public static let builtIn: [DriverProfile] = [igbI350, iceE810, mlx5CX5]
}
