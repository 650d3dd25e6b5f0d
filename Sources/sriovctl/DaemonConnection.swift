import ArgumentParser
import SRIOVAPI
import SRIOVClient
import SRIOVCore
import SRIOVLeasing

#if canImport(Glibc)
import Glibc
#endif

/// How the commands that change the host or the book reach the lease engine: sriovd's socket (default),
/// or `--direct` (the engine in this process). Either way they call the one front door (`FrontDoor`).
struct ConnectOptions: ParsableArguments {
    static let defaultSocket = DefaultPaths.socket

    @Option(name: .customLong("socket"), help: ArgumentHelp("sriovd's API socket. Default: $SRIOVD_SOCKET, else /run/sriovd/sriovd.sock.", valueName: "path"))
    var socket: String?

    @Flag(name: .customLong("direct"), help: "Open the state directory in this process instead of asking sriovd (only while no sriovd holds its lock; it must exist, sriovctl never creates one); --simulated, --state-dir, --config, --sysfs-root and --procfs-root apply only then.")
    var direct = false

    /// The same choice as plain values (what the fast path fills in without ArgumentParser).
    var door: DoorChoice { DoorChoice(socket: socket, direct: direct) }

    /// --socket, else $SRIOVD_SOCKET, else the default.
    var socketPath: String { door.socketPath }

    func check(_ global: GlobalOptions, _ leaseOptions: LeaseOptions) throws {
        try door.check(global.choice, configPath: leaseOptions.config)
    }

    /// The client of sriovd on this socket.
    var client: DaemonClient { door.client }

    func using<T>(_ global: GlobalOptions, _ leaseOptions: LeaseOptions,
                  _ body: (any FrontDoor) async throws -> T) async throws -> T {
        try await door.using(global.choice, configPath: leaseOptions.config, body)
    }
}

/// Which front door a command uses, as plain values: sriovd's socket (`socket`, else $SRIOVD_SOCKET,
/// else the default) or, with `direct`, the lease engine opened in this process.
struct DoorChoice: Equatable, Sendable {
    var socket: String?
    var direct = false

    /// --socket, else $SRIOVD_SOCKET, else the default.
    var socketPath: String {
        if let socket { return socket }
        if let env = getenv("SRIOVD_SOCKET"), let text = String(validatingCString: env), !text.isEmpty { return text }
        return ConnectOptions.defaultSocket
    }

    /// Options that only mean something in-process are refused without --direct: sriovd has its own
    /// host, state directory and configuration, and silently ignoring them would act on another state.
    func check(_ host: HostChoice, configPath: String?) throws {
        if direct {
            if socket != nil { throw ValidationError("--socket and --direct exclude each other: --direct opens the state directory in this process") }
            return
        }
        let inProcess = host.hostOptionsGiven + (configPath != nil ? ["--config"] : [])
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

    /// Runs `body` against the front door chosen (sriovd's socket, or with --direct the engine opened on
    /// the state directory, reading as much of the host as `discovery` says), and lets go of it
    /// afterwards, also when `body` throws.
    func using<T>(_ host: HostChoice, configPath: String?, discovery: LeaseEngine.Discovery = .wholeHost,
                  _ body: (any FrontDoor) async throws -> T) async throws -> T {
        let door: any FrontDoor
        if direct {
            let (engine, _) = try await LeaseContext.engine(host, configPath: configPath, discovery: discovery)
            door = LocalFrontDoor(engine: engine, caller: LeaseContext.caller)
        } else {
            door = client
        }
        do {
            let result = try await body(door)
            await door.closeAfterSuccess()
            return result
        } catch {
            await door.close()
            throw error
        }
    }
}

/// How `inventory` and `doctor` read the host: in this process by default (they change nothing, so the
/// book need not be asked), or, with `--socket`, through sriovd's front door (the host sriovd sees).
struct HostReadOptions: ParsableArguments {
    @Option(name: .customLong("socket"), help: ArgumentHelp("Ask the sriovd on this socket instead of reading the host in this process.", valueName: "path"))
    var socket: String?

    func check(_ global: GlobalOptions) throws {
        guard let socket else { return }
        let given = global.hostOptionsGiven
        if !given.isEmpty {
            throw ValidationError("--socket asks the sriovd on \(socket) about its own host; drop \(given.joined(separator: ", "))")
        }
    }

    var client: DaemonClient? {
        socket.map { DaemonClient(socketPath: $0, unreachableHint: "start sriovd, or drop --socket to read the host in this process") }
    }
}
