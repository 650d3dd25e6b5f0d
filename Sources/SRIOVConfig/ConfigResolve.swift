import SRIOVCore

extension SRIOVConfig {
    /// Binds the config to a host: which VF (PCI address) belongs to which pool.
    ///
    /// Refuses a PF that is not an SR-IOV PF of this host, a VF range beyond the PF's VFs (its `pfs:`
    /// num_vfs when configured, else the VFs it has now), a VF in two pools, and a pool that takes a VF of
    /// a protected PF or of the management NIC (the PF carrying the default route, protected or not). A PF with a `pfs:` entry contributes only the VFs that survive applying that entry;
    /// VFs that `sriovd apply` has yet to create join their pools when the config is resolved again.
    public func resolve(against inventory: HostInventory) throws(SRIOVError) -> PoolPlan {
        var resolver = PlanResolver(config: self, inventory: inventory)
        return try resolver.run()
    }
}

extension SRIOVConfig {
    /// The devices `resolve` looks at: the protected PFs, the `pfs:` entries, and every pool
    /// selector's PF, VFs and devices. Resolved against an inventory of these alone
    /// (`HostInventorySource.inventory(scope:)`) the plan is the one the whole host gives. Nil when a
    /// selector matches VFs by vendor/device or NUMA node alone: any PF may hold them.
    public var discoveryScope: DiscoveryScope? {
        var scope = DiscoveryScope()
        for name in protectedPFs { scope.insert(named: name) }
        for entry in pfs { scope.insert(named: entry.pf) }
        for pool in pools {
            for selector in pool.selectors {
                guard selector.pf != nil || !selector.pciAddresses.isEmpty || !selector.devices.isEmpty else { return nil }
                if let pf = selector.pf { scope.insert(named: pf) }
                scope.devices.formUnion(selector.pciAddresses)
                scope.devices.formUnion(selector.devices)
            }
        }
        return scope
    }
}

/// One `resolve` run: the host's indexes and what has been decided so far.
struct PlanResolver {
    let config: SRIOVConfig
    let inventory: HostInventory
    /// VF address -> (VF, its PF).
    let vfIndex: [PCIAddress: (vf: VirtualFunction, pf: PhysicalFunction)]

    /// Protected PF -> index in protected_pfs.
    var protected: [PCIAddress: Int] = [:]
    /// PF -> index in pfs.
    var desired: [PCIAddress: Int] = [:]
    /// VF -> the pool and selector that took it.
    var owner: [PCIAddress: (pool: Int, selector: Int)] = [:]
    var warnings: [String] = []

    init(config: SRIOVConfig, inventory: HostInventory) {
        self.config = config
        self.inventory = inventory
        var index: [PCIAddress: (vf: VirtualFunction, pf: PhysicalFunction)] = [:]
        for pf in inventory.pfs {
            for vf in pf.vfs { index[vf.pciAddress] = (vf, pf) }
        }
        self.vfIndex = index
    }

    mutating func run() throws(SRIOVError) -> PoolPlan {
        try resolveProtected()
        let desiredPFs = try resolveDesired()
        var pools: [String: [PCIAddress]] = [:]
        for p in config.pools.indices {
            pools[config.pools[p].name] = try resolvePool(p)
        }
        warnAboutAutoprobe(pools)
        return PoolPlan(pools: pools, protectedPFs: Set(protected.keys), poolConfigs: config.pools,
                        desiredPFs: desiredPFs, warnings: warnings)
    }

    // MARK: protected_pfs and pfs

    mutating func resolveProtected() throws(SRIOVError) {
        for (i, entry) in config.protectedPFs.enumerated() {
            let path = "protected_pfs[\(i)]"
            switch lookup(entry) {
            case .pf(let pf):
                if protected[pf.pciAddress] == nil { protected[pf.pciAddress] = i }
            case .vf(let vf, let pf):
                throw fail(path, "\(entry) is \(describe(vf, pf)), not a PF; protect its PF \(pf.displayName) instead")
            case .function(let function):
                // A NIC without SR-IOV: protecting it keeps it out of devices: pools.
                if protected[function.pciAddress] == nil { protected[function.pciAddress] = i }
            case .none:
                // Not an SR-IOV PF: sriovd has nothing it could write there. Keep a PCI address anyway.
                if let address = PCIAddress(entry) {
                    protected[address] = i
                } else {
                    warnings.append("\(config.lines.location(path)): \(entry) is not an SR-IOV PF of this host; there is nothing sriovd could write on it")
                }
            }
        }
    }

