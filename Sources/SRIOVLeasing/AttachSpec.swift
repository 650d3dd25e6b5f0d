import SRIOVCore

/// How a VM (or a DPDK process) uses a lease: the device descriptions of libvirt, QEMU, Proxmox and
/// cloud-hypervisor, and DPDK's EAL arguments.
public enum AttachFormat: String, Sendable, Codable, CaseIterable {
    case libvirt
    case libvirtInterface = "libvirt-interface"
    case qemu
    case proxmox
    case cloudHypervisor = "cloud-hypervisor"
    case dpdk

    public init(parsing text: String) throws(SRIOVError) {
        guard let f = AttachFormat(rawValue: text) else {
            throw SRIOVError(.invalidArgument, "unknown attach format \(Quote.shell(text)): use one of \(AttachFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = f
    }
}

public enum AttachSpec {
    /// One element or line per VF; for `dpdk`, one line of EAL arguments for the whole lease (a DPDK
    /// process takes all its ports on one command line). Proxmox lines are numbered from `hostpci0`
    /// with `pcie=1` unless `proxmox` says otherwise (`ProxmoxPlacement`, from the VM's configuration).
    public static func render(_ lease: Lease, format: AttachFormat, proxmox: ProxmoxPlacement? = nil) -> String {
        let proxmox = proxmox ?? ProxmoxPlacement(indices: Array(0..<lease.vfs.count), pcie: true)
        if format == .proxmox, lease.vfs.contains(where: { $0.isWholeDevice }) {
            return proxmoxWholeDevices(lease, proxmox: proxmox)
        }
        let parts = lease.vfs.enumerated().map { n, vf in render(vf, number: n, lease: lease, format: format, proxmox: proxmox) }
        return parts.joined(separator: format == .dpdk ? " " : "\n")
    }

    public static func all(_ lease: Lease) -> [String: String] {
        Dictionary(uniqueKeysWithValues: AttachFormat.allCases.map { ($0.rawValue, render(lease, format: $0)) })
    }

    /// Proxmox lines of a lease that holds whole devices: the functions of one device leased together
    /// are one line naming the device without its function (`hostpci0: 0000:03:00`, Proxmox's "All
    /// Functions"); a device leased alone keeps its function.
    static func proxmoxWholeDevices(_ lease: Lease, proxmox: ProxmoxPlacement) -> String {
        var lines: [String] = []
        var done = Set<PCIAddress>()
        for vf in lease.vfs where !done.contains(vf.pciAddress) {
            let a = vf.pciAddress
            let siblings = lease.vfs.filter { $0.isWholeDevice && $0.pciAddress.isSiblingFunction(of: a) }.map(\.pciAddress)
            done.insert(a)
            done.formUnion(siblings)
            let name: String
            if vf.isWholeDevice && !siblings.isEmpty {
                let text = a.description
                name = String(text[..<(text.lastIndex(of: ".") ?? text.endIndex)])
            } else {
                name = a.description
            }
            lines.append("hostpci\(proxmox.index(lines.count)): \(name)" + (proxmox.pcie ? ",pcie=1" : ""))
        }
        return lines.joined(separator: "\n")
    }

    static func hex(_ v: UInt64, _ width: Int) -> String {
        let d = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, width - d.count)) + d
    }

    static func render(_ vf: LeasedVF, number: Int, lease: Lease, format: AttachFormat, proxmox: ProxmoxPlacement) -> String {
        let a = vf.pciAddress
        let address = "domain='\(hex(UInt64(a.domain), 4))' bus='\(hex(UInt64(a.bus), 2))' slot='\(hex(UInt64(a.device), 2))' function='\(hex(UInt64(a.function), 1))'"
        switch format {
        case .libvirt:
            // managed='no': sriovd already bound the VF to vfio-pci; libvirt must not rebind it.
            return """
            <hostdev mode='subsystem' type='pci' managed='no'>
              <source>
                <address \(address)/>
              </source>
            </hostdev>
            """
        case .libvirtInterface:
            var lines = ["<interface type='hostdev' managed='no'>", "  <source>", "    <address type='pci' \(address)/>", "  </source>"]
            if let mac = vf.settings.mac { lines.append("  <mac address='\(mac)'/>") }
            if let vlan = vf.settings.vlan, vlan.id != 0 {
                lines.append("  <vlan>")
                lines.append("    <tag id='\(vlan.id)'/>")
                lines.append("  </vlan>")
            }
            lines.append("</interface>")
            return lines.joined(separator: "\n")
        case .qemu:
            return "-device vfio-pci,host=\(a),id=sriov\(number)"
        case .proxmox:
            return "hostpci\(proxmox.index(number)): \(a)" + (proxmox.pcie ? ",pcie=1" : "")
        case .dpdk:
            // `--allow` (DPDK 20.11 and later; `-w` before): the process probes only these devices, so it
            // never takes another VF or a host NIC that is also bound to vfio-pci.
            return "--allow \(a)"
        case .cloudHypervisor:
            return "--device path=/sys/bus/pci/devices/\(a)/,id=sriov\(number)"
        }
    }
}

/// A lease as the API returns it and `sriovctl ... --json` prints it: the lease and its attach specs.
/// (sriovd writes the same bytes by hand on its hot routes: `LeaseDocumentJSON`.)
public struct LeaseDocument: Encodable, Sendable {
    public let lease: Lease

    public init(_ lease: Lease) { self.lease = lease }

    enum Keys: String, CodingKey { case attach }

    public func encode(to encoder: any Encoder) throws {
        try lease.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(AttachSpec.all(lease), forKey: .attach)
    }
}
