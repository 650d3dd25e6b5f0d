import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

@main
struct Sriovctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sriovctl",
        abstract: "Inspect and control the SR-IOV virtual functions of this host.",
        discussion: "Works on the real host (/sys, /proc) or, with --simulated, on the simulated host kept in the state directory. Exit codes: 0 success; 1 failure (a doctor FAIL, a kernel refusal); 64 bad input; 65 damaged data; 66 not found; 69 unsupported by the driver; 74 I/O error; 75 busy or timed out; 77 not permitted or protected.",
        subcommands: [InventoryShow.self, DoctorRun.self, PFGroup.self, VFGroup.self, LeaseGroup.self, PoolGroup.self, JournalGroup.self, AuditList.self, EventsFollow.self]
    )

    /// Like ArgumentParser's own main, but a usage error reads `sriovctl: error: ...` like every other
    /// error (and still exits 64), with the usage line after it.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
            } else if !message.isEmpty {
                let text = message.hasPrefix("Error: ") ? "sriovctl: error: " + message.dropFirst("Error: ".count) : Substring(message)
                Output.error(String(text))
            }
            Glibc.exit(code.rawValue)
        }
    }
}
