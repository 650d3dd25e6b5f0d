// sriov-bench: reproducible benchmarks with a baseline side by side (see Docs/Performance.md).
// Build once in release mode: `swift build -c release --product sriov-bench`.
#if canImport(Glibc)
import Glibc
#endif
import SRIOVCore
import SRIOVSimulator
import SRIOVSysfs

struct Options {
    var benchmark = "discovery"
    var pfs = 16
    var vfs = 256
    var iterations = 20
    /// tmpfs by default: sysfs lives in memory, and a disk file system's symlink cost would dominate.
    var dir = "/dev/shm/sriov-bench-host"
}

func usage() -> Never {
    print("""
    USAGE: sriov-bench discovery [--pfs N] [--vfs N] [--iterations N] [--dir DIR]

    discovery  Full inventory (SysfsDiscovery) of a generated simulated host with N PFs x N VFs
               (default 16 x 256), against a baseline that only opens/reads every file and link
               discovery touches, with no parsing (the I/O floor). Target: median <= 150 ms.
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
        guard let value = args.first else { usage() }
        args = args.dropFirst()
        switch flag {
        case "--pfs": o.pfs = Int(value) ?? { usage() }()
        case "--vfs": o.vfs = Int(value) ?? { usage() }()
        case "--iterations": o.iterations = Int(value) ?? { usage() }()
        case "--dir": o.dir = value
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

let options = parse()
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
