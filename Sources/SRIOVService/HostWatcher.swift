import CoreMetrics
import Logging
import ServiceLifecycle
import SRIOVCore
import SRIOVLeasing

/// The host watch (`HostWatch`: the host's events, coalesced, handed to the engine, and a periodic full
/// pass) as a `Service` in sriovd's group, with its counters in `/metrics`. Off with
/// `sriovd --no-host-events`.
public struct HostWatcher: Service {
    let watch: HostWatch

    public init(engine: LeaseEngine, source: any HostEventSource, settings: HostWatchSettings = HostWatchSettings(),
                logger: Logger, factory: (any MetricsFactory)? = nil) {
        watch = HostWatch(engine: engine, source: source, settings: settings, logger: logger) { batch, report in
            guard let factory else { return }
            Counter(label: "sriovd_host_events_total", factory: factory).increment(by: batch.eventCount)
            Counter(label: "sriovd_host_event_batches_total", dimensions: [("kind", report.fullPass ? "full" : "events")],
                    factory: factory).increment()
            for drift in report.drift {
                Counter(label: "sriovd_lease_drift_total", dimensions: [("action", drift.action.rawValue)], factory: factory).increment()
            }
            if !report.lost.isEmpty { Counter(label: "sriovd_leases_lost_total", factory: factory).increment(by: report.lost.count) }
        }
    }

    public func run() async throws {
        let watch = self.watch
        await cancelWhenGracefulShutdown { await watch.run() }
    }
}
