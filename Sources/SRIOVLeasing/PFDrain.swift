import SRIOVCore

/// PF maintenance by drain. The kernel changes a VF count only through 0, so every VF of the PF
/// vanishes: the honest way to change a PF that leases use is to stop new leases on it, tell the
/// owners (`pf.draining`, naming every lease), wait for them to go, and only then change it.
extension LeaseEngine {
    /// Marks a PF draining (journaled `pf.drain`: a restart goes on draining), so no new lease takes
    /// its VFs, then waits until no lease holds a VF of it, or until `deadline` on the engine's clock.
    /// At the deadline it refuses, naming the leases still there (the PF stays draining), or with
    /// `evict` releases them (cause `evicted`, audited per lease). Calling it on a PF already draining
    /// waits again. Audited as `pf.drain` (begun, drained, refused).
    public func drainPF(_ text: String, deadline: Duration, evict: Bool,
                        requestedBy: String?) async throws(SRIOVError) -> PFDrainStatus {
        let target = try resolvePF(text)
        let key = target.device.description
        if book.draining[key] == nil {
            let holding = leases(on: target)
            let now = clock.now()
            let drain = PFDrainRecord(pf: key, interface: target.interface?.name, since: now,
                                      deadline: now + Double(deadline.components.seconds), evict: evict,
                                      requestedBy: requestedBy ?? "unknown", leases: holding.map(\.id.value))
            try await record([.pfDraining(drain),
                              auditEvent(requestedBy, "pf.drain", target.label,
                                         "draining: no new leases; \(holding.isEmpty ? "no lease on it" : "waiting for " + LeaseEngine.named(holding))")])
        }
        let until = uptime.now + deadline
        while true {
            let holding = leases(on: target)
            guard let first = holding.first else { break }
            guard book.draining[key] != nil else {
                throw SRIOVError(.busy, "\(target.label): the drain was ended (`pf undrain`) while waiting for \(LeaseEngine.named(holding)); drain it again to wait")
            }
            let left = until - uptime.now
            if left <= .zero { break }
            // Resumed when that lease changes state (releasing, released) or at the deadline.
            _ = await awaitChange(of: first.id, timeout: left)
        }
        var evicted: [String] = []
        var holding = leases(on: target)
        if !holding.isEmpty && evict {
            for lease in holding {
                if busy.contains(lease.id) {
                    // Being acquired or released in this process right now: let that step finish first.
                    _ = await awaitChange(of: lease.id, timeout: .seconds(30))
                }
                guard let current = book.lease(lease.id), !busy.contains(lease.id) else { continue }
                busy.insert(current.id)
                defer { busy.remove(current.id) }
                let reason = "evicted: \(target.label) is being drained by \(requestedBy ?? "unknown") and the drain's deadline passed"
                do throws(SRIOVError) {
                    try await takeBack(current.id, cause: .evicted, reason: reason,
                                       audit: auditEvent(requestedBy, "lease.evict", "\(current.id) owner \(current.owner)", "released: \(target.label) drained"))
                    evicted.append(current.id.value)
                } catch {
                    logger.error("lease not evicted", metadata: ["lease": "\(current.id)", "pf": "\(target.label)", "error": "\(error.message)"])
                }
            }
            holding = leases(on: target)
        }
        guard holding.isEmpty else {
            let message = "\(target.label): the drain's deadline passed with \(LeaseEngine.named(holding)) still on it; the PF stays draining (no new leases). Release \(holding.count == 1 ? "it" : "them") and drain again, drain again with --evict (API: \"evict\": true) to release \(holding.count == 1 ? "it" : "them"), or `sriovctl pf undrain \(text)` to return the PF to service"
            await audit(requestedBy, "pf.drain", target.label, "refused: deadline passed with \(holding.count) lease\(holding.count == 1 ? "" : "s") on it")
            throw SRIOVError(.busy, message)
        }
        await audit(requestedBy, "pf.drain", target.label, evicted.isEmpty ? "drained" : "drained: evicted \(evicted.joined(separator: ", "))")
        return PFDrainStatus(pf: key, interface: target.interface?.name, state: .drained,
                             since: book.draining[key]?.since, evicted: evicted)
    }

    /// Returns a draining PF to service (journaled `pf.undrain`, audited); a PF not draining is left
    /// as it is and reported in service.
    public func undrainPF(_ text: String, requestedBy: String?) async throws(SRIOVError) -> PFDrainStatus {
        let target = try resolvePF(text)
        let key = target.device.description
        if let drain = book.draining[key] {
            let undrain = PFUndrainRecord(pf: key, interface: target.interface?.name, requestedBy: requestedBy ?? "unknown")
            try await record([.pfUndrained(undrain),
                              auditEvent(requestedBy, "pf.undrain", target.label, "in service (draining since \(drain.since))")])
            // A drain waiting on one of these leases learns at once that it was ended.
            for lease in leases(on: target) {
                guard let parked = waiters.leases.removeValue(forKey: lease.id) else { continue }
                for continuation in parked.values { continuation.resume(returning: true) }
            }
        }
        return PFDrainStatus(pf: key, interface: target.interface?.name, state: .inService, since: nil)
    }

    /// The PFs draining now, by device (`PFDevice.description`).
    public var drainingPFs: [String: PFDrainRecord] { book.draining }

    /// "lease l-1 (owner vm1)", "2 leases: l-1 (owner vm1), l-2 (owner vm2)": at most 5 named.
    static func named(_ leases: [Lease]) -> String {
        let names = leases.prefix(5).map { "\($0.id) (owner \($0.owner))" }.joined(separator: ", ")
            + (leases.count > 5 ? ", and \(leases.count - 5) more" : "")
        return leases.count == 1 ? "lease \(names)" : "\(leases.count) leases: \(names)"
    }
}
