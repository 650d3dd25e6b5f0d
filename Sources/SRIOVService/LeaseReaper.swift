import Logging
import ServiceLifecycle
import SRIOVLeasing

/// Releases expired leases, and leases whose consumer is gone for the grace period (`lease.reclaimed`), every `interval` until graceful shutdown, and re-reads the pooled PFs' links
/// (`LeaseEngine.refreshPFLinks`: `pf.down` / `pf.up` events) on the same tick. A reap that has started finishes
/// (it runs outside this service's cancellation): a release is never cut off halfway.
public struct LeaseReaper: Service {
    let engine: LeaseEngine
    let interval: Duration
    let logger: Logger

    public init(engine: LeaseEngine, interval: Duration = .seconds(5), logger: Logger) {
        self.engine = engine
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        let engine = self.engine
        let logger = self.logger
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                // Not a child task: shutdown cancels the sleep, never a release in progress.
                let reaped = await Task { await engine.reapExpired() }.value
                for id in reaped { logger.info("lease expired and released", metadata: ["lease": "\(id)"]) }
                let reclaimed = await Task { await engine.reapGoneConsumers() }.value
                for id in reclaimed { logger.info("lease's consumer gone; lease reclaimed", metadata: ["lease": "\(id)"]) }
                await engine.refreshPFLinks()
            }
        }
    }
}
