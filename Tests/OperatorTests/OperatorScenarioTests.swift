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
import Testing

@Suite("The operator in process: FluxInstances against the emulator and real git")
struct OperatorScenarioTests {
    @Test("apply → Ready with the revision, as the managed ServiceAccount; a new commit is applied within seconds and BEHIND returns to 0")
    func applyAndFollow() async throws {
        let up = try UpstreamRepo(files: ["deploy/a.yaml": cm("a"), "deploy/b.yaml": cm("b")])
        try await withOperator(namespaces: ["team-a"]) { f in
            try await f.apply("apps", namespace: "team-a", spec: ["git": gitSpec(up.url, ["paths": ["deploy"]])])
            let first = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: try up.head())
            #expect(first?.status?.shortRevision == String(try up.head().prefix(7)))
            #expect(first?.status?.behind == 0)
            #expect(first?.status?.counts?.applied == 2)
            #expect(first?.metadata.finalizers == [Flotilla.finalizer])
            let a = try #require(try await f.configMap("a", namespace: "team-a"))
            #expect(a["metadata"]?["managedFields"]?.arrayValue?.contains { $0["manager"] == "flotilla" } == true)
            // RBAC trimmed: the instance acts as its own ServiceAccount, bound to edit in team-a only.
            let binding = try await f.client.get(.roleBindings, name: "flotilla-team-a-apps", namespace: "team-a")
            #expect(binding["subjects"]?.arrayValue?.first?["name"] == "flotilla-apps")
            #expect(binding["roleRef"]?["name"] == "edit")

            let next = try up.commit(["deploy/a.yaml": cm("a", value: "changed")], message: "change a")
            let started = ContinuousClock.now
            let second = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: next)
            #expect(ContinuousClock.now - started < .seconds(10))
            #expect(second?.status?.behind == 0)
            #expect(try await f.configMap("a", namespace: "team-a")?["data"]?["k"] == "changed")
            // The sync tag marks the applied revision in git.
            #expect(try sh(["git", "--git-dir", up.bare, "rev-parse", "flux-sync^{commit}"]) == next)
        }
    }

    @Test("suspend stops syncing until resumed; reconcile-requested-at syncs at once")
    func suspendAndRequest() async throws {
        let up = try UpstreamRepo(files: ["a.yaml": cm("a")])
        try await withOperator(namespaces: ["team-a"]) { f in
            // Long intervals: only a new commit or a request makes it sync.
            let spec: JSONValue = ["git": gitSpec(up.url, poll: "1s"), "sync": ["interval": "1h"]]
            try await f.apply("apps", namespace: "team-a", spec: spec)
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: try up.head())
            var suspended = spec
            suspended["suspend"] = true
            try await f.apply("apps", namespace: "team-a", spec: suspended)
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Suspended")
            let next = try up.commit(["a.yaml": cm("a", value: "2")], message: "while suspended")
            try await Task.sleep(for: .seconds(3))
            #expect(try await f.configMap("a", namespace: "team-a")?["data"]?["k"] == "v", "nothing synced while suspended")
            try await f.apply("apps", namespace: "team-a", spec: spec)
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: next)

            // Drift, then a request: corrected at once, without waiting for the 1h interval.
            _ = try await f.client.patch(.configMaps, name: "a", namespace: "team-a", ["data": ["k": "drifted"]])
            let before = try await f.instance("apps", namespace: "team-a")?.status?.lastSyncTime
            let reconciler = try #require(f.supervisor.reconciler(InstanceRef(namespace: "team-a", name: "apps")))
            let syncers = await reconciler.syncersBuilt
            try await Task.sleep(for: .seconds(1))
            _ = try await f.client.patch(FluxInstance.resourceType, name: "apps", namespace: "team-a",
                                         ["metadata": ["annotations": [.init(stringLiteral: Flotilla.reconcileRequestedAt): "now"]]])
            #expect(try await eventually(timeout: .seconds(10)) {
                try await f.configMap("a", namespace: "team-a")?["data"]?["k"] == "2"
            }, "the requested sync reverted the drift")
            // The status is written after the apply (and the drift's Event): wait for it.
            #expect(try await eventually(timeout: .seconds(10)) {
                try await f.instance("apps", namespace: "team-a")?.status?.lastSyncTime != before
            })
            #expect(await reconciler.syncersBuilt == syncers, "a reconcile request keeps the syncer and its caches")
        }
    }

    @Test("delete with each deletion policy: Orphan keeps the objects, Delete removes them; the finalizer goes either way")
    func deletionPolicies() async throws {
        let up = try UpstreamRepo(files: ["a.yaml": cm("a")])
        try await withOperator(namespaces: ["keep", "drop"]) { f in
            try await f.apply("apps", namespace: "keep", spec: ["git": gitSpec(up.url)])
            try await f.apply("apps", namespace: "drop", spec: ["git": gitSpec(up.url), "sync": ["deletionPolicy": "Delete"]])
            _ = try await f.waitFor("apps", namespace: "keep", reason: "Synced")
            _ = try await f.waitFor("apps", namespace: "drop", reason: "Synced")
            try await f.client.delete(FluxInstance.resourceType, name: "apps", namespace: "keep")
            try await f.client.delete(FluxInstance.resourceType, name: "apps", namespace: "drop")
            #expect(try await eventually {
                let keep = try await f.instance("apps", namespace: "keep")
                let drop = try await f.instance("apps", namespace: "drop")
                return keep == nil && drop == nil
            })
            #expect(try await f.configMap("a", namespace: "keep") != nil, "Orphan")
            #expect(try await f.configMap("a", namespace: "drop") == nil, "Delete")
            #expect(try await f.configMap("flotilla-inventory-apps", namespace: "keep") == nil, "the inventory goes with the instance")
            #expect(try await eventually { f.supervisor.running.isEmpty }, "no reconciler left")
        }
    }

    @Test("an idle instance polls once per pollInterval, no more (no busy loop)")
    func idlePolling() async throws {
        let up = try UpstreamRepo(files: ["a.yaml": cm("a")])
        try await withOperator(namespaces: ["team-a"]) { f in
            try await f.apply("apps", namespace: "team-a", spec: ["git": gitSpec(up.url, poll: "1s"), "sync": ["interval": "1h"]])
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Synced")
            let reconciler = try #require(f.supervisor.reconciler(InstanceRef(namespace: "team-a", name: "apps")))
            let before = await reconciler.passes
            try await Task.sleep(for: .seconds(4))
            let passes = await reconciler.passes - before
            #expect((2...6).contains(passes), "\(passes) passes in 4 s at a 1 s poll interval")
        }
    }

    @Test("a restart of the operator recovers from the cluster: no duplicate sync of an applied revision")
    func restart() async throws {
        let up = try UpstreamRepo(files: ["a.yaml": cm("a")])
        try await withTestCluster { cluster in
            let first = try await OperatorFixture(cluster: cluster, namespaces: ["team-a"])
            try await first.apply("apps", namespace: "team-a", spec: ["git": gitSpec(up.url), "sync": ["interval": "1h"]])
            let synced = try await first.waitFor("apps", namespace: "team-a", reason: "Synced", revision: try up.head())
            await first.stop()
            try await Task.sleep(for: .milliseconds(1100))  // status times have second resolution
            cluster.api.resetRequestCounts()
            var logger = Logger(label: "restart")
            logger.logLevel = .warning
            let client = try cluster.client()
            let supervisor = Supervisor(environment: OperatorEnvironment(client: client, workRoot: tempDir("operator"), concurrency: 4, tenancy: TenancyPolicy(generators: .bubblewrap(Bubblewrap())), logger: logger))
            let task = Task { try await supervisor.run() }
            try await Task.sleep(for: .seconds(4))
            task.cancel()
            _ = try? await task.value
            let now = try await client.get(FluxInstance.self, name: "apps", namespace: "team-a")
            #expect(now.status?.lastSyncTime == synced?.status?.lastSyncTime, "no new sync of the same revision")
            // A sync would read the inventory and the objects: none was read, none written.
            #expect(cluster.api.requestCount(verb: "get", resource: "configmaps") == 0)
            #expect(cluster.api.requestCount(verb: "patch", resource: "configmaps") == 0)
            try await client.shutdown()
        }
    }
}
