import SRIOVConfig
import SRIOVCore

/// PF-side writes the engine has in flight: one VF-count change at a time host-wide (it rewrites the
/// pools), and per PF the VFs whose settings are being written.
struct PFWrites: Sendable {
    var numVFs: PFTarget?
    var vfs: [PFDevice: Set<Int>] = [:]
}

/// A VF-count change, journaled as its own `pf.numvfs` record (beside the audit record) so the event
/// feed reads a typed value, never the audit text.
public struct NumVFsChangeRecord: Sendable, Equatable, Codable {
    public var pf: String
    public var interface: String?
    public var before: Int
    public var after: Int
    public var requestedBy: String

    public init(pf: String, interface: String?, before: Int, after: Int, requestedBy: String) {
        self.pf = pf
        self.interface = interface
        self.before = before
        self.after = after
        self.requestedBy = requestedBy
    }

    static let action = "pf.set-numvfs"

    init(target: PFTarget, before: Int, after: Int, requestedBy: String?) {
        self.init(pf: target.device.description, interface: target.interface?.name, before: before, after: after,
                  requestedBy: requestedBy ?? "unknown")
    }

    /// The audit target: `PFTarget.label`, "0000:3b:00.0 (ens1f0)".
    var target: String { interface.map { "\(pf) (\($0))" } ?? pf }
    var result: String { "ok: \(before) -> \(after) VFs" }
}

extension LeaseEngine {
    /// The PF `text` names (netdev or PCI address, as `sriovctl` resolves it), marked protected when the
    /// configuration lists it under `protected_pfs`; the management NIC is marked by discovery.
    public func resolvePF(_ text: String) throws(SRIOVError) -> PFTarget {
        var target = try host.source.resolvePF(text)
        config.markProtection(&target)
        if target.protectedByConfig == nil, target.device.pciAddress.map(plan.protectedPFs.contains) == true {
            target.protectedByConfig = config.source
        }
        return target
    }

