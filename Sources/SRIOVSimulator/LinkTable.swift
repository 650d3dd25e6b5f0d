#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SRIOVCore
import SRIOVSysfs

/// What the simulated kernel would report over netlink: per PF netdev, its link and its VFs' settings.
/// Stored beside the simulated sysfs tree as `netlink/<ifname>.table`, one shared-memory table per PF
/// (`LinkTableFile`); the text form below is what older simulated hosts kept, read once to convert them.
public struct LinkTable: Codable, Sendable, Equatable {
    /// One PF netdev's link and its VFs' settings (also the in-memory fake host's netlink state).
    public struct PFLink: Codable, Sendable, Equatable {
        public var pf: PCIAddress
        public var up: Bool
        public var vfs: [VFState]

        public init(pf: PCIAddress, up: Bool, vfs: [VFState]) {
            self.pf = pf
            self.up = up
            self.vfs = vfs
        }
    }

    var pfs: [String: PFLink] = [:]
}

extension SimulatedHost {
    /// What the kernel would report over netlink: one shared-memory table per PF netdev
    /// (`netlink/<ifname>.table`, `LinkTableFile`).
    var linksDirectory: String { directory + "/netlink" }

    func tablePath(_ name: String) -> String { linksDirectory + "/" + name + ".table" }

    /// One PF's link and VFs (nil: no such netdev).
    func loadLink(_ name: String, migrate: Bool = true) throws(SRIOVError) -> LinkTable.PFLink? {
        if let table = try linkTables.table(tablePath(name)) { return table.read() }
        if migrate, try migrateLegacyLinks() { return try loadLink(name, migrate: false) }
        return nil
    }

    /// Every PF's link (for VF count changes and tests).
    func loadLinks() throws(SRIOVError) -> LinkTable {
        _ = try migrateLegacyLinks()
        var table = LinkTable()
        for file in FileSystem.list(linksDirectory) ?? [] where file.hasSuffix(".table") {
            let name = String(file.dropLast(".table".count))
            if let link = try loadLink(name, migrate: false) { table.pfs[name] = link }
        }
        return table
    }

    /// Writes one PF's state: the VFs that changed, each in place (a reader sees a VF before or after
    /// a change, never half of it); a new table when the PF's shape changed (VF count, link, address).
    /// Callers hold the links lock (VF settings) or the host lock (VF counts).
    func saveLink(_ name: String, _ link: LinkTable.PFLink) throws(SRIOVError) {
        let path = tablePath(name)
        let table = try linkTables.table(path)
        if let table, table.fits(link) {
            table.write(link)
            return
        }
        // New VFs (a VF count change, or a new PF): their counters start from 0.
        if table?.vfCount != link.vfs.count { clearStats(name) }
        try linkTables.replace(path, with: link)
    }

    /// Writes the PFs of `links` (only what differs from their tables: `saveLink`), and removes the
    /// tables of PFs it no longer has.
    func saveLinks(_ links: LinkTable) throws(SRIOVError) {
        try tree.mkdirs("netlink")
        for name in links.pfs.keys.sorted() {
            guard let link = links.pfs[name] else { continue }
            try saveLink(name, link)
        }
        for file in FileSystem.list(linksDirectory) ?? [] where file.hasSuffix(".table") {
            let name = String(file.dropLast(".table".count))
            if links.pfs[name] == nil {
                linkTables.remove(tablePath(name))
                clearStats(name)
            }
        }
    }