    mutating func resolveDesired() throws(SRIOVError) -> [PCIAddress: PFDesired] {
        var result: [PCIAddress: PFDesired] = [:]
        for (i, entry) in config.pfs.enumerated() {
            let pf = try requirePF(entry.pf, path: "pfs[\(i)].pf")
            if let j = desired[pf.pciAddress] {
                throw fail("pfs[\(i)].pf", "\(entry.pf) is the same PF (\(pf.label)) as pfs[\(j)]; merge the two entries")
            }
            if let k = protected[pf.pciAddress] {
                throw fail("pfs[\(i)].pf", "\(pf.label) is protected by protected_pfs[\(k)], and sriovd never writes a protected PF; remove it from pfs or from protected_pfs")
            }
            guard entry.numVFs <= pf.totalVFs else {
                throw fail("pfs[\(i)].num_vfs", "\(pf.displayName) supports at most \(pf.totalVFs) VFs (sriov_totalvfs), not \(entry.numVFs); lower num_vfs")
            }
            desired[pf.pciAddress] = i
            result[pf.pciAddress] = entry
        }
        return result
    }

    // MARK: pools

    mutating func resolvePool(_ p: Int) throws(SRIOVError) -> [PCIAddress] {
        let pool = config.pools[p]
        var taken = Set<PCIAddress>()
        for (s, selector) in pool.selectors.enumerated() {
            let base = "pools[\(p)].selectors[\(s)]"
            if !selector.devices.isEmpty {
                for (k, address) in selector.devices.enumerated() {
                    try takeWholeDevice(address, pool: p, selector: s, path: "\(base).devices[\(k)]")
                    taken.insert(address)
                }
                continue
            }
            let candidates: [PhysicalFunction]
            if let pfText = selector.pf {
                let pf = try requirePF(pfText, path: "\(base).\(selector.pfKey)")
                if let k = protected[pf.pciAddress] {
                    throw fail("\(base).\(selector.pfKey)", "\(pf.displayName) is protected (protected_pfs[\(k)]) and sriovd never leases its VFs; choose another PF or remove it from protected_pfs")
                }
                if pf.isManagement {
                    throw fail("\(base).\(selector.pfKey)", "\(pf.displayName) is the management NIC (it carries the host's default route) and sriovd never leases its VFs; choose another PF")
                }
                if let range = selector.vfRange { try checkRange(range, on: pf, path: "\(base).\(selector.rangeKey)") }
                candidates = [pf]
            } else {
                guard selector.vfRange == nil else {
                    throw fail("\(base).range", "range: needs pf: in the same selector (VF indexes are per PF); add pf:")
                }
                candidates = inventory.pfs
            }
            try checkExplicitVFs(selector, path: base)
            var matched = 0
            for pf in candidates {
                for vf in pf.vfs where vf.index < limit(pf).count && matches(selector, vf, pf) {
                    try take(vf, pf, pool: p, selector: s)
                    taken.insert(vf.pciAddress)
                    matched += 1
                }
            }
            if matched == 0 {
                warnings.append("\(config.lines.location(base)): selects no VF on this host (pool \(Quote.shell(pool.name)))")
            }
        }
        if taken.isEmpty && pool.selectors.count > 1 {
            warnings.append("\(config.lines.location("pools[\(p)]")): pool \(Quote.shell(pool.name)) has no VF on this host")
        }
        return taken.sorted()
    }

