import SRIOVCore

/// What a Proxmox VM's configuration (`/etc/pve/qemu-server/<vmid>.conf`) says about passthrough: the
/// `hostpciN` entries it already has and its machine type. Read so a lease's lines neither replace one
/// of the VM's own devices nor ask for `pcie=1` on a machine that cannot take it.
public struct ProxmoxVMConfig: Sendable, Equatable {
    /// Where the text came from, for messages (`101.conf`).
    public var source: String
    /// `N` of every `hostpciN:` entry in the current configuration or its pending changes.
    public var usedIndices: Set<Int>
    /// The `machine:` value, if the VM sets one (Proxmox's default is i440fx).
    public var machine: String?

    /// Parses the configuration's text. Snapshot sections (`[name]`) are the VM as it was, so their
    /// entries do not count; `[PENDING]` holds changes applied at the next start, so its entries do.
    public init(parsing text: String, source: String) {
        self.source = source
        var used: Set<Int> = []
        var machine: String?
        var section: Substring?
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = raw.trimmingPrefix { $0 == " " || $0 == "\t" }
            if line.hasPrefix("#") { continue }
            if line.hasPrefix("[") {
                section = line.dropFirst().prefix { $0 != "]" }
                continue
            }
            guard section == nil || section == "PENDING", let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon]
            let value = line[line.index(after: colon)...].trimmingPrefix { $0 == " " }
            if key.hasPrefix("hostpci"), let n = Int(key.dropFirst("hostpci".count)) {
                used.insert(n)
            } else if key == "machine", section == nil {
                machine = String(value).trimmingTrailingSpaces
            }
        }
        self.usedIndices = used
        self.machine = machine
    }

    /// The machine type: `q35`, `pc-q35-8.1+pve0`, or the `type=` of Proxmox 8's property string
    /// (`type=q35,viommu=intel`); nil when the VM uses the default (i440fx).
    public var machineType: String? {
        guard let machine else { return nil }
        for part in machine.split(separator: ",") {
            if part.hasPrefix("type=") { return String(part.dropFirst("type=".count)) }
            if !part.contains("=") { return String(part) }
        }
        return nil
    }

    /// A q35 machine, the only kind on which Proxmox accepts `pcie=1`.
    public var isQ35: Bool {
        guard let type = machineType else { return false }
        return type == "q35" || type.hasPrefix("pc-q35-")
    }
}

/// The `hostpciN` numbers a lease's VFs take in a Proxmox VM, and whether they are PCIe devices.
public struct ProxmoxPlacement: Sendable, Equatable {
    /// One per VF, in the lease's order.
    public var indices: [Int]
    /// `pcie=1`: on q35 machines only.
    public var pcie: Bool
    /// Why `pcie=1` was left out, for the operator (nil when nothing needs saying).
    public var note: String?

    /// Proxmox VE numbers passthrough devices `hostpci0` to `hostpci15`.
    public static let slots = 16

    public init(indices: [Int], pcie: Bool, note: String? = nil) {
        self.indices = indices
        self.pcie = pcie
        self.note = note
    }

    /// The index of the lease's `number`th VF (the next one up if the placement was made for fewer).
    func index(_ number: Int) -> Int {
        number < indices.count ? indices[number] : (indices.last.map { $0 + number - indices.count + 1 } ?? number)
    }

    /// Chooses `count` indices: from `firstIndex` up when given (refused if the VM already uses one of
    /// them), else the lowest ones the VM does not use; `pcie=1` unless the VM is known not to be q35.
    public static func choose(count: Int, vm: ProxmoxVMConfig?, firstIndex: Int?) throws(SRIOVError) -> ProxmoxPlacement {
        let used = vm?.usedIndices ?? []
        var indices: [Int]
        if let first = firstIndex {
            guard first >= 0, first + count <= slots else {
                throw SRIOVError(.invalidArgument, "--hostpci-index \(first): the lease's \(count) VF(s) would need hostpci\(first) to hostpci\(first + count - 1), but Proxmox numbers them 0 to \(slots - 1); choose a lower index")
            }
            indices = Array(first..<(first + count))
            if let vm, let taken = indices.first(where: used.contains) {
                throw SRIOVError(.invalidArgument, "\(vm.source) already has hostpci\(taken): choose another --hostpci-index, or leave it out to take the free ones")
            }
        } else {
            indices = Array((0..<slots).filter { !used.contains($0) }.prefix(count))
            if indices.count < count, let vm {
                throw SRIOVError(.invalidArgument, "\(vm.source) uses \(used.count) of Proxmox's \(slots) hostpci entries; the lease's \(count) VF(s) do not fit: remove passthrough devices the VM no longer needs")
            }
        }
        guard let vm, !vm.isQ35 else { return ProxmoxPlacement(indices: indices, pcie: true) }
        let machine = vm.machine.map { "machine: \($0)" } ?? "no machine: line, so i440fx"
        return ProxmoxPlacement(indices: indices, pcie: false,
                                note: "\(vm.source) is not a q35 machine (\(machine)): pcie=1 left out, since Proxmox accepts it only on q35; to pass the VFs as PCIe devices, set the machine type first (qm set <vmid> --machine q35)")
    }
}

extension StringProtocol {
    fileprivate var trimmingTrailingSpaces: String {
        var s = Substring(self)
        while let last = s.last, last == " " || last == "\t" || last == "\r" { s = s.dropLast() }
        return String(s)
    }
}
