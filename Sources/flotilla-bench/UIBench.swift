import ArgumentParser
import AsyncHTTPClient
import Dashboard
import FlotillaAPI
import Foundation
import KubeClient
import KubeEmulator
import KubeModel
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// The dashboard with many instances: how long until the overview is complete after start (its
/// one informer's list), and how fast the server renders a page of it, searches, pages and shows
/// one instance. The emulator and the dashboard run in this process, the instances carry statuses
/// of every state, and no operator runs (nothing changes under the measurement).
struct UIBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ui", abstract: "Dashboard overview and instance page latency with many instances.")

    @Option(help: "FluxInstances (spread over 10 namespaces).") var instances = 1000
    @Option(help: "Requests per scenario.") var rounds = 50
    @Option(help: "Keep serving this many seconds afterwards (to measure a browser against it).") var hold = 0

    func run() async throws {
        let (api, tls, apiPort, serving) = try await BenchEmulator.start()
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let kube = try KubeClient(configuration: ClientConfiguration(server: "https://127.0.0.1:\(apiPort)", credentials: .token(api.token(for: "admin") ?? ""),
                                                                     caCertificatePEM: Array(tls.caCertificatePEM.utf8)), logger: logger)
        try await populate(kube)

        let clock = ContinuousClock()
        let started = clock.now
        let (uiPorts, uiSink) = AsyncStream.makeStream(of: Int.self)
        var settings = DashboardServer.Settings()
        settings.port = 0
        let dashboard = Task { try await DashboardServer(client: kube, settings: settings, logger: logger) { uiSink.yield($0) }.run() }
        var uiIterator = uiPorts.makeAsyncIterator()
        guard let uiPort = await uiIterator.next() else { throw ValidationError("the dashboard did not start") }
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let base = "http://127.0.0.1:\(uiPort)"

        func get(_ path: String) async throws -> (status: Int, body: String) {
            let response = try await http.execute(HTTPClientRequest(url: base + path), timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 64 * 1024 * 1024)
            return (Int(response.status.code), String(buffer: body))
        }
        // Complete: the summary counts every instance.
        while !(try await get("/").body.contains("\(instances) of \(instances) instance(s)")) {
            try await Task.sleep(for: .milliseconds(20))
        }
        let ready = clock.now - started

        var rows: [(String, [Duration], Int)] = []
        for (name, path) in [("overview, first page (50 rows)", "/"), ("overview, 500 rows", "/?size=500"),
                             ("search + state filter + sort", "/?q=team-3&state=Failing&sort=state"),
                             ("overview, page 10", "/?page=10"), ("one instance (API GET + its Events)", "/instances/team-0/app-0")] {
            var latencies: [Duration] = []
            var bytes = 0
            for _ in 0..<rounds {
                let t0 = clock.now
                let (status, body) = try await get(path)
                latencies.append(clock.now - t0)
                guard status == 200 else { throw ValidationError("\(path): HTTP \(status)") }
                bytes = body.utf8.count
            }
            rows.append((name, latencies.sorted(), bytes))
        }
        print("\(instances) FluxInstances; overview complete \(Self.ms(ready)) after the dashboard started (its informer's list)\n")
        print("| page | p50 | p99 | bytes |")
        print("|---|---:|---:|---:|")
        for (name, latencies, bytes) in rows {
            print("| \(name) | \(Self.ms(latencies[latencies.count / 2])) | \(Self.ms(latencies[min(latencies.count - 1, latencies.count * 99 / 100)])) | \(bytes) |")
        }
        if hold > 0 {
            // Unbuffered: a script waits for this line.
            FileHandle.standardOutput.write(Data("\nServing \(base)/ for \(hold) s\n".utf8))
            try await Task.sleep(for: .seconds(hold))
        }
        try await http.shutdown()
        dashboard.cancel()
        try await kube.shutdown()
        serving.cancel()
    }

    static func ms(_ d: Duration) -> String {
        String(format: "%.1f ms", Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
    }

    /// The CRD, 10 namespaces and the instances, with statuses: 1 in 10 failing, 1 in 20 suspended.
    func populate(_ kube: KubeClient) async throws {
        _ = try await kube.apply(try YAML.decode(FluxInstanceCRD.yaml), as: .customResourceDefinitions, fieldManager: "bench", force: true)
        while (try? await kube.list(FluxInstance.resourceType, pageSize: 1, firstPageOnly: true)) == nil {
            try await Task.sleep(for: .milliseconds(50))
        }
        for team in 0..<10 {
            _ = try await kube.apply(["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string("team-\(team)")]],
                                     as: .namespaces, fieldManager: "bench", force: true)
        }
        for i in 0..<instances {
            let namespace = "team-\(i % 10)", name = "app-\(i / 10)"
            let failing = i % 10 == 3
            _ = try await kube.create(FluxInstance.resourceType, [
                "apiVersion": .string(Flotilla.apiVersion), "kind": "FluxInstance", "metadata": ["name": .string(name), "namespace": .string(namespace)],
                "spec": ["git": ["url": .string("https://git.example/\(namespace)/\(name).git")], "suspend": .bool(i % 20 == 7)],
            ], namespace: namespace)
            let revision = String(repeating: "\(i % 10)", count: 40)
            _ = try await kube.patch(FluxInstance.resourceType, name: name, namespace: namespace, [
                "status": ["lastAppliedRevision": .string(revision), "headRevision": .string(revision), "behind": .int(Int64(i % 3)),
                           "lastSyncTime": "2026-12-06T10:00:00Z", "health": ["state": failing ? "Degraded" : "Healthy"],
                           "conditions": [["type": "Ready", "status": failing ? "False" : "True", "reason": failing ? "SyncFailed" : "Synced",
                                           "message": failing ? "apply failed: a webhook refused it" : .string("Applied revision \(revision.prefix(12))"),
                                           "lastTransitionTime": "2026-12-06T10:00:00Z"]]],
            ], subresource: "status")
        }
    }
}
