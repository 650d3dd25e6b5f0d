// sriov-bench: reproducible benchmarks with a baseline side by side (see Docs/Performance.md).
// Build once in release mode: `swift build -c release --product sriov-bench`.
#if canImport(Glibc)
import Glibc
#endif
import SRIOVCore
import SRIOVNetlink
import SRIOVSimulator
import SRIOVSysfs

struct Options {
    var benchmark = "discovery"
    var pfs = 16
    var vfs = 256
    var iterations = 20
    /// tmpfs by default: sysfs lives in memory, and a disk file system's symlink cost would dominate.
    var dir = "/dev/shm/sriov-bench-host"
    var pf = ""
    var vf = 0
    var ip = "/usr/sbin/ip"
    /// `lease-floor --profile`: the per-step profile after the numbers.
    var profile = false
}

func usage() -> Never {
    print("""
    USAGE: sriov-bench discovery [--pfs N] [--vfs N] [--iterations N] [--dir DIR]
           sriov-bench netlink-set --pf IFNAME [--vf N] [--iterations N] [--ip PATH]
           sriov-bench lease-floor --pf IFNAME [--vf N] [--iterations N] [--profile]
           sriov-bench lease-engine --config FILE --state-dir DIR --pool NAME [--iterations N] [--profile]
           sriov-bench lease-cycles [--cycles N] [--concurrency 1,32] [--rate N] [--fsync on|off|both] [--pfs 4] [--vfs 64]
                                    [--state DIR] [--host DIR] [--samples FILE]
           sriov-bench metrics-scrape [--pfs 16] [--vfs 256] [--leases 1000] [--iterations 50] [--host DIR] [--state DIR]
           sriov-bench record-encode [--iterations N]
           sriov-bench host-events [--pfs 16] [--vfs 256] [--iterations 200] [--coalescing-ms 50] [--cycles 1000]
                                   [--concurrency 1,32] [--fsync on|off] [--host DIR] [--state DIR]
           sriov-bench daemon-prepare [--state-dir DIR] [--host-dir DIR] [--pfs N] [--vfs N]
           sriov-bench daemon-load [--socket PATH] [--clients N] [--cycles N] [--rate N]
                                   [--connection keep-alive|per-request] [--client raw|typed] [--samples FILE]
           sriov-bench http-roundtrip --socket PATH [--path /v1/leases] [--requests N]

    discovery  Full inventory (SysfsDiscovery) of a generated simulated host with N PFs x N VFs
               (default 16 x 256), against a baseline that only opens/reads every file and link
               discovery touches, with no parsing (the I/O floor). Target: median <= 150 ms.
    netlink-set  MAC + VLAN + spoofchk + trust on one VF of a real PF, in-process over libnl as the
               daemon does it (with and without read-back verification), against the same four
               settings as four `ip link set` processes. Needs root and a PF with VFs.
    lease-floor  the kernel's own cost of one lease cycle of a real VF (settings with read-back, bind
               to vfio-pci, unbind, scrub with read-back), in one process with no journal, book or
               API: the floor a lease cycle through sriovd is compared with. Needs root and a free VF.
               --profile: every host operation of the cycles by kind (calls per cycle, mean), as
               sriovd's /metrics names them, and the time outside them.
    lease-engine  the lease engine in this process on the real host (journal, book, checks; no API):
               acquire + release of one VF of a pool, between lease-floor and the API through
               sriovd. Needs root and a pool whose VFs are free. --profile: as lease-floor's, plus
               the journal's fsyncs; the rest is the engine's own work and its thread hand-offs.
    lease-cycles  acquire+release on the simulated host with the fsync'd journal, in-process; closed
               loop, or with --rate an open loop at N cycles/s offered (latency from when due).
    metrics-scrape  /metrics with every leased VF's counters (one read per PF, 8 samples per VF), uncached
               and within the 5 s cache, against the scrape without VF counters, in-process on a
               generated simulated host with N leases.
    host-events  time from a host event (a VF unbound or probed by another writer of the simulated
               host) to the engine's updated view, p50/p99, through the host watch; then lease
               cycles with the watch off and on, side by side.
    record-encode  one journal record of a 2-VF lease (lease.reserved) written N times by the
               journal's JSONWriter and by CompactJSONEncoder, against Foundation's JSONEncoder
               (the baseline; all three write the same bytes).
    daemon-prepare / daemon-load  a generated simulated host for `sriovd --simulated` (its tree on
               tmpfs), then N concurrent API clients on its Unix socket, each on one kept-alive
               connection: closed loop, or open loop with --rate (cycles/s offered in total, latency
               from each cycle's intended start). Benchmarks/daemon-load.sh runs both.
    http-roundtrip  one kept-alive GET (default /v1/leases) N times against sriovd on --socket and,
               with the same client, against a minimal responder it starts (one thread, blocking
               POSIX, a fixed answer): the round trip's floor, and what sriovd's HTTP stack, router
               and route add to each request.

    SRIOV_EMULATE_FSYNC_US=n (1-1000000) emulates a slower disk: every journal fsync (in sriov-bench,
    and in a sriovd that inherits it) and the printed fsync probe take at least n µs.
    """)
    exit(64)
}

