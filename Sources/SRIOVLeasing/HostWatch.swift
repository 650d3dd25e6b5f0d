import Logging
import SRIOVCore
import Synchronization

/// How the host watch batches events and how often it reads the whole host anyway.
public struct HostWatchSettings: Sendable, Equatable {
    /// Events arriving within this long of the first one of a batch go into the same batch, and events
    /// arriving while the engine handles a batch go into the next: a flood (a driver reload sends
    /// about four uevents per VF) becomes a few engine turns, not one per event. Small next to the 2 s
    /// within which drift must be seen.
    public var coalescing: Duration
    /// The safety net: a full pass (whole host, every lease) this often, for anything an event missed.
    public var fullPassInterval: Duration

    public init(coalescing: Duration = .milliseconds(50), fullPassInterval: Duration = .seconds(300)) {
        self.coalescing = coalescing
        self.fullPassInterval = fullPassInterval
    }
}

/// Follows a host's events (`HostEventSource`) and hands them to the engine in coalesced batches
/// (`LeaseEngine.observe`), plus a periodic full pass. sriovd runs it as the `HostWatcher` service;
/// tests and the benchmark run it directly.
public struct HostWatch: Sendable {
    let engine: LeaseEngine
    let source: any HostEventSource
    let settings: HostWatchSettings
    let clock: any Clock<Duration>
    let logger: Logger
    /// Called after each batch the engine observed (metrics, tests, the benchmark).
    let onBatch: @Sendable (HostEventBatch, LeaseEngine.ObserveReport) async -> Void

    public init(engine: LeaseEngine, source: any HostEventSource, settings: HostWatchSettings = HostWatchSettings(),
                clock: any Clock<Duration> = ContinuousClock(), logger: Logger,
                onBatch: @escaping @Sendable (HostEventBatch, LeaseEngine.ObserveReport) async -> Void = { _, _ in }) {
        self.engine = engine
        self.source = source
        self.settings = settings
        self.clock = clock
        self.logger = logger
        self.onBatch = onBatch
    }

    /// Events gathered between batches, and the wake-up of the batching loop (at most one pending).
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

    /// Runs until cancelled. A source that cannot be opened (not root) is logged: the periodic full
    /// pass still runs.
    public func run() async {
        let events: AsyncStream<HostEvent>
        do throws(SRIOVError) { events = try source.events() } catch {
            logger.error("host events not followed; drift and vanished VFs are seen only on the periodic full pass",
                         metadata: ["error": "\(error.message)"])
            events = AsyncStream { $0.finish() }
        }
        let pending = Pending()
        let settings = self.settings
        let clock = self.clock
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
            // Cancellation (shutdown) ends the sleeps; the wakes and events loops end with their streams.
            await withTaskCancellationHandler {
                await group.next()
            } onCancel: {
                pending.wake.finish()
            }
            group.cancelAll()
        }
    }

    func handle(_ batch: HostEventBatch) async {
        let engine = self.engine
        // Not a child of a cancelled group: a drift restore or lost mark in progress finishes.
        let report = await Task { await engine.observe(batch) }.value
        for error in report.errors { logger.error("host watch", metadata: ["error": "\(error)"]) }
        for id in report.lost { logger.warning("lease lost: its VFs vanished", metadata: ["lease": "\(id)"]) }
        if !report.joined.isEmpty { logger.info("new VFs joined their pools", metadata: ["vfs": "\(report.joined.count)"]) }
        await onBatch(batch, report)
    }
}
