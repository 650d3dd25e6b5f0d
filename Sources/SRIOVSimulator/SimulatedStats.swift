#if canImport(Glibc)
import Glibc
#endif
import SRIOVCore
import SRIOVSysfs

/// The simulated kernel's VF counters (IFLA_VF_STATS): `netlink/<pf>.stats` beside the PF's link table,
/// one line per VF whose counters were set (`vf <index> <rx_packets> <tx_packets> <rx_bytes> <tx_bytes>
/// <broadcast> <multicast> <rx_dropped> <tx_dropped>`, `-` for a counter the driver does not report).
/// A VF without a line reads as every counter 0, as a kernel reports a VF that has moved nothing (or
/// whose driver has no `ndo_get_vf_stats`). Counters change only when set (`setVFStats`), so tests and
/// benchmarks see exactly the numbers they put there; a VF-count change clears them, as the kernel's
/// new VFs start from 0.
extension SimulatedHost {
    func statsPath(_ name: String) -> String { linksDirectory + "/" + name + ".stats" }

    /// Equivalent to: `ip -s -d link show <pf>` on the simulated host: one read of the PF's table and
    /// of its counters file.
    public func readVFStats(pf: InterfaceName) async throws(SRIOVError) -> VFStatsReadout {
        guard let link = try loadLink(pf.name) else {
            throw SRIOVError(.notFound, "no network interface named \(pf) in this network namespace; `ip link` lists them", cause: .errno(Errno.ENODEV))
        }
        let set = try loadStats(pf.name)
        var counters: [Int: VFCounters] = [:]
        counters.reserveCapacity(link.vfs.count)
        for vf in link.vfs { counters[vf.index] = set[vf.index] ?? .zero }
        return VFStatsReadout(interface: pf, numVFs: link.vfs.count, counters: counters)
    }

    /// Sets one VF's counters (what traffic through it would have done): for tests and benchmarks.
    public func setVFStats(_ counters: VFCounters, vf: Int, pf: InterfaceName) throws(SRIOVError) {
        try withLinksLock { () throws(SRIOVError) in
            guard let link = try loadLink(pf.name) else {
                throw SRIOVError(.notFound, "no network interface named \(pf)", cause: .errno(Errno.ENODEV))
            }
            guard link.vfs.contains(where: { $0.index == vf }) else {
                throw SRIOVError(.notFound, "\(pf) has no VF \(vf)", cause: .errno(Errno.EINVAL))
            }
            var all = try loadStats(pf.name)
            all[vf] = counters
            try writeStats(pf.name, all)
        }
    }

    func loadStats(_ name: String) throws(SRIOVError) -> [Int: VFCounters] {
        let path = statsPath(name)
        guard case .success(let text) = FileSystem.readResult(path) else { return [:] }
        var all: [Int: VFCounters] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let f = line.split(separator: " ")
            guard f.count == 10, f[0] == "vf", let index = Int(f[1]) else {
                throw SRIOVError(.corrupt, "\(path) is damaged (\(Quote.shell(String(line)))); delete it to reset the counters")
            }
            var c = VFCounters.unreported
            for (field, text) in zip(VFCounters.Field.allCases, f[2...]) where text != "-" {
                guard let value = UInt64(text) else {
                    throw SRIOVError(.corrupt, "\(path) is damaged (\(Quote.shell(String(line)))); delete it to reset the counters")
                }
                c[field] = value
            }
            all[index] = c
        }
        return all
    }

    /// Written whole to a temporary file and renamed over the old one: a reader sees one or the other.
    func writeStats(_ name: String, _ all: [Int: VFCounters]) throws(SRIOVError) {
        var text = "# sriovd simulated VF counters v1: vf <index> rx_packets tx_packets rx_bytes tx_bytes broadcast multicast rx_dropped tx_dropped\n"
        for index in all.keys.sorted() {
            guard let c = all[index] else { continue }
            text += "vf \(index) " + VFCounters.Field.allCases.map { c[$0].map(String.init) ?? "-" }.joined(separator: " ") + "\n"
        }
        let path = statsPath(name)
        let tmp = path + ".tmp"
        let fd = Glibc.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SRIOVError(.io, "simulator: cannot write \(tmp): \(Errno.name(errno))", cause: .errno(errno)) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count else { throw SRIOVError(.io, "simulator: short write to \(tmp)", cause: .errno(errno)) }
        guard rename(tmp, path) == 0 else {
            throw SRIOVError(.io, "simulator: cannot replace \(path): \(Errno.name(errno))", cause: .errno(errno))
        }
    }

    /// The PF's VFs were made again (VF count change): their counters start from 0.
    func clearStats(_ name: String) {
        Glibc.unlink(statsPath(name))
    }
}
