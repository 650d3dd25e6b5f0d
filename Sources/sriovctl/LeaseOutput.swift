import ArgumentParser
import Foundation
import SRIOVCore
import SRIOVLeasing

/// A lease as `--json` prints it: the lease and its attach specs.
enum LeaseText {
    static func time(_ t: Double?) -> String {
        guard let t else { return "-" }
        let date = Date(timeIntervalSince1970: t)
        let f = ISO8601DateFormatter()
        return f.string(from: date)
    }

    static func summary(_ lease: Lease) -> String {
        var lines = ["lease \(lease.id)  owner \(lease.owner)  pool \(lease.pool)  \(state(lease))  expires \(time(lease.expiresAt))"]
        if let consumer = lease.request.consumer { lines.append("consumer \(consumer)") }
        var table = Table(["VF", "PF", "INDEX", "IOMMU", "VFIO", "MAC", "VLAN"])
        for vf in lease.vfs {
            table.add([vf.pciAddress.description, vf.pfInterface?.name ?? vf.pf.description, "\(vf.index)",
                       vf.iommuGroup.map(String.init) ?? "-", vf.vfioDevice ?? "-", vf.settings.mac?.description ?? "-",
                       vf.settings.vlan.map { $0.id == 0 ? "-" : "\($0.id)" } ?? "-"])
        }
        lines.append(table.render())
        for problem in lease.problems { lines.append("problem: \(problem)") }
        return lines.joined(separator: "\n")
    }

    /// `lease show --stats`: one row per VF, a counter the kernel did not report as "not reported", then
    /// each VF's note (why).
    static func stats(_ stats: LeaseStats) -> String {
        var lines = ["lease \(stats.lease)  owner \(stats.owner)  pool \(stats.pool)  counters read \(time(stats.readAt))"]
        var table = Table(["VF", "PF", "INDEX"] + VFCounters.Field.allCases.map { $0.label.uppercased() })
        for vf in stats.vfs {
            table.add([vf.pciAddress.description, vf.pf, "\(vf.index)"]
                      + VFCounters.Field.allCases.map { vf.counters[$0].map(String.init) ?? "not reported" })
        }
        lines.append(table.render())
        for vf in stats.vfs { if let note = vf.note { lines.append("\(vf.pciAddress): \(note)") } }
        return lines.joined(separator: "\n")
    }

    /// "active", or "active, drifted" / "active, lost" once a change the lease did not make was forced or found.
    static func state(_ lease: Lease) -> String {
        lease.state.rawValue + (lease.condition.map { ", \($0.rawValue)" } ?? "")
    }

    static func list(_ leases: [Lease]) -> String {
        guard !leases.isEmpty else { return "No leases." }
        var table = Table(["LEASE", "OWNER", "POOL", "STATE", "VFS", "EXPIRES"])
        for l in leases {
            table.add([l.id.description, l.owner, l.pool, state(l), l.vfs.map(\.pciAddress.description).joined(separator: ","), time(l.expiresAt)])
        }
        return table.render()
    }
}

enum TTLText {
    /// Parses 90, 90s, 15m, 1h, 2d or combinations such as 1h30m into seconds (1 s to 366 d).
    static func seconds(_ text: String) throws -> Int {
        let fail = ValidationError("invalid TTL \(Quote.shell(text)): use e.g. 90s, 15m, 1h, 2d or 1h30m (1s to 366d)")
        var total = 0
        var number = ""
        for ch in text {
            if ch.isASCII && ch.isNumber { number.append(ch); continue }
            guard let n = Int(number), let unit = ["s": 1, "m": 60, "h": 3600, "d": 86400][String(ch)] else { throw fail }
            total += n * unit
            number = ""
        }
        if !number.isEmpty {
            guard let n = Int(number) else { throw fail }
            total += n
        }
        guard total > 0, total <= 366 * 86400 else { throw fail }
        return total
    }
}