    /// Sets a PF's VF count (through 0, autoprobe first), serialized with leasing: refused while any VF of
    /// the PF is leased or being acquired or released (every VF is removed on the way, so all of them
    /// vanish, not just those above the new count) unless `force`, which marks those leases `lost` in the
    /// journal before the first write; refused while another count change runs, and when the pools
    /// would no longer resolve. While it runs the PF's VFs are out of the pools; afterwards the pools are
    /// bound again to the VFs the PF has now. Audited as `pf.set-numvfs`.
    ///
    /// Kernel interface: `/sys/bus/pci/devices/<pf>/sriov_numvfs`, `sriov_drivers_autoprobe` (via `NumVFsChange`).
    public func setNumVFs(pf text: String, to count: Int, autoprobe: Bool?, force: Bool, timeout: Duration = .seconds(120),
                          requestedBy: String?) async throws(SRIOVError) -> NumVFsResult {
        let target = try resolvePF(text)
        try target.checkWritable(force: force, action: "change the VF count")
        // NumVFsChange checks these too; here they come before anything is taken out of the pools.
        guard count >= 0 else {
            throw SRIOVError(.invalidArgument, "invalid VF count \(count): it must be 0 or more")
        }
        if let total = target.totalVFs, count > total {
            throw SRIOVError(.invalidArgument, "\(target.label): cannot create \(count) VFs: the PF supports at most \(total) (sriov_totalvfs); the kernel would answer ERANGE")
        }
        if let running = pfWrites.numVFs {
            throw SRIOVError(.busy, "\(target.label): cannot change the VF count: a VF-count change on \(running.label) is running; retry when it has finished")
        }
        if let writing = pfWrites.vfs[target.device], !writing.isEmpty {
            throw SRIOVError(.busy, "\(target.label): cannot change the VF count while settings of VF \(writing.sorted().map(String.init).joined(separator: ", ")) are being written; retry in a moment")
        }
        if let address = target.device.pciAddress, let holder = book.holder(of: address), let lease = book.lease(holder),
           lease.vfs.contains(where: { $0.pciAddress == address && $0.isWholeDevice }) {
            // Not even with force: the PF itself is a VM's device; its driver is vfio-pci, not the one that makes VFs.
            throw SRIOVError(.busy, "\(target.label): cannot change the VF count: the PF itself is leased whole to lease \(holder) (owner \(lease.owner), pool \(lease.pool)); release the lease first (`sriovctl lease release \(holder)`)")
        }
        let before = target.numVFs
        var lost: [Lease] = []
        if count != before {
            let holding = leases(on: target)
            if !holding.isEmpty && !force {
                let named = holding.prefix(5).map { lease in
                    "\(lease.id) (owner \(lease.owner), \(lease.state.rawValue): \(lease.vfs.filter { $0.pf == target.device.pciAddress }.map(\.pciAddress.description).joined(separator: ", ")))"
                }.joined(separator: "; ") + (holding.count > 5 ? "; and \(holding.count - 5) more" : "")
                throw SRIOVError(.busy, "\(target.label): cannot change the VF count from \(before) to \(count): every VF is removed on the way (the kernel changes the count only through 0) and \(holding.count == 1 ? "a lease holds" : "\(holding.count) leases hold") VFs of this PF: \(named); release \(holding.count == 1 ? "it" : "them") first (`sriovctl pf drain \(text)` keeps new leases off the PF and waits for that), or pass --force (API: \"force\": true, admin) to change the count anyway and mark \(holding.count == 1 ? "it" : "them") lost")
            }
            lost = holding
            try checkPoolsFit(target, count: count)
        }
        var warnings: [String] = []
        if let address = target.device.pciAddress, let desired = plan.desiredPFs[address], desired.numVFs != count {
            warnings.append("\(target.label): the configuration's pfs: entry says num_vfs \(desired.numVFs); `sriovd apply` would set it back")
        }
        let previous = plan
        pfWrites.numVFs = target
        if let pf = target.pf {
            // Out of circulation while they vanish: no acquire may pick them mid-change.
            let going = Set(pf.vfs.map(\.pciAddress))
            plan.pools = plan.pools.mapValues { $0.filter { !going.contains($0) } }
        }
        if !lost.isEmpty {
            let reason = "\(target.label): `pf set-numvfs \(count)` (from \(before)) forced by \(requestedBy ?? "unknown"): every VF of the PF was removed (the kernel changes the count only through 0)"
            do throws(SRIOVError) {
                try await record(lost.map { LeaseEvent.marked(lease: $0.id, condition: .lost, reason: reason) }
                                 + [auditEvent(requestedBy, NumVFsChangeRecord.action, target.label, "forced: \(before) -> \(count) VFs (\(lost.map { "lease \($0.id) marked lost" }.joined(separator: ", ")))")])
            } catch {
                _ = rebindPools(after: target, previous: previous)
                throw error
            }
            warnings.append("marked lost: " + lost.map { "lease \($0.id) (owner \($0.owner))" }.joined(separator: ", ") + "; release them to return what is left of their VFs")
        }
        invalidateInventory()
        let logger = self.logger
        let outcome: NumVFsChange.Outcome
        do throws(SRIOVError) {
            outcome = try await NumVFsChange(source: host.source, control: host.control)
                .run(target, to: count, autoprobe: autoprobe, force: force, timeout: timeout) { line in
                    logger.info("\(line)", metadata: ["pf": "\(target.label)"])
                }
        } catch {
            warnings = rebindPools(after: target, previous: previous)
            await audit(requestedBy, NumVFsChangeRecord.action, target.label, "failed: \(error.message)")
            throw error
        }
        warnings += rebindPools(after: target, previous: previous)
        let change = NumVFsChangeRecord(target: target, before: outcome.before, after: outcome.after, requestedBy: requestedBy)
        do throws(SRIOVError) {
            try await record([.numVFsChanged(change), auditEvent(requestedBy, NumVFsChangeRecord.action, change.target, change.result)])
        } catch {
            logger.error("VF-count change not journaled", metadata: ["pf": "\(target.label)", "error": "\(error.message)"])
        }
        return NumVFsResult(pf: change.pf, interface: change.interface, before: outcome.before, after: outcome.after, warnings: warnings)
    }