func parse() -> Options {
    var o = Options()
    var args = CommandLine.arguments.dropFirst()
    guard let first = args.first, !first.hasPrefix("-") else { usage() }
    o.benchmark = first
    args = args.dropFirst()
    while let flag = args.first {
        args = args.dropFirst()
        if flag == "--profile" {
            o.profile = true
            continue
        }
        guard let value = args.first else { usage() }
        args = args.dropFirst()
        switch flag {
        case "--pfs": o.pfs = Int(value) ?? { usage() }()
        case "--vfs": o.vfs = Int(value) ?? { usage() }()
        case "--iterations": o.iterations = Int(value) ?? { usage() }()
        case "--dir": o.dir = value
        case "--pf": o.pf = value
        case "--vf": o.vf = Int(value) ?? { usage() }()
        case "--ip": o.ip = value
        default: usage()
        }
    }
    guard o.pfs > 0, o.vfs >= 0, o.iterations > 0 else { usage() }
    return o
}

struct Stats {
    var samples: [Double]
    func percentile(_ p: Double) -> Double {
        let s = samples.sorted()
        return s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
    }
    var summary: String {
        func f(_ v: Double) -> String { String(Double(Int(v * 10)) / 10) }
        return "min \(f(percentile(0))) ms  median \(f(percentile(0.5))) ms  p90 \(f(percentile(0.9))) ms  max \(f(percentile(1))) ms"
    }
}

