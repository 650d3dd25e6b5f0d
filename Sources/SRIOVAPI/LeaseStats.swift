import SRIOVCore

/// `GET /v1/leases/{id}/stats` and `sriovctl lease show <id> --stats`: each VF's traffic counters
/// (IFLA_VF_STATS), read from its PF at the time of the call (one RTM_GETLINK per PF of the lease).
public struct LeaseStats: Codable, Sendable, Equatable {
    public var lease: LeaseID
    public var owner: String
    public var pool: String
    /// When the counters were read (Unix seconds).
    public var readAt: Double
    public var vfs: [VF]

    /// One VF of the lease and its counters; a counter that is null was not reported (never 0 for that).
    public struct VF: Codable, Sendable, Equatable {
        public var pciAddress: PCIAddress
        /// The PF's netdev (or its PCI address when it has none).
        public var pf: String
        public var index: Int
        public var counters: VFCounters
        /// Why some or all counters are not reported; absent when every one is.
        public var note: String?

        public init(pciAddress: PCIAddress, pf: String, index: Int, counters: VFCounters, note: String?) {
            self.pciAddress = pciAddress
            self.pf = pf
            self.index = index
            self.counters = counters
            self.note = note
        }
    }

    public init(lease: LeaseID, owner: String, pool: String, readAt: Double, vfs: [VF]) {
        self.lease = lease
        self.owner = owner
        self.pool = pool
        self.readAt = readAt
        self.vfs = vfs
    }
}

/// Reads leased VFs' counters: one RTM_GETLINK per PF, whatever the number of VFs (or leases) on it.
public enum LeaseStatsReader {
    public typealias Readouts = [InterfaceName: Result<VFStatsReadout, SRIOVError>]

    /// Each PF read once, in name order; a PF that cannot be read keeps its error (its VFs are then
    /// "not reported", with the reason), the others are still read.
    public static func read(_ pfs: some Sequence<InterfaceName>, link: any VFLinkControl) async -> Readouts {
        var readouts: Readouts = [:]
        for pf in Set(pfs).sorted() {
            do { readouts[pf] = .success(try await link.readVFStats(pf: pf)) } catch { readouts[pf] = .failure(error) }
        }
        return readouts
    }

    /// The PFs a set of leases needs read.
    public static func interfaces(of leases: [Lease]) -> Set<InterfaceName> {
        var pfs = Set<InterfaceName>()
        for lease in leases { for vf in lease.vfs { if let pf = vf.pfInterface { pfs.insert(pf) } } }
        return pfs
    }

    /// One VF's counters out of the readouts, with the reason when some are not reported.
    public static func counters(of vf: LeasedVF, in readouts: Readouts) -> (counters: VFCounters, note: String?) {
        guard let pf = vf.pfInterface else {
            return (.unreported, "its PF \(vf.pf) has no network interface: no netlink counters")
        }
        switch readouts[pf] {
        case nil:
            return (.unreported, "\(pf) was not read")
        case .failure(let error):
            return (.unreported, "reading \(pf) failed: \(error.message)")
        case .success(let readout):
            guard let counters = readout.counters[vf.index] else {
                return (.unreported, readout.missing.contains(vf.index)
                    ? "the kernel's RTM_GETLINK reply for \(pf) left VF \(vf.index) out (\(readout.counters.count) of \(readout.numVFs) VFs reported)"
                    : "\(pf) has no VF \(vf.index) now (IFLA_NUM_VF \(readout.numVFs))")
            }
            if counters == .unreported { return (counters, "the kernel sent no IFLA_VF_STATS for this VF") }
            let absent = VFCounters.Field.allCases.filter { counters[$0] == nil }
            guard !absent.isEmpty else { return (counters, nil) }
            return (counters, "the kernel did not report " + absent.map(\.label).joined(separator: ", "))
        }
    }

    public static func stats(of lease: Lease, readouts: Readouts, at time: Double) -> LeaseStats {
        let vfs = lease.vfs.map { vf in
            let (counters, note) = counters(of: vf, in: readouts)
            return LeaseStats.VF(pciAddress: vf.pciAddress, pf: vf.pfInterface?.name ?? vf.pf.description, index: vf.index,
                                 counters: counters, note: note)
        }
        return LeaseStats(lease: lease.id, owner: lease.owner, pool: lease.pool, readAt: time, vfs: vfs)
    }
}
