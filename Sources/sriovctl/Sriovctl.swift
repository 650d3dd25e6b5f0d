import ArgumentParser

@main
struct Sriovctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sriovctl",
        abstract: "Inspect and control the SR-IOV virtual functions of this host.",
        discussion: "Works on the real host (/sys, /proc) or, with --simulated, on the simulated host kept in the state directory. Exit codes: 0 success; 1 failure (a doctor FAIL, a kernel refusal); 64 bad input; 65 damaged data; 66 not found; 69 unsupported by the driver; 74 I/O error; 75 busy or timed out; 77 not permitted or protected.",
        subcommands: [InventoryShow.self, DoctorRun.self, PFGroup.self, VFGroup.self]
    )
}
