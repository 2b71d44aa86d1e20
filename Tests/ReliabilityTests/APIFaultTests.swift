import FlotillaAPI
import Foundation
import GitTesting
import KubeClient
import KubeEmulator
import KubeModel
import KubeTesting
import Logging
import Manifests
import Operator
import Sync
import Synchronization
import Testing

/// API faults while 20 instances sync a stream of commits: 500s, 429 with Retry-After, added
/// latency, dropped watches, 410 on every watch, and the API server unreachable. Afterwards every
/// instance converges to its repository's head, nothing was deleted, the informers missed nothing
/// and git holds exactly the commits that were made (the operator adds none, and one sync tag).
/// `FLOTILLA_FAULTS_LONG=1` runs the figures of RELIABILITY.md (a minute of 410s, 30 s unreachable).
@Suite("API faults during continuous syncing", .serialized)
struct APIFaultTests {
    static let instances = 20

    @Test("20 instances converge after 500s, 429s, latency, dropped watches, 410 on every watch and an unreachable API server")
    func apiFaults() async throws {
        let long = ProcessInfo.processInfo.environment["FLOTILLA_FAULTS_LONG"] != nil
        let phase: Duration = long ? .seconds(20) : .seconds(3)
        let goneFor: Duration = long ? .seconds(60) : .seconds(4)
        let outage: Duration = long ? .seconds(30) : .seconds(6)
        try await withTestCluster { cluster in
            let proxy = try TCPFaultProxy(upstreamPort: cluster.port)
            defer { proxy.stop() }
            let admin = try cluster.client()
            _ = try await admin.create(.namespaces, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "faults"]])
            _ = try await admin.create(.customResourceDefinitions, try YAML.decode(FluxInstanceCRD.yaml))
            #expect(try await eventually { (try? await admin.list(FluxInstance.resourceType)) != nil })
            // The operator reaches the API server through the proxy.
            var configuration = cluster.configuration()
            configuration.server = "https://127.0.0.1:\(proxy.port)"
            let client = try KubeClient(configuration: configuration)
            var logger = Logger(label: "faults")
            logger.logLevel = .critical
            let supervisor = Supervisor(environment: OperatorEnvironment(client: client, workRoot: tempDir("faults"), concurrency: 4, tenancy: TenancyPolicy(generators: .bubblewrap(Bubblewrap())), logger: logger))
            let running = Task { try await supervisor.run() }

            var repos: [UpstreamRepo] = []
            for i in 0..<Self.instances {
                let repo = try UpstreamRepo(files: ["app.yaml": Self.configMap(i, value: 0)])
                repos.append(repo)
                _ = try await admin.apply(["apiVersion": .string(Flotilla.apiVersion), "kind": "FluxInstance",
                                           "metadata": ["name": .string("i\(i)"), "namespace": "faults"],
                                           "spec": ["git": ["url": .string(repo.url), "pollInterval": "1s"], "sync": ["interval": "1h"]]],
                                          as: FluxInstance.resourceType, fieldManager: "kubectl", force: true)
            }
            let heads = repos.map { try? $0.head() }
            #expect(try await eventually(timeout: .seconds(60)) { try await Self.converged(admin, heads: heads) }, "first syncs")

            // A stream of commits through every fault.
            let commits = CommitCounts(Self.instances)
            let committing = Task.detached {
                var n = 0
                while !Task.isCancelled {
                    let i = n % Self.instances
                    n += 1
                    let value = commits.next(i)
                    _ = try? repos[i].commit(["app.yaml": Self.configMap(i, value: value)], message: "value \(value)")
                    try? await Task.sleep(for: .milliseconds(150))
                }
            }
            let api = cluster.api
            // Each fault stays until it has answered enough requests (or its phase is over).
            func until(_ id: Int, hits: Int, atLeast minimum: Duration = .zero) async throws {
                let start = ContinuousClock.now
                _ = try await eventually(timeout: .seconds(30)) { api.faultHits(id) >= hits && ContinuousClock.now - start >= minimum }
            }
            let e500 = api.injectFault(FaultRule(verb: "patch", action: .status(500), times: 40))
            let e500get = api.injectFault(FaultRule(verb: "list", action: .status(500), times: 40))
            try await until(e500, hits: 40, atLeast: phase)
            let e429 = api.injectFault(FaultRule(action: .status(429, retryAfterSeconds: 1), times: 60))
            try await until(e429, hits: 60, atLeast: phase)
            let slow = api.injectFault(FaultRule(action: .latency(.milliseconds(250))))
            try await until(slow, hits: 50, atLeast: phase)
            api.removeFault(slow)
            var drops = 0
            let dropUntil = ContinuousClock.now + phase
            while ContinuousClock.now < dropUntil {
                drops += api.openWatches
                api.dropWatches()
                try await Task.sleep(for: .milliseconds(500))
            }
            api.forceCompaction()
            let gone = api.injectFault(FaultRule(verb: "watch", action: .status(410)))
            api.dropWatches()
            try await until(gone, hits: 5, atLeast: goneFor)
            api.removeFault(gone)
            proxy.down()
            try await Task.sleep(for: outage)
            proxy.up()
            committing.cancel()
            _ = await committing.value
            let hits = [("500 on patch", api.faultHits(e500)), ("500 on list", api.faultHits(e500get)), ("429 Retry-After 1", api.faultHits(e429)),
                    ("250 ms latency", api.faultHits(slow)), ("watch streams dropped", drops), ("410 on watch", api.faultHits(gone))]

