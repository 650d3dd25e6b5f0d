/// Changes a PF's VF count the way the kernel allows: through 0 between non-zero counts,
/// `sriov_drivers_autoprobe` first when asked, then waits for the VFs to appear. Works through the
/// seams only, so the real sysfs, the simulator and the in-memory fake host share these rules.
public struct NumVFsChange: Sendable {
    public let source: any HostInventorySource
    public let control: any PCIDeviceControl
    public let clock: any Clock<Duration>
    public var pollInterval: Duration = .milliseconds(50)

    public init(source: any HostInventorySource, control: any PCIDeviceControl,
                clock: any Clock<Duration> = ContinuousClock()) {
        self.source = source
        self.control = control
        self.clock = clock
    }

    public struct Outcome: Sendable, Equatable {
        public var before: Int
        public var after: Int

        public init(before: Int, after: Int) {
            self.before = before
            self.after = after
        }
    }

    /// Kernel interface: `/sys/bus/pci/devices/<pf>/sriov_numvfs` and `sriov_drivers_autoprobe`
    /// (netdevsim: `/sys/bus/netdevsim/devices/netdevsim<N>/sriov_numvfs`).
    public func run(_ target: PFTarget, to count: Int, autoprobe: Bool?, force: Bool, timeout: Duration,
                    progress: @Sendable (String) -> Void) async throws(SRIOVError) -> Outcome {
        try target.checkWritable(force: force, action: "change the VF count")
        guard count >= 0 else {
            throw SRIOVError(.invalidArgument, "invalid VF count \(count): it must be 0 or more")
        }
        if let total = target.totalVFs, count > total {
            throw SRIOVError(.invalidArgument, "\(target.label): cannot create \(count) VFs: the PF supports at most \(total) (sriov_totalvfs); the kernel would answer ERANGE")
        }
        let before = try currentCount(target)
        if count != before, before > 0, !force, let pf = target.pf {
            // Going through 0 removes every VF: never yank a VF from under a VM.
            let inUse = pf.vfs.filter { $0.driver == "vfio-pci" }
            if let first = inUse.first {
                throw SRIOVError(.busy, "\(target.label): cannot change the VF count from \(before) to \(count): VF \(first.index) (\(first.pciAddress))\(inUse.count > 1 ? " and \(inUse.count - 1) more" : "") is bound to vfio-pci and probably assigned to a VM, and every VF is removed on the way; release it first or pass --force")
            }
        }
        if let autoprobe {
            guard case .pci(let address) = target.device else {
                throw SRIOVError(.unsupported, "\(target.label) has no sriov_drivers_autoprobe (not a PCI PF); drop --autoprobe")
            }
            try control.writeDriversAutoprobe(autoprobe, pf: address)
        }
        if count == before {
            progress("\(target.label): already has \(count) VFs" + (autoprobe != nil && count > 0 ? "; autoprobe applies to VFs created from now on" : ""))
            return Outcome(before: before, after: before)
        }
        if before != 0 {
            progress("\(target.label): removing \(before) VFs (the kernel only changes the count through 0)")
            try write(0, target)
            try await wait(target, for: 0, timeout: timeout, progress: progress)
        }
        if count > 0 {
            progress("\(target.label): creating \(count) VFs")
            do throws(SRIOVError) {
                try write(count, target)
            } catch {
                throw await restore(before, after: error, target: target, timeout: timeout, progress: progress)
            }
            try await wait(target, for: count, timeout: timeout, progress: progress)
        }
        let after = try currentCount(target)
        if after < count {
            throw SRIOVError(.kernelRefused, "\(target.label): asked for \(count) VFs but the driver enabled \(after); it ran out of resources (MSI-X vectors, queues or firmware NUM_OF_VFS): check dmesg, raise the firmware limit, or ask for fewer")
        }
        return Outcome(before: before, after: after)
    }

    /// The new count was refused after the old VFs were removed: put the old count back, and say
    /// plainly what the PF has now.
    func restore(_ before: Int, after error: SRIOVError, target: PFTarget, timeout: Duration,
                 progress: @Sendable (String) -> Void) async -> SRIOVError {
        guard before > 0 else { return error }
        progress("\(target.label): restoring the previous \(before) VFs")
        do throws(SRIOVError) {
            try write(before, target)
            try await wait(target, for: before, timeout: timeout, progress: progress)
            return SRIOVError(error.code, error.message + "; the previous \(before) VFs were restored (new VFs, so leases and settings on them are gone)", cause: error.cause)
        } catch {
            let now = (try? currentCount(target)) ?? 0
            return SRIOVError(error.code, error.message + "; the PF now has \(now) VFs (had \(before)): restoring them failed too", cause: error.cause)
        }
    }

