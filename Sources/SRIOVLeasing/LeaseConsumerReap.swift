import SRIOVCore

extension LeaseEngine {
    /// How long a consumer must be seen gone, continuously, before its lease is taken back (default 30 s).
    public func setConsumerGrace(seconds: Double) {
        consumerGrace = max(0, seconds)
    }

    /// The request with its consumer as it will be journaled: a pid named without its start time gets
    /// the one it has now (a pid that does not exist is refused); a pid named with one must still have it.
    /// Other consumers may appear after the lease (a VM that libvirt starts once its prepare hook returns).
    func resolvingConsumer(_ request: LeaseRequest) throws(SRIOVError) -> LeaseRequest {
        guard let consumer = request.consumer else { return request }
        if host.consumers is UnprobedConsumers {
            throw SRIOVError(.unsupported, "this host cannot watch a lease's consumer; leave --consumer out")
        }
        guard case .pid(let pid, let given) = consumer else { return request }
        guard let now = host.consumers.processStartTime(pid) else {
            throw SRIOVError(.notFound, "consumer pid \(pid): no such process; name a running process (the VM's QEMU), or leave --consumer out")
        }
        if let given, given != now {
            throw SRIOVError(.notFound, "consumer pid \(pid)@\(given): no such process: process \(pid) was started at \(now), not \(given) (the pid was reused); name the running process, or give pid:\(pid) for sriovd to read its start time")
        }
        var resolved = request
        resolved.consumer = .pid(pid, startTime: now)
        return resolved
    }

    /// Takes back every active lease whose consumer has been seen gone, in every probe without a break,
    /// for the grace period: the normal release (scrub, return), with cause `consumer-gone`, an audit
    /// record and a `lease.reclaimed` event. A consumer seen present (or that cannot be told) again
    /// starts the grace over. Leases without a consumer are left to their TTL. Returns the ids reclaimed.
    public func reapGoneConsumers() async -> [LeaseID] {
        let now = clock.now()
        for id in consumerGoneSince.keys where book.lease(id) == nil { consumerGoneSince.removeValue(forKey: id) }
        var reaped: [LeaseID] = []
        for listed in leases() {
            // Looked up again: an earlier reclaim awaited, and this lease may have been released meanwhile.
            guard let lease = book.lease(listed.id), lease.state == .active, !busy.contains(lease.id) else { continue }
            guard let consumer = lease.request.consumer else { continue }
            let reason: String
            switch host.consumers.presence(of: consumer) {
            case .present, .unknown:
                consumerGoneSince.removeValue(forKey: lease.id)
                continue
            case .gone(let why):
                reason = why
            }
            let since = consumerGoneSince[lease.id] ?? now
            consumerGoneSince[lease.id] = since
            guard now - since >= consumerGrace else { continue }
            let seconds = Int((now - since).rounded())
            do throws(SRIOVError) {
                busy.insert(lease.id)
                defer { busy.remove(lease.id) }
                try await takeBack(lease.id, cause: .consumerGone, reason: "consumer \(consumer) gone for \(seconds) s: \(reason)",
                                   audit: auditEvent("sriovd", "lease.reclaim", "\(lease.id) owner \(lease.owner) consumer \(consumer)",
                                                     "reclaimed (\(reason))"))
                consumerGoneSince.removeValue(forKey: lease.id)
                reaped.append(lease.id)
            } catch {
                logger.error("cannot reclaim a lease whose consumer is gone", metadata: ["lease": "\(lease.id)", "error": "\(error.message)"])
            }
        }
        return reaped
    }
}
