import ArgumentParser
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The entry point. It blocks the main thread on a semaphore while the command runs as a task, then
/// exits with its status, instead of an async `main`: that parks the main thread with
/// `pthread_exit`, whose forced unwind costs little in a dynamically linked process but, in a static
/// executable, sorts every unwind table entry of the binary first (~300 million instructions).
@main
enum SriovctlMain {
    static func main() {
        // Installed as libvirt's QEMU hook (/etc/libvirt/hooks/qemu, a link to sriovctl): libvirt passes
        // only its own arguments.
        let asHook = CommandLine.arguments.first?.split(separator: "/").last == "qemu"
        let arguments = (asHook ? ["libvirt-hook"] : []) + Array(CommandLine.arguments.dropFirst())
        let status = Blocking.run {
            if let status = await FastPath.run(arguments) { return status }
            return await Sriovctl.run(arguments)
        }
        Glibc.exit(status)
    }
}

struct Sriovctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sriovctl",
        abstract: "Inspect and control the SR-IOV virtual functions of this host.",
        discussion: "Works on the real host (/sys, /proc) or, with --simulated, on the simulated host kept in the state directory. Exit codes: 0 success; 1 failure (a doctor FAIL, a kernel refusal); 64 bad input; 65 damaged data; 66 not found; 69 unsupported by the driver; 74 I/O error; 75 busy or timed out; 77 not permitted or protected.",
        subcommands: [InventoryShow.self, DoctorRun.self, PFGroup.self, VFGroup.self, LeaseGroup.self, PoolGroup.self, JournalGroup.self, AuditList.self, EventsFollow.self, LibvirtHookCommand.self]
    )

    /// Like ArgumentParser's own main, but a usage error reads `sriovctl: error: ...` like every other
    /// error (and still exits 64), with the usage line after it. Returns the exit status.
    static func run(_ arguments: [String]) async -> Int32 {
        do {
            var command = try parseAsRoot(arguments)
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
            return 0
        } catch {
            return report(error)
        }
    }

    /// Prints what `error` says (nothing for an `ExitCode`: the command printed it) and returns the
    /// exit status it stands for.
    static func report(_ error: any Error) -> Int32 {
        let code = exitCode(for: error)
        let message = fullMessage(for: error)
        if code == .success {
            if !message.isEmpty { print(message) }
        } else if !message.isEmpty {
            let text = message.hasPrefix("Error: ") ? "sriovctl: error: " + message.dropFirst("Error: ".count) : Substring(message)
            Output.error(String(text))
        }
        return code.rawValue
    }
}

/// Runs async work to completion from synchronous code, on the global executor.
enum Blocking {
    static func run(_ body: @escaping @Sendable () async -> Int32) -> Int32 {
        let done = DispatchSemaphore(value: 0)
        let status = Mutex<Int32>(0)
        Task.detached {
            let value = await body()
            status.withLock { $0 = value }
            done.signal()
        }
        done.wait()
        return status.withLock { $0 }
    }
}
