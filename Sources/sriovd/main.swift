#if canImport(Glibc)
import Glibc
#endif

// The daemon (API, authorization, metrics, systemd) arrives with its own issue; until then it refuses
// to start rather than pretend to serve.
let arguments = CommandLine.arguments.dropFirst()
if arguments.contains("--help") || arguments.contains("-h") {
    print("""
    USAGE: sriovd [--simulated]

    sriovd is the SR-IOV lease daemon. It is not implemented yet: this build refuses to start.
    Use `sriovctl inventory`, `sriovctl doctor` (add --simulated for the built-in simulated host).
    """)
    exit(0)
}
let message = "sriovd: the daemon is not available in this build yet (it lands with the daemon issue); use `sriovctl inventory --simulated` and `sriovctl doctor --simulated` meanwhile\n"
_ = message.withCString { write(2, $0, strlen($0)) }
exit(2)
