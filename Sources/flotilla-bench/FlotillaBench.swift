import ArgumentParser
import AsyncHTTPClient
import Foundation
import KubeEmulator
import KubeModel
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

@main
struct FlotillaBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flotilla-bench",
        abstract: "Flotilla's benchmarks. Results are printed as Markdown for BENCHMARKS.md.",
        subcommands: [EmulatorBench.self, UIBench.self, CodecBench.self, InformerBench.self, GitBench.self, SyncBench.self, OperatorBench.self, RegistryBench.self, FuzzBench.self])
}

/// Throughput and latency of the Kubernetes API emulator over HTTPS on loopback, driven by
/// AsyncHTTPClient with keep-alive connections (client and server share the machine).
struct EmulatorBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "emulator", abstract: "GET and server-side-apply PATCH throughput of the emulator.")

    @Option(help: "Seconds per scenario.")
    var seconds = 5

    @Option(help: "Concurrent requests (one keep-alive connection each).")
    var concurrency = 16

    struct Result {
        var name: String
        var requests: Int
        var errors: Int
        var elapsed: Duration
        var latencies: [Duration]

        var rate: Double { Double(requests) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18) }

        func percentile(_ p: Double) -> String {
            let sorted = latencies.sorted()
            guard !sorted.isEmpty else { return "-" }
            let d = sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
            return String(format: "%.2f ms", Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1000)
        }
    }

    func run() async throws {
        let (api, tls, port, serving) = try await BenchEmulator.start()

        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        tlsConfiguration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(tls.caCertificatePEM.utf8)))
        var clientConfiguration = HTTPClient.Configuration(tlsConfiguration: tlsConfiguration)
        clientConfiguration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = concurrency
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
        let base = "https://127.0.0.1:\(port)"
        let token = api.token(for: "admin")!

        func send(_ method: HTTPMethod, _ path: String, body: String? = nil, contentType: String = "application/json") async throws -> Int {
            var request = HTTPClientRequest(url: base + path)
            request.method = method
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Content-Type", value: contentType)
            if let body { request.body = .bytes(ByteBuffer(string: body)) }
            let response = try await client.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 16 * 1024 * 1024)
            return Int(response.status.code)
        }

        _ = try await send(.POST, "/api/v1/namespaces", body: #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bench"}}"#)
        _ = try await send(.POST, "/api/v1/namespaces/bench/configmaps",
                           body: #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c0","labels":{"app":"bench"}},"data":{"a":"1"}}"#)

        func scenario(_ name: String, _ make: @escaping @Sendable (Int, Int) -> (HTTPMethod, String, String?, String)) async -> Result {
            let clock = ContinuousClock()
            let start = clock.now
            let deadline = start + .seconds(seconds)
            let results = await withTaskGroup(of: (Int, Int, [Duration]).self) { group in
                for worker in 0..<concurrency {
                    group.addTask {
                        var ok = 0
                        var errors = 0
                        var latencies: [Duration] = []
                        var i = 0
                        while clock.now < deadline {
                            let (method, path, body, type) = make(worker, i)
                            let t0 = clock.now
                            let status = (try? await send(method, path, body: body, contentType: type)) ?? 0
                            latencies.append(clock.now - t0)
                            if (200..<300).contains(status) { ok += 1 } else { errors += 1 }
                            i += 1
                        }
                        return (ok, errors, latencies)
                    }
                }
                var total = (0, 0, [Duration]())
                for await r in group {
                    total.0 += r.0
                    total.1 += r.1
                    total.2 += r.2
                }
                return total
            }
            return Result(name: name, requests: results.0, errors: results.1, elapsed: clock.now - start, latencies: results.2)
        }

        var rows: [Result] = []
        rows.append(await scenario("GET configmap") { _, _ in (.GET, "/api/v1/namespaces/bench/configmaps/c0", nil, "application/json") })
        rows.append(await scenario("SSA PATCH (create, then change a value)") { worker, i in
            let body = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"w\#(worker)"},"data":{"n":"\#(i)"}}"#
            return (.PATCH, "/api/v1/namespaces/bench/configmaps/w\(worker)?fieldManager=bench", body, "application/apply-patch+yaml")
        })
        rows.append(await scenario("SSA PATCH (no-op re-apply)") { worker, _ in
            let body = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"w\#(worker)"},"data":{"n":"same"}}"#
            return (.PATCH, "/api/v1/namespaces/bench/configmaps/w\(worker)?fieldManager=bench", body, "application/apply-patch+yaml")
        })
        rows.append(await scenario("LIST configmaps (label selector)") { _, _ in (.GET, "/api/v1/namespaces/bench/configmaps?labelSelector=app%3Dbench", nil, "application/json") })

        print("| scenario | requests | errors | requests/s | p50 | p99 |")
        print("|---|---:|---:|---:|---:|---:|")
        for r in rows {
            print("| \(r.name) | \(r.requests) | \(r.errors) | \(String(format: "%.0f", r.rate)) | \(r.percentile(0.5)) | \(r.percentile(0.99)) |")
        }
        try await client.shutdown()
        serving.cancel()
    }
}

/// The emulator over HTTPS on a free loopback port, in this process, for a benchmark.
enum BenchEmulator {
    static func start() async throws -> (api: KubeAPIServer, tls: TLSMaterial, port: Int, serving: Task<Void, any Error>) {
        let tls = try TLSMaterial.generate()
        var configuration = EmulatorConfiguration.withDefaultUsers()
        configuration.caBundlePEM = tls.caCertificatePEM
        let api = KubeAPIServer(configuration: configuration)
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let server = EmulatorHTTPServer(api: api, tls: tls, port: 0, logger: logger)
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let serving = Task { try await server.run { portSink.yield($0) } }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw ValidationError("the emulator did not start") }
        return (api, tls, port, serving)
    }
}