    /// Records that pool `p` takes `vf`, refusing protected PFs and VFs another pool already has.
    mutating func take(_ vf: VirtualFunction, _ pf: PhysicalFunction, pool p: Int, selector s: Int) throws(SRIOVError) {
        let path = "pools[\(p)].selectors[\(s)]"
        if let k = protected[pf.pciAddress] {
            throw fail(path, "selects \(describe(vf, pf)), a VF of protected PF \(pf.displayName) (protected_pfs[\(k)]); sriovd never leases VFs of a protected PF: narrow the selector (add pf: or numa:) or remove \(config.protectedPFs[k]) from protected_pfs")
        }
        // The allocator never hands out a VF of the PF carrying the default route, listed in
        // protected_pfs or not: a pool holding one would show free VFs it can never lease.
        if pf.isManagement {
            throw fail(path, "selects \(describe(vf, pf)), a VF of \(pf.displayName), the management NIC (it carries the host's default route); sriovd never leases its VFs: narrow the selector (add pf: or numa:)")
        }
        if let other = owner[pf.pciAddress] {
            let otherPath = "pools[\(other.pool)].selectors[\(other.selector)]"
            throw fail(path, "selects \(describe(vf, pf)), a VF of \(pf.displayName), which pool \(Quote.shell(config.pools[other.pool].name)) holds as a whole device (\(config.lines.location(otherPath))); a PF is leased either whole or by its VFs: narrow one of the two")
        }
        if let other = owner[vf.pciAddress], other.pool != p {
            let otherPath = "pools[\(other.pool)].selectors[\(other.selector)]"
            throw fail(path, "\(describe(vf, pf)) is already in pool \(Quote.shell(config.pools[other.pool].name)) (\(config.lines.location(otherPath))) and would also be in pool \(Quote.shell(config.pools[p].name)); a VF belongs to one pool only: narrow one of the two selectors")
        }
        owner[vf.pciAddress] = (p, s)
    }

    /// A `devices:` entry: an SR-IOV PF of this host, not protected, not the management NIC, not
    /// given VFs by `pfs:`, in no other pool, and none of its VFs pooled; or a network function without
    /// SR-IOV, not protected, not the management NIC, in no other pool.
    mutating func takeWholeDevice(_ address: PCIAddress, pool p: Int, selector s: Int, path: String) throws(SRIOVError) {
        let pf: PhysicalFunction
        switch lookup(address.description) {
        case .pf(let found): pf = found
        case .vf(let vf, let parent):
            throw fail(path, "\(address) is \(describe(vf, parent)); devices: takes whole functions: put a VF in a pool of VFs (pci: \(address))")
        case .function(let function):
            try takeWholeFunction(function, pool: p, selector: s, path: path)
            return
        case .none:
            if inventory.host.bridges.contains(address) {
                throw fail(path, "\(address) is a PCI bridge, and bridges are never passed through (vfio-pci takes the functions below them); name the NIC function behind it (`sriovctl inventory` lists them)")
            }
            throw fail(path, "no SR-IOV PF or network function at \(address) on this host; devices: takes the NICs `sriovctl inventory` lists (a PF with no VFs, or a network function without SR-IOV; storage, display and other devices are not pooled): fix the address (`lspci -D` lists the host's functions)")
        }
        // The pfs: check comes after the shared ones: owner[pf] is set only by a devices: entry that
        // passed it, so the order does not change which refusal a config gets.
        try checkWholeCandidate(address: pf.pciAddress, label: pf.label, isManagement: pf.isManagement, path: path)
        if let i = desired[pf.pciAddress], config.pfs[i].numVFs > 0 {
            throw fail(path, "\(pf.label) is given \(config.pfs[i].numVFs) VFs by pfs[\(i)], and a PF whose VFs exist cannot be leased whole; set num_vfs: 0 there or drop it from devices:")
        }
        if let vf = pf.vfs.first(where: { owner[$0.pciAddress] != nil }), let other = owner[vf.pciAddress] {
            throw fail(path, "\(pf.label) has VFs in pool \(Quote.shell(config.pools[other.pool].name)) (\(describe(vf, pf))); a PF is leased either whole or by its VFs: narrow one of the two")
        }
        if desired[pf.pciAddress] == nil && pf.numVFs > 0 {
            warnings.append("\(config.lines.location(path)): \(pf.label) has \(pf.numVFs) VFs now; it is leased whole only while it has none (`sriovctl pf set-numvfs \(pf.displayName) 0`)")
        }
        owner[pf.pciAddress] = (p, s)
    }

    /// A network function without SR-IOV in a `devices:` entry: leased exactly as a PF with no VFs
    /// (there is no VF count to keep at 0).
    mutating func takeWholeFunction(_ function: PCIFunction, pool p: Int, selector s: Int, path: String) throws(SRIOVError) {
        try checkWholeCandidate(address: function.pciAddress, label: function.label, isManagement: function.isManagement,
                                path: path)
        owner[function.pciAddress] = (p, s)
    }

