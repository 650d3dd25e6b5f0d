/// Where sriovd and sriovctl look when no option says otherwise: one place, so the daemon, the CLI,
/// the configuration loader and the sysfs reader cannot disagree.
public enum DefaultPaths {
    /// The journal, snapshot and lock (and, with `--simulated`, the simulated host).
    public static let stateDirectory = "/var/lib/sriovd"
    /// sriovd's API socket (`$SRIOVD_SOCKET` overrides it for sriovctl).
    public static let socket = "/run/sriovd/sriovd.sock"
    /// The configuration file.
    public static let config = "/etc/sriovd/sriovd.yaml"
    public static let sysfs = "/sys"
    public static let procfs = "/proc"
    public static let modules = "/lib/modules"
}
