import ArgumentParser
import SRIOVClient
import SRIOVCore

#if canImport(Glibc)
import Glibc
#endif

/// How the lease and pool commands reach the lease engine: sriovd's socket (default), or `--direct`.
struct ConnectOptions: ParsableArguments {
    static let defaultSocket = "/run/sriovd/sriovd.sock"

    @Option(name: .customLong("socket"), help: ArgumentHelp("sriovd's API socket. Default: $SRIOVD_SOCKET, else /run/sriovd/sriovd.sock.", valueName: "path"))
    var socket: String?

    @Flag(name: .customLong("direct"), help: "Open the state directory in this process instead of asking sriovd (only while no sriovd holds its lock); --simulated, --state-dir, --config, --sysfs-root and --procfs-root apply only then.")
    var direct = false

    /// --socket, else $SRIOVD_SOCKET, else the default.
    var socketPath: String {
        if let socket { return socket }
        if let env = getenv("SRIOVD_SOCKET"), let text = String(validatingCString: env), !text.isEmpty { return text }
        return ConnectOptions.defaultSocket
    }

    /// Options that only mean something in-process are refused without --direct: sriovd has its own
    /// host, state directory and configuration, and silently ignoring them would act on another state.
    func check(_ global: GlobalOptions, _ leaseOptions: LeaseOptions) throws {
        if direct {
            if socket != nil { throw ValidationError("--socket and --direct exclude each other: --direct opens the state directory in this process") }
            return
        }
        var inProcess: [String] = []
        if global.simulated { inProcess.append("--simulated") }
        if global.stateDir != "/var/lib/sriovd" { inProcess.append("--state-dir") }
        if global.sysfsRoot != "/sys" { inProcess.append("--sysfs-root") }
        if global.procfsRoot != "/proc" { inProcess.append("--procfs-root") }
        if leaseOptions.config != nil { inProcess.append("--config") }
        if !inProcess.isEmpty {
            throw ValidationError("\(inProcess.joined(separator: ", ")) \(inProcess.count == 1 ? "applies" : "apply") only with --direct (in-process); without it sriovctl asks the sriovd on \(socketPath), which has its own host, state directory and configuration")
        }
    }

    /// The client of sriovd on this socket.
    var client: DaemonClient {
        DaemonClient(socketPath: socketPath, unreachableHint: """
            start it (`systemctl start sriovd`, or `sriovd --simulated --state-dir <dir> --socket <path>`), \
            point --socket or SRIOVD_SOCKET at its socket, or pass --direct to open the state directory in this process \
            (only while no sriovd holds its lock)
            """)
    }
}
