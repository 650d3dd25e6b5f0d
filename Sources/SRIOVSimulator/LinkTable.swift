import Foundation
import SRIOVCore
import SRIOVSysfs

/// What the simulated kernel would report over netlink: per PF netdev, its link and its VFs' settings.
/// Stored as `netlink.json` beside the simulated sysfs tree.
struct LinkTable: Codable, Sendable, Equatable {
    struct PFLink: Codable, Sendable, Equatable {
        var pf: PCIAddress
        var up: Bool
        var vfs: [VFState]
    }

    var pfs: [String: PFLink] = [:]
}

extension SimulatedHost {
    var linksPath: String { directory + "/netlink.json" }

    func loadLinks() throws(SRIOVError) -> LinkTable {
        guard FileSystem.entryExists(linksPath) else { return LinkTable() }
        switch FileSystem.readResult(linksPath) {
        case .failure(let e): throw e
        case .success(let text):
            do {
                return try JSONDecoder().decode(LinkTable.self, from: Data(text.utf8))
            } catch {
                throw SRIOVError(.corrupt, "\(linksPath) is damaged (\(error)); delete \(directory) to rebuild the simulated host")
            }
        }
    }

    func saveLinks(_ links: LinkTable) throws(SRIOVError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(links) else {
            throw SRIOVError(.io, "simulator: cannot encode netlink state")
        }
        try tree.write("netlink.json.tmp", String(decoding: data, as: UTF8.self))
        guard rename(linksPath + ".tmp", linksPath) == 0 else {
            throw SRIOVError(.io, "simulator: cannot replace \(linksPath): \(Errno.name(errno))", cause: .errno(errno))
        }
    }
}