    /// Applies VF settings from the PF (read back to verify), serialized with leasing. Refused for a VF a
    /// lease holds (its settings are the lease's) and for any other pool VF (free pool VFs stay scrubbed
    /// for the next lease; a quarantined one is scrubbed by unquarantine), unless `force`: then the lease
    /// is marked `drifted` (a free pool VF is quarantined) in the journal before the change is written,
    /// so a crash mid-change cannot leave a lease that looks intact. Audited as `vf.set`.
    ///
    /// Equivalent to: `ip link set <pf> vf <n> mac ... vlan ... spoofchk ... trust ... state ...`.
    public func setVF(pf text: String, index: Int, settings: VFSettings, force: Bool,
                      requestedBy: String?) async throws(SRIOVError) -> PFStatus.VFInfo {
        let target = try resolvePF(text)
        try target.checkWritable(force: force, action: "change VF settings")
        guard !settings.isEmpty else {
            throw SRIOVError(.invalidArgument, "nothing to set: give at least one of mac, vlan, spoofCheck, trust, linkState, minTxRate, maxTxRate, queryRSS")
        }
        try settings.validate()
        try VFIndex(index).check(numVFs: target.numVFs, pf: target.label)
        if pfWrites.numVFs?.device == target.device {
            throw SRIOVError(.busy, "\(target.label): its VF count is being changed; VF \(index) may not exist in a moment: retry when the change has finished")
        }
        if pfWrites.vfs[target.device]?.contains(index) == true {
            throw SRIOVError(.busy, "\(target.label) VF \(index): another request is writing its settings; retry when it has finished")
        }
        let what = "\(target.label) VF \(index)"
        // What the book must say before a forced change touches a VF it vouches for.
        var forced: [LeaseEvent] = []
        if let address = target.pf?.vfs.first(where: { $0.index == index })?.pciAddress {
            let reason = "\(what) (\(address)): `vf set \(settings.summary)` forced by \(requestedBy ?? "unknown")"
            if let holder = book.holder(of: address) {
                let owner = book.lease(holder).map { " (owner \($0.owner))" } ?? ""
                guard force else {
                    throw SRIOVError(.busy, "\(what) (\(address)) is leased by \(holder)\(owner): its settings belong to the lease; release the lease first, or pass --force (API: \"force\": true, admin) to change it anyway and mark the lease drifted")
                }
                forced.append(.marked(lease: holder, condition: .drifted, reason: reason))
            } else if let pool = plan.pool(of: address) {
                guard force else {
                    throw SRIOVError(.busy, "\(what) (\(address)) is in pool \(pool): sriovd keeps free pool VFs scrubbed for the next lease (settings set now would leak into it); lease it with the settings instead, take it out of the pool in the configuration, or pass --force to change it anyway (it is then quarantined until `sriovctl vf unquarantine \(address)` scrubs it)")
                }
                if !book.isQuarantined(address) {
                    forced.append(.quarantined(vf: address, reason: "settings changed outside a lease: \(reason); `sriovctl vf unquarantine \(address)` scrubs it back into pool \(pool)", lease: nil))
                }
            }
        }
        guard let on = target.configuratorTarget else {
            _ = try target.requireInterface()
            throw SRIOVError(.unsupported, "\(target.label) has no network interface for VF settings")
        }
        pfWrites.vfs[target.device, default: []].insert(index)
        defer { pfWrites.vfs[target.device]?.remove(index) }
        if !forced.isEmpty {
            try await record(forced + [auditEvent(requestedBy, "vf.set", what, "forced: \(settings.summary) (\(forced.map(\.forcedLabel).joined(separator: ", ")))")])
        }
        let readout: VFReadout
        do throws(SRIOVError) {
            readout = try await VFConfigurator(link: host.link).apply(settings, vf: index, on: on)
        } catch {
            await audit(requestedBy, "vf.set", what, "failed: \(error.message)")
            throw error
        }
        await audit(requestedBy, "vf.set", what, "ok: " + settings.fields.map(\.rawValue).joined(separator: ", ") + (forced.isEmpty ? "" : " (forced)"))
        return PFStatus(target: target, readout: readout).vfs[index]
    }

    /// Live leases with a VF on `target` (acquiring, active or releasing).
    func leases(on target: PFTarget) -> [Lease] {
        guard let address = target.device.pciAddress else { return [] }
        return book.leases.values.filter { lease in
            lease.vfs.contains { $0.pf == address && $0.stage != .returned }
        }.sorted { $0.id < $1.id }
    }

    /// Refuses a count the configuration's pools cannot be bound to (a `range:` beyond the VFs of a PF
    /// without a `pfs:` entry, a `pci:` VF that would vanish), before anything is written.
    func checkPoolsFit(_ target: PFTarget, count: Int) throws(SRIOVError) {
        guard let pf = target.pf else { return }
        var inventory = try host.source.inventory()
        guard let p = inventory.pfs.firstIndex(where: { $0.pciAddress == pf.pciAddress }) else { return }
        inventory.pfs[p].numVFs = count
        inventory.pfs[p].vfs = inventory.pfs[p].vfs.filter { $0.index < count }
        do throws(SRIOVError) {
            _ = try config.resolve(against: inventory)
        } catch {
            throw SRIOVError(.busy, "\(target.label): cannot change the VF count to \(count): the configuration's pools would no longer fit the host: \(error.message); change the configuration first (and restart sriovd)")
        }
    }

    /// Binds the pools to the VFs the host has now, after a count change (or a failed one); keeps the
    /// previous pools when the configuration no longer resolves, and says so.
    func rebindPools(after target: PFTarget, previous: PoolPlan) -> [String] {
        pfWrites.numVFs = nil
        invalidateInventory()
        do throws(SRIOVError) {
            plan = try config.resolve(against: try host.source.inventory())
            return plan.warnings
        } catch {
            plan = previous
            logger.error("pools not rebound after a VF-count change", metadata: ["pf": "\(target.label)", "error": "\(error.message)"])
            return ["the pools were not rebound to the new VFs (\(error.message)); they keep their previous VFs until the configuration fits and sriovd restarts"]
        }
    }
}

extension LeaseEvent {
    /// What a forced change did to the book, for its audit record: "lease l-... marked drifted".
    var forcedLabel: String {
        switch self {
        case .marked(let id, let condition, _): return "lease \(id) marked \(condition.rawValue)"
        case .quarantined(let vf, _, _): return "\(vf) quarantined"
        default: return type
        }
    }
}