    /// What every `devices:` entry must be, an SR-IOV PF or a NIC without SR-IOV: not protected, not
    /// the management NIC, and in no other pool (`label` names it in the refusal).
    func checkWholeCandidate(address: PCIAddress, label: String, isManagement: Bool, path: String) throws(SRIOVError) {
        if let k = protected[address] {
            throw fail(path, "\(label) is protected (protected_pfs[\(k)]) and sriovd never leases it; choose another device or remove it from protected_pfs")
        }
        if isManagement {
            throw fail(path, "\(label) is the management NIC (it carries the host's default route) and sriovd never leases it; choose another device")
        }
        if let other = owner[address] {
            let otherPath = "pools[\(other.pool)].selectors[\(other.selector)]"
            throw fail(path, "\(label) is already in pool \(Quote.shell(config.pools[other.pool].name)) (\(config.lines.location(otherPath))); a device belongs to one pool only: drop it from one of the two")
        }
    }

    /// Every `pci:` address must be a VF of this host that the selector's other keys also match.
    func checkExplicitVFs(_ selector: PoolSelector, path base: String) throws(SRIOVError) {
        for (k, address) in selector.pciAddresses.enumerated() {
            let path = "\(base).pci[\(k)]"
            guard let (vf, pf) = vfIndex[address] else {
                if inventory.pfs.contains(where: { $0.pciAddress == address }) {
                    throw fail(path, "\(address) is a PF, not a VF; use pf: \(address) to take its VFs")
                }
                throw fail(path, "no VF at \(address) on this host; `sriovctl inventory --vfs` lists the VFs (a VF that appears only once pfs: is applied cannot be named by address yet: use pf: with range:)")
            }
            if let reason = mismatch(selector, vf, pf, ignoringPCI: true) {
                throw fail(path, "\(describe(vf, pf)) does not match the selector's other keys: \(reason); fix the address or the other keys")
            }
            let (count, why) = limit(pf)
            guard vf.index < count else {
                throw fail(path, "\(describe(vf, pf)) will not exist once \(why); drop it or raise num_vfs")
            }
        }
    }

    func checkRange(_ range: ClosedRange<Int>, on pf: PhysicalFunction, path: String) throws(SRIOVError) {
        let (count, why) = limit(pf)
        guard range.upperBound < count else {
            let have = count == 0 ? "none" : "0-\(count - 1)"
            let fix = desired[pf.pciAddress].map { "raise pfs[\($0)].num_vfs (at most \(pf.totalVFs))" }
                ?? "add \(pf.displayName) to pfs: with num_vfs: \(range.upperBound + 1) (it supports at most \(pf.totalVFs))"
            throw fail(path, "range \(ConfigNumbers.show(range)) is beyond \(pf.displayName)'s VFs (\(why); VFs \(have)); shrink the range or \(fix)")
        }
    }

    // MARK: matching

    func matches(_ selector: PoolSelector, _ vf: VirtualFunction, _ pf: PhysicalFunction) -> Bool {
        mismatch(selector, vf, pf, ignoringPCI: false) == nil
    }

    /// Why `vf` does not match `selector`, or nil when it does.
    func mismatch(_ selector: PoolSelector, _ vf: VirtualFunction, _ pf: PhysicalFunction, ignoringPCI: Bool) -> String? {
        if let name = selector.pf, !PlanResolver.names(pf, name) {
            return "it belongs to \(pf.displayName), not \(name) (\(selector.pfKey):)"
        }
        if let range = selector.vfRange, !range.contains(vf.index) {
            return "it is VF \(vf.index), outside \(selector.rangeKey): \(ConfigNumbers.show(range))"
        }
        if !ignoringPCI, !selector.pciAddresses.isEmpty, !selector.pciAddresses.contains(vf.pciAddress) {
            return "it is not listed in pci:"
        }
        if let wanted = selector.vendorDevice {
            let vendor = pf.vendorID.flatMap(PCIIDs.normalise) ?? "?"
            let device = vf.deviceID.flatMap(PCIIDs.normalise) ?? "?"
            if vendor != wanted.vendor || device != wanted.device {
                return "its vendor:device is \(vendor):\(device), not vendor_device: \(wanted.vendor):\(wanted.device)"
            }
        }
        if let numa = selector.numaNode {
            let node = vf.numaNode ?? pf.numaNode
            if node?.value != numa {
                return "it is on NUMA node \(node.map(String.init(describing:)) ?? "none"), not numa: \(numa)"
            }
        }
        return nil
    }