    /// Simulated hosts made before the tables kept this state as text: per PF in `netlink/<pf>.state`,
    /// before that in one `netlink.state`, and before that in `netlink.json`. Converted once. True if
    /// there was any.
    func migrateLegacyLinks() throws(SRIOVError) -> Bool {
        let lines = directory + "/netlink.state"
        let legacy = directory + "/netlink.json"
        var table = LinkTable()
        var found: [String] = []
        if case .success(let text) = FileSystem.readResult(lines) {
            guard let t = LinkTable(text: text) else {
                throw SRIOVError(.corrupt, "\(lines) is damaged; delete \(directory) to rebuild the simulated host")
            }
            table = t
            found.append(lines)
        } else if case .success(let text) = FileSystem.readResult(legacy) {
            guard let t = try? JSONDecoder().decode(LinkTable.self, from: Data(text.utf8)) else {
                throw SRIOVError(.corrupt, "\(legacy) is damaged; delete \(directory) to rebuild the simulated host")
            }
            table = t
            found.append(legacy)
        }
        for file in FileSystem.list(linksDirectory) ?? [] where file.hasSuffix(".state") {
            let path = linksDirectory + "/" + file
            guard case .success(let text) = FileSystem.readResult(path) else { continue }
            guard let t = LinkTable(text: text), t.pfs.count == 1 else {
                throw SRIOVError(.corrupt, "\(path) is damaged; delete \(directory) to rebuild the simulated host")
            }
            table.pfs.merge(t.pfs) { _, perPF in perPF }
            found.append(path)
        }
        guard !found.isEmpty else { return false }
        try tree.mkdirs("netlink")
        for name in table.pfs.keys.sorted() {
            guard let link = table.pfs[name] else { continue }
            try linkTables.replace(tablePath(name), with: link)
        }
        for path in found { unlink(path) }
        return true
    }
}

extension LinkTable {
    static let header = "# sriovd simulated netlink state v1: pf <ifname> <pci> up|down; vf <index> <mac> <vlan> <qos> <proto> <spoofchk> <trust> <state> <min> <max> <query_rss>"

    /// `pf ens1f0 0000:3b:00.0 up` then `vf 0 00:00:00:00:00:00 0 0 802.1Q 1 0 auto 0 0 0` lines;
    /// `-` for a setting the driver does not report.
    var text: String {
        LinkTable.header + "\n" + pfs.keys.sorted().compactMap { name in pfs[name].map { LinkTable.render(name, $0) } }.joined()
    }

    static func render(_ name: String, _ pf: PFLink) -> String {
        render(name: name, pf) + pf.vfs.map(render(vf:)).joined()
    }

    /// The PF's own line.
    static func render(name: String, _ pf: PFLink) -> String {
        "pf \(name) \(pf.pf) \(pf.up ? "up" : "down")\n"
    }

    /// One VF's line.
    static func render(vf v: VFState) -> String {
        func flag(_ b: Bool?) -> String { b.map { $0 ? "1" : "0" } ?? "-" }
        return "vf \(v.index) \(v.mac) \(v.vlan.id) \(v.vlan.qos) \(v.vlan.proto.rawValue) \(flag(v.spoofCheck)) \(flag(v.trust)) \(v.linkState?.rawValue ?? "-") \(v.minTxRate) \(v.maxTxRate) \(flag(v.queryRSS))\n"
    }

    init?(text: String) {
        self.init()
        var current: String?
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let f = line.split(separator: " ").map(String.init)
            func flag(_ s: String) -> Bool?? { s == "-" ? .some(nil) : s == "1" ? .some(true) : s == "0" ? .some(false) : nil }
            if f.first == "pf", f.count == 4, let address = PCIAddress(f[2]) {
                pfs[f[1]] = PFLink(pf: address, up: f[3] == "up", vfs: [])
                current = f[1]
            } else if f.first == "vf", f.count == 12, let pf = current, let index = Int(f[1]), let mac = MACAddress(f[2]),
                      let id = Int(f[3]), let qos = Int(f[4]), let proto = VLANProtocol(rawValue: f[5]),
                      let vlan = try? VLAN(id: id, qos: qos, proto: proto),
                      let spoof = flag(f[6]), let trust = flag(f[7]), let rss = flag(f[11]),
                      let min = UInt32(f[9]), let max = UInt32(f[10]) {
                let state: VFLinkState? = f[8] == "-" ? nil : VFLinkState(rawValue: f[8])
                if f[8] != "-" && state == nil { return nil }
                pfs[pf]?.vfs.append(VFState(index: index, mac: mac, vlan: vlan, spoofCheck: spoof, trust: trust,
                                            linkState: state, minTxRate: min, maxTxRate: max, queryRSS: rss))
            } else {
                return nil
            }
        }
    }
}
