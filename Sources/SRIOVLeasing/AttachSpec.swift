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

/// Everything of a lease its attach specs are made of, and nothing else: `AttachSpec` renders from
/// this value only, so two leases with equal inputs have the same specs (sriovd keeps each lease's
/// rendered specs while its inputs stay equal: `LeaseDocumentJSON`).
public struct AttachInputs: Equatable, Sendable {
    public struct Device: Equatable, Sendable {
        public var pciAddress: PCIAddress
        public var isWholeDevice: Bool
        public var mac: MACAddress?
        /// The port VLAN's id; nil or 0 for none.
        public var vlan: Int?
    }

    public var devices: [Device]

    public init(_ lease: Lease) {
        devices = lease.vfs.map { vf in
            Device(pciAddress: vf.pciAddress, isWholeDevice: vf.isWholeDevice, mac: vf.settings.mac, vlan: vf.settings.vlan.map { Int($0.id) })
        }
    }
}

public enum AttachSpec {
    /// One element or line per VF; for `dpdk`, one line of EAL arguments for the whole lease (a DPDK
    /// process takes all its ports on one command line). Proxmox lines are numbered from `hostpci0`
    /// with `pcie=1` unless `proxmox` says otherwise (`ProxmoxPlacement`, from the VM's configuration).
    public static func render(_ lease: Lease, format: AttachFormat, proxmox: ProxmoxPlacement? = nil) -> String {
        render(AttachInputs(lease), format: format, proxmox: proxmox)
    }

    public static func render(_ inputs: AttachInputs, format: AttachFormat, proxmox: ProxmoxPlacement? = nil) -> String {
        let devices = inputs.devices
        let proxmox = proxmox ?? ProxmoxPlacement(indices: Array(0..<devices.count), pcie: true)
        if format == .proxmox, devices.contains(where: { $0.isWholeDevice }) {
            return proxmoxWholeDevices(devices, proxmox: proxmox)
        }
        var text = ""
        for (n, device) in devices.enumerated() {
            if n > 0 { text += format == .dpdk ? " " : "\n" }
            text += render(device, number: n, format: format, proxmox: proxmox)
        }
        return text
    }

    public static func all(_ lease: Lease) -> [String: String] {
        let inputs = AttachInputs(lease)
        return Dictionary(uniqueKeysWithValues: AttachFormat.allCases.map { ($0.rawValue, render(inputs, format: $0)) })
    }

    /// Proxmox lines of a lease that holds whole devices: the functions of one device leased together
    /// are one line naming the device without its function (`hostpci0: 0000:03:00`, Proxmox's "All
    /// Functions"); a device leased alone keeps its function.
    static func proxmoxWholeDevices(_ devices: [AttachInputs.Device], proxmox: ProxmoxPlacement) -> String {
        var lines: [String] = []
        var done = Set<PCIAddress>()
        for device in devices where !done.contains(device.pciAddress) {
            let a = device.pciAddress
            let siblings = devices.filter { $0.isWholeDevice && $0.pciAddress.isSiblingFunction(of: a) }.map(\.pciAddress)
            done.insert(a)
            done.formUnion(siblings)
            let name: String
            if device.isWholeDevice && !siblings.isEmpty {
                let text = a.description
                name = String(text[..<(text.lastIndex(of: ".") ?? text.endIndex)])
            } else {
                name = a.description
            }
            lines.append("hostpci\(proxmox.index(lines.count)): \(name)" + (proxmox.pcie ? ",pcie=1" : ""))
        }
        return lines.joined(separator: "\n")
    }

    /// `0x` and `v` in lowercase hex, zero-padded to `width` digits (more digits if `v` needs them).
    static func hex(_ v: UInt64, _ width: Int) -> String {
        var count = 1
        while count < 16, v >> (4 * UInt64(count)) != 0 { count += 1 }
        var bytes = Array("0x".utf8)
        ASCIIDigits.appendHex(v, digits: max(count, width), to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// libvirt's `<address>` attributes of a PCI address.
    static func libvirtAddress(_ a: PCIAddress) -> String {
        "domain='\(hex(UInt64(a.domain), 4))' bus='\(hex(UInt64(a.bus), 2))' slot='\(hex(UInt64(a.device), 2))' function='\(hex(UInt64(a.function), 1))'"
    }

    static func render(_ device: AttachInputs.Device, number: Int, format: AttachFormat, proxmox: ProxmoxPlacement) -> String {
        let a = device.pciAddress
        switch format {
        case .libvirt:
            // managed='no': sriovd already bound the VF to vfio-pci; libvirt must not rebind it.
            return """
            <hostdev mode='subsystem' type='pci' managed='no'>
              <source>
                <address \(libvirtAddress(a))/>
              </source>
            </hostdev>
            """
        case .libvirtInterface:
            var lines = ["<interface type='hostdev' managed='no'>", "  <source>", "    <address type='pci' \(libvirtAddress(a))/>", "  </source>"]
            if let mac = device.mac { lines.append("  <mac address='\(mac)'/>") }
            if let vlan = device.vlan, vlan != 0 {
                lines.append("  <vlan>")
                lines.append("    <tag id='\(vlan)'/>")
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
