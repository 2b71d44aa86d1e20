import Hummingbird
import Logging
import Metrics
import NIOCore
import Prometheus
import ServiceLifecycle

/// The operator's own HTTP endpoint: `/metrics` (Prometheus text format), `/healthz` (the process
/// answers) and `/readyz` (the supervisor runs and its FluxInstance informers are synced; a replica
/// waiting for the leader lease is not ready).
struct OperatorHTTP: Service {
    let host: String
    let port: Int
    let registry: PrometheusCollectorRegistry
    let ready: @Sendable () -> Bool
    let logger: Logger

    /// `HOST:PORT` or `:PORT` (all interfaces).
    static func parse(_ address: String) -> (host: String, port: Int)? {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        let host = String(address[..<colon])
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    /// Installs the Prometheus registry as the process's metrics backend (once per process).
    static func bootstrapMetrics() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [.milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
                                                   .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30), .seconds(60)]
        MetricsSystem.bootstrap(factory)
        return registry
    }

    /// Serves until graceful shutdown (Hummingbird's application honours it) or cancellation.
    func run() async throws {
        let router = Router()
        router.get("healthz") { _, _ in "ok\n" }
        router.get("readyz") { [ready] _, _ -> Response in
            ready() ? Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
                    : Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: "not ready: informers not synced or not the leader\n")))
        }
        router.get("metrics") { [registry] _, _ -> Response in
            var bytes: [UInt8] = []
            registry.emit(into: &bytes)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        try await Self.serve(router, host: host, port: port, logger: logger, announce: "serving /metrics, /healthz and /readyz")
    }

    /// Runs `router` on HOST:PORT until graceful shutdown or cancellation; `announce` is logged
    /// with the bound address once listening (Hummingbird's own lines only from warnings up).
    static func serve(_ router: Router<BasicRequestContext>, host: String, port: Int, logger: Logger, announce: Logger.Message) async throws {
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "flotilla"),
                              onServerRunning: { channel in
                                  logger.notice(announce, metadata: ["address": "\(host):\(channel.localAddress?.port ?? 0)"])
                              }, logger: quiet)
        try await app.run()
    }
}
