import FlotillaAPI
import Foundation
import GitTesting
import KubeClient
import KubeModel
import KubeTesting
import Logging
import Manifests
import Operator
import Testing

/// Git and registry faults: a remote that is gone, one that answers garbage, one that hangs, a
/// history rewritten by a force-push, a registry answering 500. Each is a clear status; nothing is
/// garbage-collected from a partial view; each recovers when fixed; a healthy instance beside them
/// keeps following its commits.
@Suite("Git and registry faults", .serialized)
struct GitRegistryFaultTests {
    @Test("gone, garbage, hanging and rewritten remotes: clear status, no GC from a partial view, recovery; the healthy instance keeps going")
    func gitFaults() async throws {
        let garbage = try BadGitServer(mode: "garbage")
        let hanging = try BadGitServer(mode: "hang")
        defer { garbage.stop(); hanging.stop() }
        try await withInProcessOperator { op in
            let gc: JSONValue = ["interval": "1h", "garbageCollection": ["enabled": true, "maxDeletePercent": 100]]
            let good = try UpstreamRepo(files: ["app.yaml": cm("good", "1")])
            let gone = try UpstreamRepo(files: ["app.yaml": cm("gone-a", "1") + "---\n" + cm("gone-b", "1")])
            let rewritten = try UpstreamRepo(files: ["app.yaml": [cm("rw-a", "1"), cm("rw-b", "1"), cm("rw-c", "1")].joined(separator: "---\n")])
            try await op.apply("good", ["git": ["url": .string(good.url), "pollInterval": "1s"], "sync": gc])
            try await op.apply("gone", ["git": ["url": .string(gone.url), "pollInterval": "1s"], "sync": gc])
            try await op.apply("rewritten", ["git": ["url": .string(rewritten.url), "pollInterval": "1s"], "sync": gc])
            try await op.apply("garbage", ["git": ["url": .string(garbage.url), "pollInterval": "1s", "timeout": "3s"]])
            try await op.apply("hanging", ["git": ["url": .string(hanging.url), "pollInterval": "1s", "timeout": "2s"]])
            for name in ["good", "gone", "rewritten"] { #expect(try await op.reason(name, is: "Synced")) }
            #expect(try await op.reason("garbage", is: "GitFetchFailed"))
            #expect(try await op.reason("hanging", is: "GitFetchFailed"))
            let garbageMessage = try await op.status("garbage")?.lastError ?? ""
            let hangingMessage = try await op.status("hanging")?.lastError ?? ""
            #expect(garbageMessage.contains("127.0.0.1:\(garbage.port)"), "names the remote: \(garbageMessage)")
            #expect(hangingMessage.lowercased().contains("time"), "a hang is a timeout: \(hangingMessage)")

            // The remote disappears: GitFetchFailed, and nothing is collected from what cannot be read.
            try FileManager.default.moveItem(atPath: gone.bare, toPath: gone.bare + ".away")
            #expect(try await op.reason("gone", is: "GitFetchFailed"))
            try await Task.sleep(for: .seconds(2))
            let keptA = try await op.configMap("gone-a"), keptB = try await op.configMap("gone-b")
            #expect(keptA != nil && keptB != nil, "no GC from a partial view")
            try FileManager.default.moveItem(atPath: gone.bare + ".away", toPath: gone.bare)
            try gone.commit(["app.yaml": cm("gone-a", "2") + "---\n" + cm("gone-b", "2")], message: "back")
            #expect(try await op.applied("gone", try gone.head()), "recovers when the remote is back")

            // History rewritten (force-push): the new head is applied; what it no longer declares goes.
            try sh(["git", "checkout", "-q", "--orphan", "rewrite"], cwd: rewritten.work)
            try [cm("rw-a", "2"), cm("rw-b", "2")].joined(separator: "---\n").write(toFile: rewritten.work + "/app.yaml", atomically: true, encoding: .utf8)
            try sh(["git", "add", "-A"], cwd: rewritten.work)
            try sh(["git", "commit", "-qm", "rewritten"], cwd: rewritten.work)
            try sh(["git", "push", "-qf", "origin", "rewrite:main"], cwd: rewritten.work)
            let newHead = try rewritten.head()
            #expect(try await op.applied("rewritten", newHead), "the rewritten head is applied")
            #expect(try await op.configMap("rw-a")?["data"]?["v"] == "2")
            #expect(try await eventually { try await op.configMap("rw-c") == nil }, "what left git after the rewrite is collected")

            // Through all of it the healthy instance follows its commits.
            try good.commit(["app.yaml": cm("good", "2")], message: "two")
            #expect(try await op.applied("good", try good.head()))
            #expect(try await op.configMap("good")?["data"]?["v"] == "2")
            print("RELIABILITY git-faults gone=recovered garbage=GitFetchFailed hang=GitFetchFailed(timeout) force-push=applied healthy=followed")
        }
    }

    @Test("a registry answering 500: the error is in status.images, the sync stays Ready, automation recovers")
    func registryErrors() async throws {
        let registry = try LocalRegistry()
        defer { registry.stop() }
        let created = Date(timeIntervalSince1970: 1_700_000_000)
        try registry.push("team/app", tag: "1.0.0", created: created)
        try registry.push("team/app", tag: "1.0.1", created: created.addingTimeInterval(60))
        let proxy = try RegistryFaultProxy(upstream: registry, mode: .serverError(6))
        defer { proxy.stop() }
        try await withInProcessOperator { op in
            let repo = try UpstreamRepo(files: ["app.yaml": """
                apiVersion: apps/v1
                kind: Deployment
                metadata:
                  name: app
                  annotations: {fluxcd.io/automated: "true"}
                spec:
                  selector: {matchLabels: {app: app}}
                  template:
                    metadata: {labels: {app: app}}
                    spec:
                      containers: [{name: app, image: "\(proxy.host)/team/app:1.0.0"}]

                """])
            try await op.apply("apps", ["git": ["url": .string(repo.url), "pollInterval": "1s"], "sync": ["interval": "1h"],
                                        "registry": ["insecureHosts": [.string(proxy.host)], "pollInterval": "1s"], "automation": ["interval": "1s"]])
            var sawError = false
            let recovered = try await eventually(timeout: .seconds(40)) {
                let status = try await op.status("apps")
                if status?.images?.error?.contains("500") == true { sawError = true }
                return try sh(["git", "--git-dir", repo.bare, "log", "-1", "--format=%s", "main"]).hasPrefix("Auto-release")
            }
            #expect(recovered, "automation commits once the registry answers")
            let served = try proxy.stats().limited
            #expect(served == 6, "the registry answered 500 six times")
            #expect(sawError, "the 500 was reported in status.images.error while it lasted")
            #expect(try await op.reason("apps", is: "Synced"), "registry errors never fail the sync")
            print("RELIABILITY registry-500 injected=\(served) error-in-status=\(sawError) recovered=\(recovered)")
        }
    }
}

func cm(_ name: String, _ value: String) -> String {
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \(name)\ndata:\n  v: \"\(value)\"\n"
}

/// The operator in process against the emulator, serving namespace `faults`.
final class InProcessOperator: Sendable {
    let client: KubeClient
    let supervisor: Supervisor
    let task: Task<Void, any Error>
    let namespace = "faults"

