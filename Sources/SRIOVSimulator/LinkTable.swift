#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SRIOVCore
import SRIOVSysfs
import Synchronization

/// The PF link files this process last read or wrote, each keyed by the file's inode, size and mtime:
/// a write replaces the file (new inode), so another process's change is always seen, and an
/// unchanged file is not decoded again.
final class LinkTableCache: Sendable {
    struct Key: Equatable { var inode: UInt64; var size: Int64; var mtime: Int64 }
    /// Per PF, its two newest links: a reader that stat'ed the file just before a writer replaced it
    /// still finds the one it saw (host operations run concurrently; a miss decodes every VF's line).
    private let state = Mutex<[String: [(Key, LinkTable.PFLink)]]>([:])

    func get(_ name: String, _ key: Key) -> LinkTable.PFLink? {
        state.withLock { entries in entries[name]?.first { $0.0 == key }?.1 }
    }

    func put(_ name: String, _ key: Key, _ link: LinkTable.PFLink) {
        state.withLock { entries in
            var list = entries[name] ?? []
            list.removeAll { $0.0 == key }
            list.insert((key, link), at: 0)
            if list.count > 2 { list.removeLast() }
            entries[name] = list
        }
    }

    /// Each PF's lines as last rendered: a VF setting changes one VF of one PF, so only that VF's line
    /// is rendered again.
    private struct Section {
        var pf: LinkTable.PFLink
        var lines: [String]
        var text: String
    }
    private let sections = Mutex<[String: Section]>([:])

    /// The PF's file: the header, its `pf` line and its `vf` lines.
    func render(_ name: String, _ pf: LinkTable.PFLink) -> String {
        sections.withLock { cache in
            var section: Section
            if let old = cache[name], old.pf == pf {
                section = old
            } else if let old = cache[name], old.pf.pf == pf.pf, old.pf.up == pf.up, old.pf.vfs.count == pf.vfs.count {
                section = old
                for i in pf.vfs.indices where pf.vfs[i] != old.pf.vfs[i] { section.lines[i] = LinkTable.render(vf: pf.vfs[i]) }
                section.pf = pf
                section.text = LinkTable.render(name: name, pf) + section.lines.joined()
            } else {
                let lines = pf.vfs.map(LinkTable.render(vf:))
                section = Section(pf: pf, lines: lines, text: LinkTable.render(name: name, pf) + lines.joined())
            }
            cache[name] = section
            return LinkTable.header + "\n" + section.text
        }
    }

    static func key(_ path: String) -> Key? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Key(inode: UInt64(st.st_ino), size: Int64(st.st_size),
                   mtime: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec))
    }
}

/// What the simulated kernel would report over netlink: per PF netdev, its link and its VFs' settings.
/// Stored beside the simulated sysfs tree as `netlink/<ifname>.state`, one file per PF (a VF setting
/// rewrites only its PF's file).
struct LinkTable: Codable, Sendable, Equatable {
    struct PFLink: Codable, Sendable, Equatable {
        var pf: PCIAddress
        var up: Bool
        var vfs: [VFState]
    }

    var pfs: [String: PFLink] = [:]
}

extension SimulatedHost {
    /// What the kernel would report over netlink, one line per PF and per VF (a line format rather than
    /// JSON: every VF setting rewrites its PF's file, and it must stay cheap at hundreds of VFs).
    var linksDirectory: String { directory + "/netlink" }

    func linkPath(_ name: String) -> String { linksDirectory + "/" + name + ".state" }

    /// One PF's link and VFs (nil: no such netdev).
    func loadLink(_ name: String, migrate: Bool = true) throws(SRIOVError) -> LinkTable.PFLink? {
        let path = linkPath(name)
        guard let key = LinkTableCache.key(path) else {
            if migrate, try migrateLegacyLinks() { return try loadLink(name, migrate: false) }
            return nil
        }
        if let cached = linkCache.get(name, key) { return cached }
        switch FileSystem.readResult(path) {
        case .failure(let e): throw e
        case .success(let text):
            guard let table = LinkTable(text: text), table.pfs.count == 1, let link = table.pfs[name] else {
                throw SRIOVError(.corrupt, "\(path) is damaged; delete \(directory) to rebuild the simulated host")
            }
            linkCache.put(name, key, link)
            return link
        }
    }

    /// Every PF's link (for VF count changes and tests).
    func loadLinks() throws(SRIOVError) -> LinkTable {
        _ = try migrateLegacyLinks()
        var table = LinkTable()
        for file in FileSystem.list(linksDirectory) ?? [] where file.hasSuffix(".state") {
            let name = String(file.dropLast(".state".count))
            if let link = try loadLink(name, migrate: false) { table.pfs[name] = link }
        }
        return table
    }

    /// Writes one PF's file (temp file, then rename: readers see the old or the new one whole).
    func saveLink(_ name: String, _ link: LinkTable.PFLink) throws(SRIOVError) {
        let path = linkPath(name)
        try tree.write("netlink/" + name + ".state.tmp", linkCache.render(name, link))
        // Cached under the new file's identity before it is visible (a rename keeps inode and mtime).
        if let key = LinkTableCache.key(path + ".tmp") { linkCache.put(name, key, link) }
        guard rename(path + ".tmp", path) == 0 else {
            throw SRIOVError(.io, "simulator: cannot replace \(path): \(Errno.name(errno))", cause: .errno(errno))
        }
    }

    /// Writes the PFs of `links` whose state differs from their files, and removes the files of PFs
    /// it no longer has.
    func saveLinks(_ links: LinkTable) throws(SRIOVError) {
        try tree.mkdirs("netlink")
        for name in links.pfs.keys.sorted() {
            guard let link = links.pfs[name] else { continue }
            if (try? loadLink(name, migrate: false)) == link { continue }
            try saveLink(name, link)
        }
        for file in FileSystem.list(linksDirectory) ?? [] where file.hasSuffix(".state") {
            if links.pfs[String(file.dropLast(".state".count))] == nil { unlink(linksDirectory + "/" + file) }
        }
    }

    /// Simulated hosts made before the per-PF files kept this state in one `netlink.state` (and,
    /// before that, `netlink.json`): split it once. True if there was one.
    func migrateLegacyLinks() throws(SRIOVError) -> Bool {
        let lines = directory + "/netlink.state"
        let legacy = directory + "/netlink.json"
        let table: LinkTable
        if case .success(let text) = FileSystem.readResult(lines) {
            guard let t = LinkTable(text: text) else {
                throw SRIOVError(.corrupt, "\(lines) is damaged; delete \(directory) to rebuild the simulated host")
            }
            table = t
        } else if case .success(let text) = FileSystem.readResult(legacy) {
            guard let t = try? JSONDecoder().decode(LinkTable.self, from: Data(text.utf8)) else {
                throw SRIOVError(.corrupt, "\(legacy) is damaged; delete \(directory) to rebuild the simulated host")
            }
            table = t
        } else {
            return false
        }
        try saveLinks(table)
        unlink(lines)
        unlink(legacy)
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
