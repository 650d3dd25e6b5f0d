import Hummingbird
import SRIOVLeasing

/// `GET /metrics`: Prometheus text exposition. Pool gauges and journal counters are brought up to date
/// at each scrape; before the engine is ready only the counters recorded so far are there.
enum MetricsRoutes {
    static func register(on router: Router<ServiceRequestContext>, slot: EngineSlot, metrics: ServiceMetrics) {
        router.get("/metrics") { _, _ in
            let text = try await metrics.scrape(engine: slot.phase == .ready ? slot.engine : nil)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
    }
}