    init(cluster: TestCluster) async throws {
        client = try cluster.client()
        _ = try await client.create(.namespaces, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "faults"]])
        _ = try await client.create(.customResourceDefinitions, try YAML.decode(FluxInstanceCRD.yaml))
        let client = client
        _ = try await eventually { (try? await client.list(FluxInstance.resourceType)) != nil }
        var logger = Logger(label: "faults")
        logger.logLevel = .critical
        let supervisor = Supervisor(environment: OperatorEnvironment(client: client, workRoot: tempDir("faults"), concurrency: 4, tenancy: TenancyPolicy(generators: .bubblewrap(Bubblewrap())), logger: logger))
        self.supervisor = supervisor
        task = Task { try await supervisor.run() }
    }

    func apply(_ name: String, _ spec: JSONValue) async throws {
        _ = try await client.apply(["apiVersion": .string(Flotilla.apiVersion), "kind": "FluxInstance",
                                    "metadata": ["name": .string(name), "namespace": .string(namespace)], "spec": spec],
                                   as: FluxInstance.resourceType, fieldManager: "kubectl", force: true)
    }

    func status(_ name: String) async throws -> FluxInstanceStatus? {
        try await client.get(FluxInstance.self, name: name, namespace: namespace).status
    }

    func reason(_ name: String, is reason: String) async throws -> Bool {
        try await eventually(timeout: .seconds(30)) {
            try await self.status(name)?.conditions?.first { $0.type == "Ready" }?.reason == reason
        }
    }

    func applied(_ name: String, _ revision: String) async throws -> Bool {
        try await eventually(timeout: .seconds(30)) { try await self.status(name)?.lastAppliedRevision == revision }
    }

    func configMap(_ name: String) async throws -> JSONValue? {
        do { return try await client.get(.configMaps, name: name, namespace: namespace) } catch {
            if error.isNotFound { return nil }
            throw error
        }
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
        try? await client.shutdown()
    }
}

func withInProcessOperator(_ body: (InProcessOperator) async throws -> Void) async throws {
    try await withTestCluster { cluster in
        let op = try await InProcessOperator(cluster: cluster)
        do {
            try await body(op)
            await op.stop()
        } catch {
            await op.stop()
            throw error
        }
    }
}
