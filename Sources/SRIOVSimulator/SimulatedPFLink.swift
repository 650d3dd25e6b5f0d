import SRIOVCore
import SRIOVSysfs

extension SimulatedHost {
    /// The PF's cable is plugged in or pulled: `carrier` and `operstate` in the tree and the link flag of
    /// its netlink table change together, as the kernel's would (the PF stays admin-up). For tests and
    /// the guide; the shell equivalent is writing `0`/`1` to the tree's `sys/class/net/<pf>/carrier`
    /// and `down`/`up` to `operstate` (Docs/Simulator.md).
    ///
    /// Kernel interface (simulated): `/sys/class/net/<pf>/{carrier,operstate}`, IFLA_OPERSTATE.
    public func setCarrier(_ interface: InterfaceName, up: Bool) throws(SRIOVError) {
        try withLock { () throws(SRIOVError) in
            guard var link = try loadLink(interface.name) else {
                throw SRIOVError(.notFound, "no network interface named \(interface) on the simulated host; `sriovctl --simulated inventory` lists the PFs",
                                 cause: .errno(Errno.ENODEV))
            }
            let dir = "sys/class/net/" + interface.name
            guard FileSystem.entryExists(tree.path(dir)) else {
                throw SRIOVError(.notFound, "\(interface) has no netdev on the simulated host (its PF driver is unbound)", cause: .errno(Errno.ENODEV))
            }
            try tree.write(dir + "/carrier", up ? "1\n" : "0\n")
            try tree.write(dir + "/operstate", up ? "up\n" : "down\n")
            link.up = up
            try saveLink(interface.name, link)
        }
        // As the kernel's RTM_NEWLINK with the new operstate and carrier (events.log).
        SimulatedEventLog.append(directory, [SimulatedEventLog.link(up: up, interface.name)])
    }
}
