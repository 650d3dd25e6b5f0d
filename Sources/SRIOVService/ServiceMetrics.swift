import CoreMetrics
import Foundation
import Metrics
import Prometheus
import SRIOVCore
import SRIOVLeasing
import Synchronization

/// sriovd's metrics: swift-metrics instruments made by an injected factory, and the Prometheus registry
/// `GET /metrics` renders. `sriovd` bootstraps `MetricsSystem` with the same factory (main.swift); tests
/// and the router's default get a private registry, so nothing global changes.
public final class ServiceMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let factory: any MetricsFactory
    /// The leased VFs' counters (nil: not in `/metrics`).
    public let vfStats: VFStatsMetrics?

    /// Journal counters as of the last scrape (the journal's statistics are totals; counters only grow).
    private let lastJournal = Mutex<(fsyncs: Int, seconds: Double, drift: Int)>((0, 0, 0))

    /// A lease operation timed by a route handler.
    public enum Operation: String, Sendable, CaseIterable { case acquire, release, renew }

    /// `vfStatsInterval`: how long one read of the leased VFs' counters serves scrapes (nil: no VF
    /// counters in `/metrics`).
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), vfStatsInterval: Duration? = .seconds(5)) {
        self.registry = registry
        vfStats = vfStatsInterval.map { VFStatsMetrics(interval: $0) }
        var factory = PrometheusMetricsFactory(registry: registry)
        // Lease operations run from a few milliseconds (simulated host) to seconds (vfio-pci binds).
        factory.durationHistogramBuckets["sriovd_lease_operation_duration_seconds"] = [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5),
            .seconds(10), .seconds(30),
        ]
        // One host operation (a sysfs write, a netlink request) takes from tens of microseconds to, for a
        // driver bind, hundreds of milliseconds.
        factory.durationHistogramBuckets["sriovd_host_operation_duration_seconds"] = [
            .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
            .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .seconds(1),
        ]
        self.factory = factory
    }

    /// One host operation of a lease step (`HostProfile`): `sriovd_host_operation_duration_seconds{op}`.
    public func hostOperation(_ operation: String, _ duration: Duration) {
        let factory = self.factory
        let timer = instruments.withLock { made -> Metrics.Timer in
            if let existing = made.hostTimers[operation] { return existing }
            let timer = Metrics.Timer(label: "sriovd_host_operation_duration_seconds", dimensions: [("op", operation)], factory: factory)
            made.hostTimers[operation] = timer
            return timer
        }
        timer.recordNanoseconds(duration.nanoseconds)
    }

    /// Runs one lease operation, counting it by result (`ok` or the error's code) and timing it.
    public func measure<T>(_ operation: Operation, _ body: () async throws -> T) async throws -> T {
        let start = ContinuousClock.now
        do {
            let value = try await body()
            record(operation, result: "ok", since: start)
            return value
        } catch {
            record(operation, result: (error as? SRIOVError)?.code.rawValue ?? "internal", since: start)
            throw error
        }
    }

    /// Counts a connection closed at accept for being past a limit (`ConnectionLimits`), by reason
    /// (`tcp-total`, `tcp-address`, `unix-uid`): `sriovd_connections_refused_total`.
    public func connectionRefused(reason: String) {
        let factory = self.factory
        let counter = instruments.withLock { made -> CoreMetrics.Counter in
            let key = "connections " + reason
            if let existing = made.counters[key] { return existing }
            let counter = Counter(label: "sriovd_connections_refused_total", dimensions: [("reason", reason)], factory: factory)
            made.counters[key] = counter
            return counter
        }
        counter.increment()
    }

    /// The instruments of lease operations, made on first use (not one registry look-up per request).
    private struct Instruments {
        var counters: [String: CoreMetrics.Counter] = [:]
        var timers: [Operation: Metrics.Timer] = [:]
        var hostTimers: [String: Metrics.Timer] = [:]
    }
    private let instruments = Mutex(Instruments())

    func record(_ operation: Operation, result: String, since start: ContinuousClock.Instant) {
        let elapsed = start.duration(to: .now)
        let factory = self.factory
        // Results are "ok" or an error code: a few counters per operation.
        let (counter, timer) = instruments.withLock { made -> (CoreMetrics.Counter, Metrics.Timer) in
            let key = operation.rawValue + " " + result
            let counter: CoreMetrics.Counter
            if let existing = made.counters[key] {
                counter = existing
            } else {
                counter = Counter(label: "sriovd_lease_operations_total", dimensions: [("op", operation.rawValue), ("result", result)],
                                  factory: factory)
                made.counters[key] = counter
            }
            let timer: Metrics.Timer
            if let existing = made.timers[operation] {
                timer = existing
            } else {
                timer = Metrics.Timer(label: "sriovd_lease_operation_duration_seconds", dimensions: [("op", operation.rawValue)],
                                      factory: factory)
                made.timers[operation] = timer
            }
            return (counter, timer)
        }
        counter.increment()
        timer.recordNanoseconds(elapsed.nanoseconds)
    }

    /// Brings the scrape-time gauges and counters up to date, then renders the registry and the leased
    /// VFs' counters (`VFStatsMetrics`).
    public func scrape(engine: LeaseEngine?) async throws -> String {
        if let engine {
            for pool in try await engine.pools() {
                for (state, count) in [("free", pool.free), ("leased", pool.leased), ("quarantined", pool.quarantined)] {
                    Gauge(label: "sriovd_pool_vfs", dimensions: [("pool", pool.name), ("state", state)], factory: factory)
                        .record(count)
                }
                // PF health: how many of the pool's PFs have no carrier, or are draining.
                let links = pool.pfLinks ?? []
                for (state, count) in [("total", links.count), ("no_carrier", pool.pfsWithoutCarrier ?? 0), ("draining", pool.pfsDraining ?? 0)] {
                    Gauge(label: "sriovd_pool_pfs", dimensions: [("pool", pool.name), ("state", state)], factory: factory)
                        .record(count)
                }
                for link in links where link.interface != nil {
                    Gauge(label: "sriovd_pf_carrier", dimensions: [("pf", link.interface ?? link.pf)], factory: factory)
                        .record(link.carrier == true ? 1 : 0)
                }
            }
            let stats = await engine.journalStatistics
            let drift = engine.eventFeed.driftFound
            let (fsyncs, seconds, driftDelta) = lastJournal.withLock { last in
                // A smaller total means a new engine (journal reopened): count from its start.
                let f = stats.fsyncs >= last.fsyncs ? stats.fsyncs - last.fsyncs : stats.fsyncs
                let s = stats.fsyncSeconds >= last.seconds ? stats.fsyncSeconds - last.seconds : stats.fsyncSeconds
                let d = drift >= last.drift ? drift - last.drift : drift
                last = (stats.fsyncs, stats.fsyncSeconds, drift)
                return (f, s, d)
            }
            Counter(label: "sriovd_journal_fsyncs_total", factory: factory).increment(by: fsyncs)
            FloatingPointCounter(label: "sriovd_journal_fsync_seconds_total", factory: factory).increment(by: seconds)
            Counter(label: "sriovd_reconcile_drift_total", factory: factory).increment(by: driftDelta)
        }
        let text = registry.emitToString()
        guard let engine, let vfStats else { return text }
        return text + (await vfStats.text(engine: engine))
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