    /// Whether `name` (netdev or PCI address, already checked for shape) names `pf`.
    static func names(_ pf: PhysicalFunction, _ name: String) -> Bool {
        if let address = PCIAddress(name) { return pf.pciAddress == address }
        return pf.interfaces.contains { $0.name == name }
    }

    // MARK: helpers

    /// How many VFs `pf` has for pooling: its `pfs:` num_vfs when configured, else the VFs it has now.
    func limit(_ pf: PhysicalFunction) -> (count: Int, why: String) {
        if let i = desired[pf.pciAddress] {
            return (config.pfs[i].numVFs, "\(config.pfs[i].numVFs) configured in pfs[\(i)].num_vfs")
        }
        return (pf.numVFs, "\(pf.numVFs) now, no pfs: entry")
    }

    enum Lookup {
        case pf(PhysicalFunction)
        case vf(VirtualFunction, PhysicalFunction)
        /// A network function without SR-IOV.
        case function(PCIFunction)
        case none
    }

    func lookup(_ name: String) -> Lookup {
        if let address = PCIAddress(name) {
            if let pf = inventory.pfs.first(where: { $0.pciAddress == address }) { return .pf(pf) }
            if let (vf, pf) = vfIndex[address] { return .vf(vf, pf) }
            if let function = inventory.function(at: address) { return .function(function) }
            return .none
        }
        if let pf = inventory.pfs.first(where: { $0.interfaces.contains { $0.name == name } }) { return .pf(pf) }
        for pf in inventory.pfs {
            if let vf = pf.vfs.first(where: { $0.interfaces.contains { $0.name == name } }) { return .vf(vf, pf) }
        }
        if let function = inventory.functions.first(where: { $0.interfaces.contains { $0.name == name } }) { return .function(function) }
        return .none
    }

    func requirePF(_ name: String, path: String) throws(SRIOVError) -> PhysicalFunction {
        switch lookup(name) {
        case .pf(let pf): return pf
        case .vf(let vf, let pf):
            throw fail(path, "\(name) is \(describe(vf, pf)), not a PF; name its PF \(pf.displayName), with range: \(vf.index) for this VF alone")
        case .function(let function):
            throw fail(path, "\(name) is \(function.label), a NIC without SR-IOV (no VFs); lease it whole with devices: [\"\(function.pciAddress)\"] in a pool of its own instead")
        case .none:
            let known = inventory.pfs.map(\.displayName)
            let list = known.isEmpty ? "this host has none" : "this host has \(known.prefix(12).joined(separator: ", "))\(known.count > 12 ? ", ..." : "")"
            throw fail(path, "\(name) is not an SR-IOV PF of this host (\(list)); fix the name, or see `sriovctl inventory`")
        }
    }

    func describe(_ vf: VirtualFunction, _ pf: PhysicalFunction) -> String {
        "\(vf.pciAddress) (\(pf.displayName) VF \(vf.index))"
    }

    func fail(_ path: String, _ reason: String) -> SRIOVError {
        config.lines.location(path).error(config.source, reason)
    }

    // MARK: warnings

    mutating func warnAboutAutoprobe(_ pools: [String: [PCIAddress]]) {
        let pooledPFs = Set(pools.values.joined().compactMap { vfIndex[$0]?.pf.pciAddress })
        for pf in inventory.pfs where pooledPFs.contains(pf.pciAddress) {
            let setting = desired[pf.pciAddress].flatMap { config.pfs[$0].autoprobe }
            if setting ?? pf.driversAutoprobe ?? false {
                let fix = desired[pf.pciAddress].map { "set autoprobe: false in pfs[\($0)]" }
                    ?? "add \(pf.displayName) to pfs: with autoprobe: false"
                warnings.append("\(pf.displayName) has pooled VFs but new VFs are bound to the host driver as they are born (sriov_drivers_autoprobe on); \(fix)")
            }
        }
    }
}
