import CoreMetrics
import Logging
import ServiceLifecycle
import SRIOVCore
import SRIOVLeasing
import Synchronization

/// How the host watcher batches events and how often it reads the whole host anyway.
public struct HostWatcherSettings: Sendable, Equatable {
    /// Events arriving within this long of the first one of a batch go into the same batch; a flood
    /// (a driver reload sends about four uevents per VF) becomes a few batches, not one engine turn per
    /// event. Small next to the 2 s within which drift must be seen.
    public var coalescing: Duration
    /// The safety net: a full pass (whole host, every lease) this often, for anything an event missed.
    public var fullPassInterval: Duration

    public init(coalescing: Duration = .milliseconds(50), fullPassInterval: Duration = .seconds(300)) {
        self.coalescing = coalescing
        self.fullPassInterval = fullPassInterval
    }
}

/// Follows the host's events (`HostEventSource`: netlink on a real host, the event log of the simulated
/// one) and hands them to the engine in coalesced batches (`LeaseEngine.observe`), plus a periodic full
/// pass. One `Service` in sriovd's group; off with `sriovd --no-host-events`.
public struct HostWatcher: Service {
    let engine: LeaseEngine
    let source: any HostEventSource
    let settings: HostWatcherSettings
    let clock: any Clock<Duration>
    let logger: Logger
    let factory: (any MetricsFactory)?
    /// Called after each batch the engine observed (tests, the benchmark).
    let onBatch: @Sendable (HostEventBatch, LeaseEngine.ObserveReport) async -> Void

    public init(engine: LeaseEngine, source: any HostEventSource, settings: HostWatcherSettings = HostWatcherSettings(),
                clock: any Clock<Duration> = ContinuousClock(), logger: Logger, factory: (any MetricsFactory)? = nil,
                onBatch: @escaping @Sendable (HostEventBatch, LeaseEngine.ObserveReport) async -> Void = { _, _ in }) {
        self.engine = engine
        self.source = source
        self.settings = settings
        self.clock = clock
        self.logger = logger
        self.factory = factory
        self.onBatch = onBatch
    }

    /// Events gathered between batches, and a wake-up for the batching loop.
    final class Pending: Sendable {
        let batch = Mutex(HostEventBatch())
        let wake: AsyncStream<Void>.Continuation
        let wakes: AsyncStream<Void>

        init() {
            (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        }

        func add(_ event: HostEvent) {
            batch.withLock { $0.add(event) }
            wake.yield()
        }

        func requestFullPass() {
            batch.withLock { $0.fullPass = true }
            wake.yield()
        }

        func take() -> HostEventBatch {
            batch.withLock { b in
                let taken = b
                b = HostEventBatch()
                return taken
            }
        }
    }

    public func run() async throws {
        let events: AsyncStream<HostEvent>
        do throws(SRIOVError) { events = try source.events() } catch {
            // The daemon serves on without events: the periodic full pass is then the only check.
            logger.error("host events not followed; drift and vanished VFs are seen only on the periodic full pass",
                         metadata: ["error": "\(error.message)"])
            events = AsyncStream { $0.finish() }
        }
        let pending = Pending()
        let settings = self.settings
        let clock = self.clock
        logger.info("host watcher started", metadata: ["coalescing_ms": "\(settings.coalescing.components.seconds * 1000 + settings.coalescing.components.attoseconds / 1_000_000_000_000_000)",
                                                       "full_pass_s": "\(settings.fullPassInterval.components.seconds)"])
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await event in events { pending.add(event) }
                    // The source ended (its socket failed): the periodic full pass still runs.
                }
                group.addTask {
                    while !Task.isCancelled {
                        do { try await clock.sleep(for: settings.fullPassInterval) } catch { return }
                        pending.requestFullPass()
                    }
                }
                group.addTask {
                    for await _ in pending.wakes {
                        // Let the burst finish arriving: one engine turn for all of it.
                        do { try await clock.sleep(for: settings.coalescing) } catch { return }
                        let batch = pending.take()
                        guard !batch.isEmpty else { continue }
                        await self.handle(batch)
                    }
                }
                await group.next()
                group.cancelAll()
            }
        }
    }

    func handle(_ batch: HostEventBatch) async {
        let engine = self.engine
        // Not a child of the cancelled group: a drift restore or lost mark in progress finishes.
        let report = await Task { await engine.observe(batch) }.value
        if let factory {
            Counter(label: "sriovd_host_events_total", factory: factory).increment(by: batch.eventCount)
            Counter(label: "sriovd_host_event_batches_total", dimensions: [("kind", report.fullPass ? "full" : "events")], factory: factory).increment()
            for drift in report.drift {
                Counter(label: "sriovd_lease_drift_total", dimensions: [("action", drift.action.rawValue)], factory: factory).increment()
            }
            if !report.lost.isEmpty { Counter(label: "sriovd_leases_lost_total", factory: factory).increment(by: report.lost.count) }
        }
        for error in report.errors { logger.error("host watcher", metadata: ["error": "\(error)"]) }
        for id in report.lost { logger.warning("lease lost: its VFs vanished", metadata: ["lease": "\(id)"]) }
        if !report.joined.isEmpty { logger.info("new VFs joined their pools", metadata: ["vfs": "\(report.joined.count)"]) }
        await onBatch(batch, report)
    }
}
