// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "sriovd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sriovctl", targets: ["sriovctl"]),
        .executable(name: "sriovd", targets: ["sriovd"]),
        .library(name: "SRIOVCore", targets: ["SRIOVCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // SHA-256 of bearer tokens (already in the graph through swift-certificates; 4.x is resolved).
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // Already in the graph through Hummingbird; named for the HTTP parts ConnectionGuardHandler
        // watches (NIOHTTPTypes) and the embedded channel its tests drive (NIOEmbedded).
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
    ],
    targets: [
        // Value types, errors and the seams (protocols). No I/O, no C.
        .target(name: "SRIOVCore"),
        // The API model (lease, request, bodies, pool status, audit record, check report) and the front
        // door protocol that the engine (in-process) and DaemonClient (over the socket) both implement.
        .target(name: "SRIOVAPI", dependencies: ["SRIOVCore"]),
        // The real sysfs/procfs, always under configurable roots.
        .target(name: "SRIOVSysfs", dependencies: ["SRIOVCore"]),
        // libnl-3 / libnl-route-3 (apt: libnl-3-dev libnl-route-3-dev).
        .systemLibrary(
            name: "CNetlink",
            pkgConfig: "libnl-route-3.0",
            providers: [.apt(["libnl-3-dev", "libnl-route-3-dev"])]
        ),
        // The only module that imports C.
        .target(name: "SRIOVNetlink", dependencies: ["SRIOVCore", "CNetlink"]),
        // A kernel that behaves: a sysfs-shaped tree plus netlink state, with the kernel's rules.
        .target(name: "SRIOVSimulator", dependencies: ["SRIOVCore", "SRIOVSysfs"]),
        .target(name: "SRIOVJournal", dependencies: ["SRIOVCore", .product(name: "Logging", package: "swift-log")]),
        // sriovd.yaml: desired PF state, protected PFs, pools; bound to a host as a PoolPlan.
        .target(name: "SRIOVConfig", dependencies: ["SRIOVCore", .product(name: "Yams", package: "Yams")]),
        // Pools, the allocator, the lease state machine, recovery and reconciliation.
        .target(
            name: "SRIOVLeasing",
            dependencies: ["SRIOVCore", "SRIOVAPI", "SRIOVJournal", "SRIOVConfig",
                           .product(name: "Logging", package: "swift-log")]
        ),
        // Wiring shared by sriovd and sriovctl: which host (real or simulated), which configuration.
        .target(
            name: "SRIOVRuntime",
            dependencies: ["SRIOVCore", "SRIOVSysfs", "SRIOVNetlink", "SRIOVSimulator", "SRIOVConfig", "SRIOVLeasing"]
        ),
        // sriovctl's client of sriovd's API: HTTP/1.1 over a Unix socket with POSIX calls (no NIO: start-up time).
        .target(name: "SRIOVClient", dependencies: ["SRIOVCore", "SRIOVAPI"]),
        .executableTarget(
            name: "sriovctl",
            dependencies: [
                "SRIOVCore", "SRIOVSysfs", "SRIOVSimulator", "SRIOVNetlink", "SRIOVConfig", "SRIOVJournal", "SRIOVLeasing",
                "SRIOVRuntime", "SRIOVClient", "SRIOVAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            linkerSettings: sriovctlLinking
        ),
        // The daemon's library: HTTP/JSON API on a Unix socket, lifecycle, caller identity.
        .target(
            name: "SRIOVService",
            dependencies: [
                "SRIOVLeasing", "SRIOVAPI", "SRIOVCore", "SRIOVConfig", "SRIOVSysfs", "SRIOVSimulator", "SRIOVNetlink", "SRIOVRuntime",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ]
        ),
        .executableTarget(
            name: "sriovd",
            dependencies: [
                "SRIOVCore", "SRIOVService", "SRIOVConfig",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "sriov-bench",
            dependencies: ["SRIOVCore", "SRIOVAPI", "SRIOVSysfs", "SRIOVSimulator", "SRIOVNetlink", "SRIOVJournal", "SRIOVLeasing", "SRIOVConfig",
                           "SRIOVRuntime", "SRIOVClient", "SRIOVService", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/sriov-bench"
        ),
        // The parsers' properties: a corpus replay in a normal build, a libFuzzer binary with
        // -sanitize=fuzzer -DSRIOV_FUZZ (Fuzz/run.sh, Docs/Testing.md).
        .executableTarget(
            name: "sriov-fuzz",
            dependencies: ["SRIOVCore", "SRIOVAPI", "SRIOVJournal", "SRIOVLeasing", "SRIOVConfig", "SRIOVNetlink", "SRIOVSimulator",
                           .product(name: "Logging", package: "swift-log")],
            path: "Fuzz/sriov-fuzz"
        ),
        .target(name: "SRIOVTestSupport", path: "Tests/TestSupport"),
        // An in-memory host (all three seams) for the engine's unit tests: deterministic, no disk.
        // The in-memory host of the engine's unit tests; it takes the simulator's host description (values only).
        .target(name: "SRIOVFakeHost", dependencies: ["SRIOVCore", "SRIOVSimulator"], path: "Tests/FakeHost"),
        .testTarget(name: "SRIOVLeasingTests",
                    dependencies: ["SRIOVLeasing", "SRIOVCore", "SRIOVConfig", "SRIOVJournal", "SRIOVFakeHost", "SRIOVSimulator",
                                   "SRIOVTestSupport"]),
        .testTarget(name: "SRIOVCoreTests", dependencies: ["SRIOVCore"]),
        .testTarget(name: "SRIOVSysfsTests", dependencies: ["SRIOVCore", "SRIOVSysfs", "SRIOVTestSupport"]),
        .testTarget(name: "SRIOVSimulatorTests", dependencies: ["SRIOVCore", "SRIOVSysfs", "SRIOVSimulator", "SRIOVTestSupport"]),
        .testTarget(name: "SRIOVNetlinkTests", dependencies: ["SRIOVCore", "SRIOVNetlink", "SRIOVTestSupport"]),
        .testTarget(name: "SRIOVJournalTests", dependencies: ["SRIOVJournal", "SRIOVCore", "SRIOVTestSupport"]),
        .testTarget(name: "SRIOVConfigTests", dependencies: ["SRIOVConfig", "SRIOVCore", "SRIOVTestSupport", "SRIOVSimulator"]),
        .testTarget(name: "SRIOVServiceTests",
                    dependencies: ["SRIOVService", "SRIOVRuntime", "SRIOVLeasing", "SRIOVCore", "SRIOVConfig", "SRIOVSimulator",
                                   "SRIOVTestSupport", "SRIOVClient",
                                   .product(name: "Hummingbird", package: "hummingbird"),
                                   .product(name: "HummingbirdTesting", package: "hummingbird"),
                                   .product(name: "NIOEmbedded", package: "swift-nio"),
                                   .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                                   .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                                   .product(name: "Logging", package: "swift-log"),
                                   .product(name: "Yams", package: "Yams")]),
        .testTarget(name: "SRIOVClientTests", dependencies: ["SRIOVClient", "SRIOVCore", "SRIOVLeasing", "SRIOVTestSupport"]),
        .testTarget(name: "SriovctlTests", dependencies: ["sriovctl", "SRIOVCore", "SRIOVSimulator", "SRIOVTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)

// Warnings are errors in the project's own targets (not in its dependencies): zero stays zero. Test
// targets are left out: with it, Swift Testing's own macro expansions (@Suite, @Test) raise warnings
// that are not ours to fix; the debug build still shows none of ours there.
for target in package.targets where target.type != .system && target.type != .test {
    target.swiftSettings = (target.swiftSettings ?? []) + [.treatAllWarnings(as: .error)]
}

// sriovctl is a short-lived CLI, run once per operation from scripts, so its start-up is its cost
// (Docs/Performance.md, "the start-up of a `vf set` process"). Built with --static-swift-stdlib (what
// `.ci/run` ships and the kernel lane runs) and SRIOVCTL_STATIC_EXECUTABLE=1 in the environment, it is
// linked as a static executable: no dynamic loader, whose symbol lookups for libstdc++ cost ~2.8M
// instructions per start, more than the rest of a `vf set` through sriovd. Only then: a static
// executable needs every module compiled against the static Swift libraries (--static-swift-stdlib
// does that). It is linked with lld, which does not repeat glibc's link-time notes that NSS and dlopen
// calls inside the toolchain's own archives (CoreFoundation, swiftCore) need glibc's shared libraries
// at run time (sriovctl makes no NSS lookups; gold printed ~25 such warnings per build). Otherwise
// sriovctl is linked non-PIE: the loader applies ~2,400 instead of ~82,000 relative relocations.
// sriovd, long-running and serving requests, stays a PIE.
var sriovctlLinking: [LinkerSetting] {
    if Context.environment["SRIOVCTL_STATIC_EXECUTABLE"] == "1" {
        return [.unsafeFlags(["-static-executable", "-use-ld=lld"], .when(platforms: [.linux]))]
    }
    return [.unsafeFlags(["-Xclang-linker", "-no-pie"], .when(platforms: [.linux]))]
}
