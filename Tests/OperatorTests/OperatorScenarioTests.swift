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

    @Test("a forbidden namespace → Ready=False Forbidden naming the objects, nothing applied")
    func forbiddenNamespace() async throws {
        let up = try UpstreamRepo(files: ["ok.yaml": cm("ok"), "bad.yaml": cm("bad", namespace: "kube-system")])
        try await withOperator(namespaces: ["team-a"]) { f in
            try await f.apply("apps", namespace: "team-a", spec: ["git": gitSpec(up.url)])
            let status = try await f.waitFor("apps", namespace: "team-a", reason: "Forbidden")
            #expect(status?.status?.lastError?.contains("bad.yaml:1: kube-system:configmap/bad is in namespace kube-system") == true)
            #expect(status?.status?.conditions?.contains { $0.type == "Stalled" && $0.status == "True" } == true)
            #expect(try await f.configMap("ok", namespace: "team-a") == nil)
        }
    }

    @Test("two instances declaring the same object both report Conflict and neither overwrites the other; removing one claim resolves it")
    func conflict() async throws {
        let first = try UpstreamRepo(files: ["shared.yaml": cm("shared", value: "first"), "own-1.yaml": cm("own-1")])
        let second = try UpstreamRepo(files: ["shared.yaml": cm("shared", value: "second"), "own-2.yaml": cm("own-2")])
        try await withOperator(namespaces: ["team-a"]) { f in
            let spec = { (url: String) -> JSONValue in ["git": gitSpec(url), "allowedNamespaces": ["team-a"]] }
            try await f.apply("first", namespace: "team-a", spec: spec(first.url))
            _ = try await f.waitFor("first", namespace: "team-a", reason: "Synced")
            #expect(try await f.configMap("shared", namespace: "team-a")?["data"]?["k"] == "first")
            try await f.apply("second", namespace: "team-a", spec: spec(second.url))
            let a = try await f.waitFor("first", namespace: "team-a", reason: "Conflict")
            let b = try await f.waitFor("second", namespace: "team-a", reason: "Conflict")
            #expect(a?.status?.lastError?.contains("team-a:configmap/shared is also declared by FluxInstance team-a/second") == true)
            #expect(b?.status?.lastError?.contains("also declared by FluxInstance team-a/first") == true)
            #expect(try await f.configMap("shared", namespace: "team-a")?["data"]?["k"] == "first", "neither overwrote the other")
            #expect(try await f.configMap("own-2", namespace: "team-a") != nil, "the uncontested objects are applied")
            // The second instance drops the object: the first applies it again and is Ready.
            try second.commit(["shared.yaml": nil], message: "leave shared to the first")
            _ = try await f.waitFor("second", namespace: "team-a", reason: "Synced")
            _ = try await f.waitFor("first", namespace: "team-a", reason: "Synced")
        }
    }

    @Test("the instance's identity may not write an object: Forbidden naming it (access checked before applying), nothing applied")
    func accessPreflight() async throws {
        let up = try UpstreamRepo(files: ["config.yaml": cm("config"),
                                          "secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: token}\nstringData: {t: x}\n"])
        try await withOperator(namespaces: ["team-a"]) { f in
            // A ServiceAccount that may write ConfigMaps only.
            _ = try await f.client.create(.serviceAccounts, ["apiVersion": "v1", "kind": "ServiceAccount", "metadata": ["name": "limited", "namespace": "team-a"]])
            _ = try await f.client.create(.roles, ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": ["name": "cm", "namespace": "team-a"],
                                                  "rules": [["apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]]]])
            _ = try await f.client.create(.roleBindings, ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                                                          "metadata": ["name": "limited", "namespace": "team-a"],
                                                          "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm"],
                                                          "subjects": [["kind": "ServiceAccount", "name": "limited", "namespace": "team-a"]]])
            try await f.apply("apps", namespace: "team-a", spec: ["git": gitSpec(up.url), "serviceAccountName": "limited"])
            let refused = try await f.waitFor("apps", namespace: "team-a", reason: "Forbidden")
            #expect(refused?.status?.lastError == "secret.yaml:1: team-a:secret/token: system:serviceaccount:team-a:limited may not create/patch secrets in namespace team-a")
            #expect(try await f.configMap("config", namespace: "team-a") == nil, "nothing applied")
        }
    }

    @Test("a missing Secret is reported on the status; a wrong URL is GitFetchFailed; other instances stay Ready")
    func badInputIsolated() async throws {
        let up = try UpstreamRepo(files: ["a.yaml": cm("a")])
        try await withOperator(namespaces: ["team-a"]) { f in
            try await f.apply("good", namespace: "team-a", spec: ["git": gitSpec(up.url)])
            try await f.apply("nosecret", namespace: "team-a", spec: ["git": gitSpec(up.url, ["secretRef": ["name": "missing"]])])
            try await f.apply("nowhere", namespace: "team-a", spec: ["git": gitSpec("file:///nonexistent/repo.git")])
            let missing = try await f.waitFor("nosecret", namespace: "team-a", reason: "InvalidSpec")
            #expect(missing?.status?.lastError == "Secret team-a/missing (spec.git.secretRef) not found")
            let nowhere = try await f.waitFor("nowhere", namespace: "team-a", reason: "GitFetchFailed")
            #expect(nowhere?.status?.lastError?.contains("/nonexistent/repo.git") == true)
            _ = try await f.waitFor("good", namespace: "team-a", reason: "Synced", revision: try up.head())
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
            #expect(try await f.instance("apps", namespace: "team-a")?.status?.lastSyncTime != before)
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