            // Convergence: every instance at its repository's head, every ConfigMap at its last value.
            let finalHeads = repos.map { try? $0.head() }
            let converged = try await eventually(timeout: .seconds(90)) { try await Self.converged(admin, heads: finalHeads) }
            #expect(converged, "every instance applies its head after the faults")
            let values = commits.values
            for i in 0..<Self.instances {
                let data = try await admin.get(.configMaps, name: "cm\(i)", namespace: "faults")["data"]?["v"]?.stringValue
                #expect(data == "\(values[i])", "cm\(i) holds the last committed value")
            }
            #expect(api.requestCount(verb: "delete", resource: "configmaps") == 0, "nothing was deleted")

            // The informers missed nothing: a spec change of every instance reaches its reconciler.
            for i in 0..<Self.instances {
                _ = try await admin.patch(FluxInstance.resourceType, name: "i\(i)", namespace: "faults", ["spec": ["sync": ["interval": "59m"]]])
            }
            let seen = try await eventually(timeout: .seconds(30)) {
                var all = true
                for i in 0..<Self.instances {
                    let generation = try await admin.get(FluxInstance.self, name: "i\(i)", namespace: "faults").metadata.generation
                    let known = await supervisor.reconciler(InstanceRef(namespace: "faults", name: "i\(i)"))?.settings.generation
                    all = all && known == generation
                }
                return all
            }
            #expect(seen, "every reconciler has the newest spec")

            // Git holds exactly the commits made: none by the operator, one sync tag at the head.
            for (i, repo) in repos.enumerated() {
                let count = Int(try sh(["git", "--git-dir", repo.bare, "rev-list", "--count", "main"])) ?? -1
                #expect(count == 1 + values[i], "repository \(i): \(count) commits for \(values[i]) made")
                #expect(try sh(["git", "--git-dir", repo.bare, "tag"]) == "flux-sync")
                #expect(try sh(["git", "--git-dir", repo.bare, "rev-parse", "flux-sync^{commit}"]) == (try repo.head()))
            }
            let made = values.reduce(0, +)
            for (fault, count) in hits { #expect(count > 0, "\(fault) was injected") }
            print("RELIABILITY api-faults instances=\(Self.instances) commits=\(made) " + hits.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
                  + " outage=\(outage) converged=\(converged) watches-seen=\(seen)")
            running.cancel()
            _ = try? await running.value
            try? await client.shutdown()
            try? await admin.shutdown()
        }
    }

    static func configMap(_ i: Int, value: Int) -> String {
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\(i)\ndata:\n  v: \"\(value)\"\n"
    }

    static func converged(_ client: KubeClient, heads: [String?]) async throws -> Bool {
        for (i, head) in heads.enumerated() {
            guard let status = try? await client.get(FluxInstance.self, name: "i\(i)", namespace: "faults").status,
                  status.lastAppliedRevision == head, status.conditions?.first(where: { $0.type == "Ready" })?.status == "True" else { return false }
        }
        return true
    }
}

/// Commits made per repository (shared with the committing task).
final class CommitCounts: Sendable {
    let counts: Mutex<[Int]>
    init(_ n: Int) { counts = Mutex([Int](repeating: 0, count: n)) }
    func next(_ i: Int) -> Int { counts.withLock { c in c[i] += 1; return c[i] } }
    var values: [Int] { counts.withLock { $0 } }
}