    /// Kernel interface: `sriov_numvfs` of a PCI PF or a netdevsim device (`PCIDeviceControl.writeNumVFs(_:device:)`).
    func write(_ count: Int, _ target: PFTarget) throws(SRIOVError) {
        do throws(SRIOVError) {
            try control.writeNumVFs(count, device: target.device)
        } catch {
            throw explain(error, count: count, target: target)
        }
    }

    /// The operator's reading of a refused `sriov_numvfs` write.
    func explain(_ error: SRIOVError, count: Int, target: PFTarget) -> SRIOVError {
        let why: String
        switch error.errno {
        case Errno.ENOENT?:
            why = "no driver is bound to the PF (the PF's driver creates VFs, ENOENT): load and bind it, e.g. `modprobe \(target.driver ?? "<driver>")`"
        case Errno.ERANGE?:
            why = "\(count) is above sriov_totalvfs\(target.totalVFs.map { " (\($0))" } ?? "") (ERANGE)"
        case Errno.EBUSY?:
            why = "the PF already has VFs (EBUSY); the count changes only through 0"
        case Errno.ENOSPC?:
            why = "not enough MSI-X vectors or PCI bus numbers for \(count) VFs (ENOSPC): ask for fewer, enable ARI/SR-IOV in the firmware, or boot with pci=realloc"
        case Errno.ENOMEM?:
            why = "the driver cannot allocate \(count) VFs (ENOMEM)" + (target.device.pciAddress == nil ? "; netdevsim allows at most debugfs max_vfs VFs" : "")
        case Errno.EINVAL?:
            why = "the driver rejects \(count) VFs (EINVAL)"
        default:
            return error
        }
        return SRIOVError(error.code == .io ? .kernelRefused : error.code,
                          "\(target.label): cannot set sriov_numvfs to \(count): \(why)", cause: error.cause)
    }

    /// Kernel interface: `sriov_numvfs` (`HostInventorySource.readNumVFs`).
    public func currentCount(_ target: PFTarget) throws(SRIOVError) -> Int {
        do throws(SRIOVError) {
            return try source.readNumVFs(target.device)
        } catch {
            throw SRIOVError(error.code, "\(target.label): \(error.message)", cause: error.cause)
        }
    }

    /// PCI VFs as `virtfnN` links with their device directories (`HostInventorySource.presentVFs`);
    /// netdevsim has no VF devices, so its count is `sriov_numvfs`.
    func presentVFs(_ target: PFTarget) throws(SRIOVError) -> Int {
        guard case .pci(let address) = target.device else { return try currentCount(target) }
        return source.presentVFs(of: address)
    }

    func wait(_ target: PFTarget, for count: Int, timeout: Duration, progress: @Sendable (String) -> Void) async throws(SRIOVError) {
        try await wait(target, for: count, timeout: timeout, clock: clock, progress: progress)
    }

    func wait<C: Clock>(_ target: PFTarget, for count: Int, timeout: Duration, clock: C,
                        progress: @Sendable (String) -> Void) async throws(SRIOVError) where C.Duration == Duration {
        let start = clock.now
        var lastReport = start
        while true {
            let present = try presentVFs(target)
            if present == count { return }
            let numvfs = try currentCount(target)
            // The driver enabled fewer than asked: sriov_numvfs says so once the links match it.
            if count > 0, numvfs < count, present == numvfs, numvfs > 0 || start.duration(to: clock.now) > .seconds(1) { return }
            if start.duration(to: clock.now) > timeout {
                throw SRIOVError(.timeout, "\(target.label): \(present) of \(count) VFs appeared within \(timeout); drivers can take over a minute for many VFs (mlx5: ~65 s for 125): check `sriovctl inventory` or retry with a longer --timeout")
            }
            if lastReport.duration(to: clock.now) >= .seconds(1) {
                progress("\(target.label): \(present)/\(count) VFs")
                lastReport = clock.now
            }
            do { try await clock.sleep(for: pollInterval, tolerance: nil) } catch {
                throw SRIOVError(.timeout, "\(target.label): cancelled while waiting for VFs")
            }
        }
    }
}
