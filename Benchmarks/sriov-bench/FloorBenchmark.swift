#if canImport(Glibc)
import Glibc
#endif
import SRIOVCore
import SRIOVLeasing
import SRIOVNetlink
import SRIOVSysfs

/// `sriov-bench lease-floor --pf <ifname> --vf <n> [--iterations N]`: the kernel's own cost of one lease
/// cycle, the floor a lease cycle through sriovd is compared with (Docs/Performance.md). In one process,
/// with no journal, no book, no API: exactly the host operations the lease engine performs for a lease
/// of one VF with a MAC, a VLAN, spoof checking and trust, released with `on_release: leave-unbound`:
///
/// - acquire: read the PF's VF list (the settings saved before the lease), apply the four settings
///   and read them back (`VFConfigurator`, as the engine does), unbind the VF, `driver_override` =
///   vfio-pci, `drivers_probe`, and read the VF's driver, override and IOMMU group back;
/// - release: unbind from vfio-pci, clear `driver_override`, read the VF list, scrub what the lease
///   changed and read it back, and read the VF's driver and override back.
///
/// The VF must be free (not leased, not used by anyone): it ends each cycle unbound with its settings
/// scrubbed, as a released pool VF does. Needs root.
func leaseFloor(_ options: Options) async throws(SRIOVError) {
    guard let pf = InterfaceName(options.pf) else {
        print("sriov-bench lease-floor: --pf needs the PF's interface name")
        exit(64)
    }
    // The same host operations sriovd's host is made of, timed by kind with `--profile`.
    let profile = StepProfile()
    let raw = LeaseEngine.Host(source: SysfsDiscovery(), control: SysfsPCIControl(), link: NetlinkVFLink())
    let host = options.profile ? profile.wrap(raw) : raw
    let discovery = host.source
    let control = host.control
    let link = host.link
    let configurator = VFConfigurator(link: link)
    let target = VFConfigurator.Target(interface: pf, label: pf.name, driver: nil)
    guard let pfAddress = FileSystem.linkBasename("/sys/class/net/\(pf.name)/device").flatMap(PCIAddress.init),
          let vf = FileSystem.linkBasename("/sys/bus/pci/devices/\(pfAddress)/virtfn\(options.vf)").flatMap(PCIAddress.init) else {
        throw SRIOVError(.notFound, "\(pf) has no PCI VF \(options.vf) (/sys/class/net/\(pf)/device/virtfn\(options.vf)); create VFs first")
    }
    let settings = VFSettings(mac: try MACAddress(parsing: "02:5b:00:00:00:11"), vlan: try VLAN(id: 100), spoofCheck: true, trust: false)

    func acquire() async throws(SRIOVError) {
        let saved = try await link.readVFs(pf: pf)
        _ = try await configurator.apply(settings, vf: options.vf, on: target, before: saved)
        try control.rebind(vf, override: "vfio-pci")
        guard let now = try discovery.device(vf), now.driver == "vfio-pci", now.iommuGroup != nil else {
            throw SRIOVError(.kernelRefused, "\(vf) did not bind to vfio-pci")
        }
    }
    func release() async throws(SRIOVError) {
        try control.detach(vf)
        let current = try await link.readVFs(pf: pf)
        guard let state = current.vf(options.vf) else { throw SRIOVError(.notFound, "\(pf) VF \(options.vf) vanished") }
        var scrub = VFSettings()
        if state.mac != .zero { scrub.mac = .zero }
        if state.vlan != .none { scrub.vlan = VLAN.none }
        if state.spoofCheck == false { scrub.spoofCheck = true }
        if state.trust == true { scrub.trust = false }
        if !scrub.isEmpty {
            do throws(SRIOVError) {
                _ = try await configurator.apply(scrub, vf: options.vf, on: target, before: current)
            } catch where error.errno == Errno.EINVAL && scrub.mac == .zero {
                scrub.mac = .scrubPlaceholder // as the engine does for drivers that refuse the zero MAC
                _ = try await configurator.apply(scrub, vf: options.vf, on: target)
            }
        }
        guard let now = try discovery.device(vf), now.driver == nil, now.driverOverride == nil else {
            throw SRIOVError(.kernelRefused, "\(vf) is still bound after release")
        }
    }

    // One cycle outside the numbers: the netlink socket opens, as it is open in a running daemon.
    try await acquire()
    try await release()
    profile.reset()
    let clock = ContinuousClock()
    var acquires: [Double] = [], releases: [Double] = [], cycles: [Double] = []
    for _ in 0..<options.iterations {
        let t0 = clock.now
        try await acquire()
        let t1 = clock.now
        try await release()
        let t2 = clock.now
        acquires.append(ms(t1 - t0)); releases.append(ms(t2 - t1)); cycles.append(ms(t2 - t0))
    }
    print("lease-floor: \(pf) VF \(options.vf) (\(vf)), MAC+VLAN+spoofchk+trust, bind vfio-pci, release with scrub, \(options.iterations) cycles, one process, no bookkeeping")
    print("lease-floor: cycle: \(Stats(samples: cycles).summary)")
    print("lease-floor: acquire: \(Stats(samples: acquires).summary)")
    print("lease-floor: release: \(Stats(samples: releases).summary)")
    if options.profile {
        for line in profile.lines(cycles: options.iterations) { print("lease-floor: \(line)") }
        let total = cycles.reduce(0, +) / Double(cycles.count)
        let steps = profile.hostMilliseconds(cycles: options.iterations)
        print("lease-floor: per cycle (mean): \(f2(total)) ms, host operations \(f2(steps)) ms, the rest \(f2(total - steps)) ms")
    }
}