func measure(_ iterations: Int, _ body: () throws -> Void) rethrows -> Stats {
    let clock = ContinuousClock()
    var samples: [Double] = []
    for _ in 0..<iterations {
        let d = try clock.measure(body)
        samples.append(Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
    }
    return Stats(samples: samples)
}

/// The I/O floor: for every PCI device, list its directory, read each regular file and each link
/// target one level deep; then list every IOMMU group. No parsing, no model.
func baseline(_ paths: HostPaths) -> Int {
    var touched = 0
    for name in FileSystem.list(paths.pciDevices) ?? [] {
        let dir = paths.pciDevices + "/" + name
        for entry in FileSystem.list(dir) ?? [] {
            let p = dir + "/" + entry
            if FileSystem.readLink(p) != nil { touched += 1 } else if FileSystem.read(p) != nil { touched += 1 }
        }
        for net in FileSystem.list(dir + "/net") ?? [] { touched += FileSystem.read(dir + "/net/\(net)/operstate") == nil ? 0 : 1 }
    }
    for group in FileSystem.list(paths.iommuGroups) ?? [] { touched += FileSystem.list(paths.iommuGroups + "/\(group)/devices")?.count ?? 0 }
    return touched
}

/// Starts a program (it inherits this process's open descriptors): its pid, or posix_spawn's error
/// number (`error` is 0 when it started).
func startProcess(_ argv: [String]) -> (pid: pid_t, error: Int32) {
    var pid: pid_t = 0
    var cArgs = argv.map { strdup($0) } + [nil]
    defer { for p in cArgs { free(p) } }
    let error = posix_spawn(&pid, argv[0], nil, nil, &cArgs, environ)
    return (pid, error)
}

/// Runs a program and waits for it; returns its exit status.
func spawn(_ argv: [String]) -> Int32 {
    let started = startProcess(argv)
    guard started.error == 0 else { return -1 }
    var status: Int32 = 0
    waitpid(started.pid, &status, 0)
    return status
}

func netlinkSet(_ options: Options) async throws {
    guard let pf = InterfaceName(options.pf) else {
        print("sriov-bench: --pf needs the PF's interface name")
        exit(64)
    }
    let link = NetlinkVFLink()
    let configurator = VFConfigurator(link: link)
    let target = VFConfigurator.Target(interface: pf, label: pf.name, driver: nil)
    let macs = [try MACAddress(parsing: "02:5b:00:00:00:01"), try MACAddress(parsing: "02:5b:00:00:00:02")]
    func settings(_ i: Int) throws -> VFSettings {
        VFSettings(mac: macs[i % 2], vlan: try VLAN(id: 100 + i % 2), spoofCheck: i % 2 == 0, trust: i % 2 == 1)
    }
    _ = try await link.readVFs(pf: pf) // open the socket outside the timing, as a running daemon has it
    let clock = ContinuousClock()
    var applyOnly: [Double] = []
    var verified: [Double] = []
    var processes: [Double] = []
    for i in 0..<options.iterations {
        let s = try settings(i)
        applyOnly.append(ms(try await clock.measure {
            for request in VFConfigurator.requests(for: s, current: nil) {
                try await link.apply(request, vf: options.vf, pf: pf)
            }
        }))
        verified.append(ms(try await clock.measure {
            _ = try await configurator.apply(try settings(i + 1), vf: options.vf, on: target)
        }))
        let vf = String(options.vf)
        processes.append(ms(clock.measure {
            _ = spawn([options.ip, "link", "set", pf.name, "vf", vf, "mac", macs[i % 2].description])
            _ = spawn([options.ip, "link", "set", pf.name, "vf", vf, "vlan", String(100 + i % 2)])
            _ = spawn([options.ip, "link", "set", pf.name, "vf", vf, "spoofchk", i % 2 == 0 ? "on" : "off"])
            _ = spawn([options.ip, "link", "set", pf.name, "vf", vf, "trust", i % 2 == 1 ? "on" : "off"])
        }))
    }
    let a = Stats(samples: applyOnly), v = Stats(samples: verified), p = Stats(samples: processes)
    print("netlink-set: \(pf) VF \(options.vf), MAC+VLAN+spoofchk+trust, \(options.iterations) iterations")
    print("netlink-set: in-process (4 RTM_SETLINK): \(a.summary)")
    print("netlink-set: in-process + read-back verify: \(v.summary)")
    print("netlink-set: four `ip link set` processes: \(p.summary)")
    let ratio = p.percentile(0.5) / max(a.percentile(0.5), 0.001)
    let ratioVerified = p.percentile(0.5) / max(v.percentile(0.5), 0.001)
    print("netlink-set: speedup (median) \(String(Double(Int(ratio * 10)) / 10))x, with verify \(String(Double(Int(ratioVerified * 10)) / 10))x")
}

if CommandLine.arguments.dropFirst().first == "journal-replay" { await journalReplay(CommandLine.arguments.dropFirst(2)) }
if CommandLine.arguments.dropFirst().first == "daemon-prepare" {
    daemonPrepare(CommandLine.arguments.dropFirst(2))
    exit(0)
}
if CommandLine.arguments.dropFirst().first == "daemon-load" {
    daemonLoad(CommandLine.arguments.dropFirst(2))
    exit(0)
}
if CommandLine.arguments.dropFirst().first == "http-roundtrip" {
    httpRoundTrip(CommandLine.arguments.dropFirst(2))
    exit(0)
}
if CommandLine.arguments.dropFirst().first == "http-responder" { httpResponder(CommandLine.arguments.dropFirst(2)) }
if CommandLine.arguments.dropFirst().first == "record-encode" {
    await recordEncode(CommandLine.arguments.dropFirst(2))
    exit(0)
}
if CommandLine.arguments.dropFirst().first == "metrics-scrape" {
    await metricsScrape(CommandLine.arguments.dropFirst(2))
    exit(0)
}
if CommandLine.arguments.dropFirst().first == "host-events" {
    await hostEvents(CommandLine.arguments.dropFirst(2))
    exit(0)
}
if CommandLine.arguments.dropFirst().first == "lease-engine" {
    await leaseEngine(CommandLine.arguments.dropFirst(2))
    exit(0)
}
if CommandLine.arguments.dropFirst().first == "lease-cycles" {
    await leaseCycles(CommandLine.arguments.dropFirst(2))
    exit(0)
}
let options = parse()
if options.benchmark == "lease-floor" {
    do throws(SRIOVError) {
        try await leaseFloor(options)
    } catch {
        print("sriov-bench: error: \(error.message)")
        exit(1)
    }
    exit(0)
}
if options.benchmark == "netlink-set" {
    do {
        try await netlinkSet(options)
    } catch let error as SRIOVError {
        print("sriov-bench: error: \(error.message)")
        exit(1)
    }
    exit(0)
}
guard options.benchmark == "discovery" else { usage() }
do {
    let clock = ContinuousClock()
    var host: SimulatedHost!
    let spec = SimulatedHostSpec.generated(pfCount: options.pfs, vfsPerPF: options.vfs)
    var reused = false
    let build = try clock.measure {
        if let existing = try? SimulatedHost.open(directory: options.dir), existing.spec == spec {
            host = existing
            reused = true
        } else {
            host = try SimulatedHost.create(directory: options.dir, spec: spec)
        }
    }
    let discovery = SysfsDiscovery(paths: host.paths)
    let inventory = try discovery.inventory()
    let vfCount = inventory.allVFs.count
    print("discovery benchmark: \(inventory.pfs.count) PFs (\(options.pfs) x \(options.vfs) VFs + management), \(vfCount) VFs, \(options.iterations) runs")
    print("  \(reused ? "reused the tree" : "generated the tree in \(build)") at \(options.dir)")
    _ = baseline(host.paths) // warm the dentry cache equally for both
    let ours = try measure(options.iterations) { _ = try discovery.inventory() }
    var touched = 0
    let floor = measure(options.iterations) { touched = baseline(host.paths) }
    print("  sriovd inventory (SysfsDiscovery): \(ours.summary)")
    print("  baseline, raw reads only (\(touched) files/links): \(floor.summary)")
    let median = ours.percentile(0.5)
    print("  target median <= 150 ms: \(median <= 150 ? "met" : "NOT met") (\(String(Double(Int(median * 10)) / 10)) ms)")
} catch let error as SRIOVError {
    print("sriov-bench: error: \(error.message)")
    exit(1)
}
