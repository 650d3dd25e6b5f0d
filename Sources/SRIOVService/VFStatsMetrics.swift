import SRIOVCore
import SRIOVLeasing

/// The leased VFs' counters in `/metrics`: `sriovd_vf_<counter>_total{pool,lease,owner,pf,vf}`, read with
/// one RTM_GETLINK per PF that has a leased VF, at most once per `interval` (default 5 s, a common
/// scrape interval): scrapes within it get the same text, and scrapes that arrive while a read is under
/// way wait for that read rather than start another, so concurrent scrapers never multiply the kernel
/// requests. A lease released within the interval can still show until the next read.
///
/// A counter the kernel did not report has no sample (absent, never 0); each failed read of a PF counts
/// in `sriovd_vf_stats_read_errors_total{pf}`. Rendered here rather than as registry instruments: the
/// series come and go with leases, and a registry would keep a released lease's series for ever.
public actor VFStatsMetrics {
    public let interval: Duration
    private let clock = ContinuousClock()
    private var cached: (at: ContinuousClock.Instant, text: String)?
    private var inFlight: Task<String, Never>?
    private var readErrors: [String: Int] = [:]
    /// Reads made (each one RTM_GETLINK per PF with a leased VF), for tests and the benchmark.
    public private(set) var reads = 0

    /// `interval` zero reads at every scrape (the benchmark's uncached case).
    public init(interval: Duration = .seconds(5)) {
        self.interval = interval
    }

    /// The exposition text of the VF counters, read again only when the last read is older than `interval`.
    public func text(engine: LeaseEngine) async -> String {
        if let cached, clock.now < cached.at.advanced(by: interval) { return cached.text }
        if let inFlight { return await inFlight.value }
        let task = Task { await self.refresh(engine) }
        inFlight = task
        return await task.value
    }

    private func refresh(_ engine: LeaseEngine) async -> String {
        let (leases, readouts) = await engine.leasedVFStats()
        reads += 1
        for (pf, result) in readouts { if case .failure = result { readErrors[pf.name, default: 0] += 1 } }
        var text = Self.render(leases: leases, readouts: readouts)
        if !readErrors.isEmpty {
            text += "# HELP sriovd_vf_stats_read_errors_total Reads of a PF's VF counters (RTM_GETLINK) that failed.\n"
            text += "# TYPE sriovd_vf_stats_read_errors_total counter\n"
            for pf in readErrors.keys.sorted() {
                text += "sriovd_vf_stats_read_errors_total{pf=\"\(Self.escape(pf))\"} \(readErrors[pf] ?? 0)\n"
            }
        }
        cached = (clock.now, text)
        inFlight = nil
        return text
    }

    static let help: [VFCounters.Field: String] = [
        .rxPackets: "Packets received by a leased VF (IFLA_VF_STATS_RX_PACKETS).",
        .txPackets: "Packets sent by a leased VF (IFLA_VF_STATS_TX_PACKETS).",
        .rxBytes: "Bytes received by a leased VF (IFLA_VF_STATS_RX_BYTES).",
        .txBytes: "Bytes sent by a leased VF (IFLA_VF_STATS_TX_BYTES).",
        .broadcast: "Broadcast packets received by a leased VF (IFLA_VF_STATS_BROADCAST).",
        .multicast: "Multicast packets received by a leased VF (IFLA_VF_STATS_MULTICAST).",
        .rxDropped: "Received packets a leased VF dropped (IFLA_VF_STATS_RX_DROPPED).",
        .txDropped: "Packets to send a leased VF dropped (IFLA_VF_STATS_TX_DROPPED).",
    ]

    /// Prometheus text format 0.0.4, each family's samples together, leases in id order.
    public static func render(leases: [Lease], readouts: LeaseStatsReader.Readouts) -> String {
        var rows: [(labels: String, counters: VFCounters)] = []
        rows.reserveCapacity(leases.count)
        for lease in leases.sorted(by: { $0.id < $1.id }) {
            let common = "pool=\"\(escape(lease.pool))\",lease=\"\(lease.id)\",owner=\"\(escape(lease.owner))\""
            for vf in lease.vfs {
                let (counters, _) = LeaseStatsReader.counters(of: vf, in: readouts)
                guard counters != .unreported else { continue }
                let pf = vf.pfInterface?.name ?? vf.pf.description
                rows.append(("{" + common + ",pf=\"\(escape(pf))\",vf=\"\(vf.index)\"} ", counters))
            }
        }
        guard !rows.isEmpty else { return "" }
        var text = ""
        text.reserveCapacity(rows.count * 8 * 130)
        for field in VFCounters.Field.allCases {
            text += "# HELP \(field.metricName) \(help[field] ?? "")\n# TYPE \(field.metricName) counter\n"
            for row in rows {
                guard let value = row.counters[field] else { continue }
                text += field.metricName
                text += row.labels
                text += String(value)
                text += "\n"
            }
        }
        return text
    }

    /// A label value as the text format wants it: backslash, double quote and newline escaped.
    static func escape(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == 0x5c || $0 == 0x22 || $0 == 0x0a }) else { return value }
        var out = ""
        for ch in value {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(ch)
            }
        }
        return out
    }
}
