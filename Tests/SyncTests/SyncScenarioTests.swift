import FlotillaAPI
import Foundation
import GitTesting
import KubeClient
import KubeEmulator
import KubeModel
import KubeTesting
import Manifests
import Sync
import Testing

@Suite("Sync scenarios against the emulator and real git")
struct SyncScenarioTests {
    @Test("first sync creates every object with Flux's marks; a resync with nothing changed only lists, once per namespace")
    func firstSyncThenNoOp() async throws {
        try await withSyncFixture(["a.yaml": cm("a"), "b.yaml": cm("b", namespace: "flux-system"), "c.yaml": cm("c")]) { f in
            let syncer = f.syncer(f.options())
            let first = try await f.sync(syncer)
            #expect(first.count(.created) == 3)
            let a = try #require(try await f.configMap("a"))
            let labels = a["metadata"]?["labels"]
            #expect(labels?[Flotilla.instanceLabel] == .string(SyncFixture.instance.labelValue))
            #expect(labels?[FluxAnnotations.syncGCMark]?.stringValue?.hasPrefix("sha256.") == true)
            #expect(a["metadata"]?["annotations"]?[FluxAnnotations.syncChecksum]?.stringValue?.count == 40)
            #expect(a["metadata"]?["managedFields"]?.arrayValue?.contains { $0["manager"] == "flotilla" && $0["operation"] == "Apply" } == true)
            #expect(try await f.configMap("b", namespace: "flux-system") != nil)
            #expect(await syncer.currentInventory?.count == 3)

            try await f.waitForCache([(.configMaps, "apps", "a"), (.configMaps, "flux-system", "b"), (.configMaps, "apps", "c")])
            f.cluster.api.resetRequestCounts()
            let again = try await f.sync(syncer)
            #expect(again.count(.unchanged) == 3)
            // One metadata-only LIST of the instance's ConfigMaps in each namespace it uses, as its
            // identity (every object is at the resourceVersion its apply returned); no GET, no write.
            #expect(f.cluster.api.requestCounts() == ["list configmaps (metadata)": 2])
        }
    }

    @Test("a resync of verified objects lists only metadata; an object edited or deleted by hand since is read in full and put back")
    func resyncByResourceVersion() async throws {
        try await withSyncFixture(["a.yaml": cm("a"), "b.yaml": cm("b"), "c.yaml": cm("c", namespace: "flux-system")]) { f in
            let syncer = f.syncer(f.options())
            try await f.sync(syncer)
            _ = try await f.client.patch(.configMaps, name: "a", namespace: "apps", ["data": ["k": "edited"]])
            f.cluster.api.resetRequestCounts()
            let corrected = try await f.sync(syncer)
            #expect(corrected.changes(.configured).map(\.id.name) == ["a"])
            // The moved resourceVersion is seen in the metadata; only that namespace is read in full.
            #expect(f.cluster.api.requestCounts() == ["list configmaps (metadata)": 2, "list configmaps": 1, "patch configmaps": 1])
            #expect(try await f.configMap("a")?["data"]?["k"] == "v")

            try await f.client.delete(.configMaps, name: "b", namespace: "apps")
            f.cluster.api.resetRequestCounts()
            let recreated = try await f.sync(syncer)
            #expect(recreated.changes(.created).map(\.id.name) == ["b"])
            #expect(recreated.count(.unchanged) == 2)
            #expect(try await f.configMap("b") != nil)

            f.cluster.api.resetRequestCounts()
            #expect(try await f.sync(syncer).count(.unchanged) == 3)
            #expect(f.cluster.api.requestCounts() == ["list configmaps (metadata)": 2])
        }
    }

    @Test("the live lists keep hand edits' managedFields entries only for the drift modes that look for added fields")
    func handEditsKeptOnlyWhenNeeded() async throws {
        try await withSyncFixture(["a.yaml": cm("a")]) { f in
            try await f.sync(f.syncer(f.options()))
            _ = try await f.client.patch(.configMaps, name: "a", namespace: "apps", ["data": ["added": "x"]], options: WriteOptions(fieldManager: "kubectl-edit"))
            func managers(_ mode: DriftCorrection) async throws -> [String]? {
                _ = f.syncer(f.options { $0.driftCorrection = mode })  // a syncer sets what its live cache keeps
                f.live.beginPass()
                defer { f.live.endPass() }
                guard case .found(let a) = await f.live.lookup(.configMaps, scope: "apps", objectNamespace: "apps", name: "a") else { return nil }
                return a["metadata"]?["managedFields"]?.arrayValue?.compactMap { $0["manager"]?.stringValue }
            }
            #expect(try await managers(.revertIncludingAddedFields) == ["kubectl-edit"])
            #expect(try await managers(.report) == ["kubectl-edit"])
            #expect(try await managers(.revert) == nil, "revert alone never reads them: not decoded")
        }
    }

    @Test("one changed object out of many sends exactly one PATCH")
    func oneChangeOnePatch() async throws {
        var files: [String: String] = [:]
        for i in 0..<20 { files["cm\(i).yaml"] = cm("cm\(i)") }
        try await withSyncFixture(files) { f in
            let syncer = f.syncer(f.options(gc: true))
            try await f.sync(syncer)
            try await f.waitForCache((0..<20).map { (.configMaps, "apps", "cm\($0)") })
            try f.upstream.commit(["cm7.yaml": cm("cm7", data: ["k": "changed"])], message: "change cm7")
            f.cluster.api.resetRequestCounts()
            let result = try await f.sync(syncer)
            #expect(result.changes(.configured).map(\.id.name) == ["cm7"])
            #expect(f.cluster.api.requestCounts() == ["list configmaps": 1, "patch configmaps": 1])
            #expect(try await f.configMap("cm7")?["data"]?["k"] == "changed")
        }
    }

    @Test("object removed from git is pruned only when GC is enabled")
    func pruneOnlyWithGC() async throws {
        try await withSyncFixture(["a.yaml": cm("a"), "b.yaml": cm("b"), "c.yaml": cm("c")]) { f in
            try await f.sync(f.syncer(f.options()))
            try f.upstream.commit(["c.yaml": nil], message: "remove c")
            let withoutGC = try await f.sync(f.syncer(f.options()))
            #expect(withoutGC.count(.deleted) == 0)
            #expect(try await f.configMap("c") != nil, "GC is off: c stays")
            let withGC = try await f.sync(f.syncer(f.options(gc: true)))
            #expect(withGC.changes(.deleted).map(\.id.description) == ["apps:configmap/c"])
            #expect(try await f.configMap("c") == nil)
            #expect(try await f.configMap("a") != nil)
        }
    }

    @Test("garbage collection dry run reports and deletes nothing")
    func dryRun() async throws {
        try await withSyncFixture(["a.yaml": cm("a"), "b.yaml": cm("b"), "c.yaml": cm("c")]) { f in
            let syncer = f.syncer(f.options(gc: true, dryRun: true))
            try await f.sync(syncer)
            try f.upstream.commit(["c.yaml": nil], message: "remove c")
            let result = try await f.sync(syncer)
            #expect(result.changes(.wouldDelete).map(\.id.name) == ["c"])
            #expect(try await f.configMap("c") != nil)
            #expect(await syncer.currentInventory?.entries.keys.contains { $0.name == "c" } == true, "still tracked")
        }
    }

    @Test("ignore annotation in the cluster wins over git; in git the object is skipped")
    func ignoreInCluster() async throws {
        try await withSyncFixture(["a.yaml": cm("a"), "b.yaml": cm("b")]) { f in
            let syncer = f.syncer(f.options(gc: true))
            try await f.sync(syncer)
            _ = try await f.client.patch(.configMaps, name: "a", namespace: "apps",
                                         ["metadata": ["annotations": ["fluxcd.io/ignore": "true"]], "data": ["k": "hand-edited"]])
            try await f.waitForCache([(.configMaps, "apps", "a")])
            try f.upstream.commit(["a.yaml": cm("a", data: ["k": "from-git"]),
                                   "b.yaml": cm("b", data: ["k": "from-git"], annotations: ["flux.weave.works/ignore": "true"])],
                                  message: "change both")
            let result = try await f.sync(syncer)
            #expect(result.changes(.skipped).map(\.id.name).sorted() == ["a", "b"])
            #expect(try await f.configMap("a")?["data"]?["k"] == "hand-edited")
            #expect(try await f.configMap("b")?["data"]?["k"] == "v", "ignored in git (legacy prefix): not applied")
        }
    }

    @Test("sync_only object survives removal from git")
    func syncOnlySurvives() async throws {
        try await withSyncFixture(["a.yaml": cm("a"), "b.yaml": cm("b"), "keep.yaml": cm("keep", annotations: ["fluxcd.io/ignore": "sync_only"])]) { f in
            let syncer = f.syncer(f.options(gc: true))
            let first = try await f.sync(syncer)
            #expect(first.changes(.created).map(\.id.name).contains("keep"), "sync_only objects are applied")
            try f.upstream.commit(["keep.yaml": nil], message: "remove keep")
            let result = try await f.sync(syncer)
            #expect(result.count(.deleted) == 0)
            #expect(result.changes(.skipped).first?.reason?.contains("sync_only") == true)
            #expect(try await f.configMap("keep") != nil)
        }
    }

    @Test("copied gc-mark label does not make an object deletable")
    func copiedLabel() async throws {
        try await withSyncFixture(["a.yaml": cm("a"), "b.yaml": cm("b"), "c.yaml": cm("c"), "d.yaml": cm("d")]) { f in
            let syncer = f.syncer(f.options(gc: true))
            try await f.sync(syncer)
            let labels = try #require(try await f.configMap("d")?["metadata"]?["labels"])
            // Someone copies the labels onto an object of their own…
            _ = try await f.client.create(.configMaps, ["apiVersion": "v1", "kind": "ConfigMap",
                                                        "metadata": ["name": "stranger", "namespace": "apps", "labels": labels]])
            // …and re-creates d by hand with the same labels.
            try await f.client.delete(.configMaps, name: "d", namespace: "apps")
            _ = try await f.client.create(.configMaps, ["apiVersion": "v1", "kind": "ConfigMap",
                                                        "metadata": ["name": "d", "namespace": "apps", "labels": labels]])
            try f.upstream.commit(["d.yaml": nil], message: "remove d")
            let result = try await f.sync(syncer)
            #expect(result.count(.deleted) == 0)
            #expect(result.changes(.skipped).first?.reason?.contains("re-created") == true)
            #expect(try await f.configMap("stranger") != nil, "never applied by the instance: never deleted")
            #expect(try await f.configMap("d") != nil, "re-created by someone else: not deleted")
        }
    }

    @Test("deleting 80% of the inventory is held until approved")
    func blastRadiusGuard() async throws {
        var files: [String: String] = [:]
        for name in ["a", "b", "c", "d", "e"] { files["\(name).yaml"] = cm(name) }
        try await withSyncFixture(files) { f in
            try await f.sync(f.syncer(f.options(gc: true)))
            let head = try f.upstream.commit(["b.yaml": nil, "c.yaml": nil, "d.yaml": nil, "e.yaml": nil], message: "remove most")
            let held = try await f.sync(f.syncer(f.options(gc: true)))
            #expect(held.pendingDeletions.map(\.name).sorted() == ["b", "c", "d", "e"])
            #expect(held.pruneHeldReason?.contains("4 of 5 objects (80%)") == true, "\(held.pruneHeldReason ?? "")")
            #expect(try await f.configMap("e") != nil)
            // Approving another revision releases nothing.
            let wrong = try await f.sync(f.syncer(f.options(gc: true) { $0.garbageCollection.approvedRevision = "0000000" }))
            #expect(wrong.pendingDeletions.count == 4)
            let approved = try await f.sync(f.syncer(f.options(gc: true) { $0.garbageCollection.approvedRevision = String(head.prefix(7)) }))
            #expect(approved.pendingDeletions.isEmpty)
            #expect(approved.count(.deleted) == 4)
            #expect(try await f.configMap("e") == nil)
            #expect(try await f.configMap("a") != nil)
        }
    }

    @Test("renaming every object is held: the guard compares with the inventory as it was before the sync")
    func renameAllHeld() async throws {
        try await withSyncFixture(["a.yaml": cm("a"), "b.yaml": cm("b"), "c.yaml": cm("c")]) { f in
            try await f.sync(f.syncer(f.options(gc: true)))
            try f.upstream.commit(["a.yaml": cm("a2"), "b.yaml": cm("b2"), "c.yaml": cm("c2")], message: "rename everything")
            let result = try await f.sync(f.syncer(f.options(gc: true)))
            #expect(result.count(.created) == 3)
            #expect(result.pendingDeletions.map(\.name).sorted() == ["a", "b", "c"])
            #expect(result.pruneHeldReason?.contains("3 of 3 objects (100%)") == true, "\(result.pruneHeldReason ?? "")")
            #expect(try await f.configMap("a") != nil)
        }
    }

    @Test("removing a Namespace from git holds its deletion; the instance's own namespace is never deleted")
    func namespaceDeletion() async throws {
        let ns = { (name: String) in "apiVersion: v1\nkind: Namespace\nmetadata: {name: \(name)}\n" }
        var files = ["own.yaml": ns("flux-system"), "apps.yaml": ns("apps")]
        for i in 0..<8 { files["cm\(i).yaml"] = cm("cm\(i)") }
        try await withSyncFixture(files) { f in
            try await f.sync(f.syncer(f.options(gc: true)))
            let head = try f.upstream.commit(["own.yaml": nil, "apps.yaml": nil], message: "drop the namespaces")
            let held = try await f.sync(f.syncer(f.options(gc: true)))
            #expect(held.pendingDeletions.count == 2)
            #expect(held.pruneHeldReason?.contains("would delete everything in it") == true, "\(held.pruneHeldReason ?? "")")
            let approved = try await f.sync(f.syncer(f.options(gc: true) { $0.garbageCollection.approvedRevision = head }))
            #expect(approved.changes(.deleted).map(\.id.description) == ["<cluster>:namespace/apps"])
            #expect(approved.changes(.skipped).first?.reason?.contains("the FluxInstance lives in this namespace") == true)
            #expect(try await f.client.get(.namespaces, name: "flux-system")["metadata"]?["name"] == "flux-system")
        }
    }

    @Test("an empty rendered set holds every deletion; switching the guard off releases them")
    func emptySetHeld() async throws {
        try await withSyncFixture(["apps/a.yaml": cm("a"), "README.md": "docs"]) { f in
            try await f.sync(f.syncer(f.options(gc: true)), paths: ["apps"])
            try f.upstream.commit(["apps/a.yaml": nil, "apps/README.md": "moved away"], message: "empty the path")
            let held = try await f.sync(f.syncer(f.options(gc: true)), paths: ["apps"])
            #expect(held.pendingDeletions.map(\.name) == ["a"])
            #expect(held.pruneHeldReason?.contains("renders no objects") == true)
            let released = try await f.sync(f.syncer(f.options(gc: true) { $0.garbageCollection.guardEnabled = false }), paths: ["apps"])
            #expect(released.count(.deleted) == 1)
        }
    }

    @Test("a failed delete stays in the inventory and is retried")
    func failedDeleteRetried() async throws {
        try await withSyncFixture(["a.yaml": cm("a"), "b.yaml": cm("b"), "c.yaml": cm("c")]) { f in
            let syncer = f.syncer(f.options(gc: true))
            try await f.sync(syncer)
            try f.upstream.commit(["c.yaml": nil], message: "remove c")
            let fault = f.cluster.api.injectFault(FaultRule(verb: "delete", resource: "configmaps", action: .status(403)))
            let failed = try await f.sync(syncer)
            #expect(failed.changes(.failed).map(\.id.name) == ["c"])
            #expect(await syncer.currentInventory?.entries.keys.contains { $0.name == "c" } == true)
            f.cluster.api.removeFault(fault)
            let retried = try await f.sync(syncer)
            #expect(retried.changes(.deleted).map(\.id.name) == ["c"])
            #expect(try await f.configMap("c") == nil)
            #expect(await syncer.currentInventory?.entries.keys.contains { $0.name == "c" } == false)
        }
    }

    @Test("manual edit of a live object is reverted at the next sync")
    func driftReverted() async throws {
        try await withSyncFixture(["a.yaml": cm("a", data: ["k": "v", "other": "x"])]) { f in
            let syncer = f.syncer(f.options())
            try await f.sync(syncer)
            _ = try await f.client.patch(.configMaps, name: "a", namespace: "apps", ["data": ["k": "edited"]])
            try await f.waitForCache([(.configMaps, "apps", "a")])
            let result = try await f.sync(syncer)
            #expect(result.changes(.configured).map(\.id.name) == ["a"])
            #expect(try await f.configMap("a")?["data"]?["k"] == "v")
        }
    }

    @Test("HPA-managed replicas are not reset")
    func hpaReplicas() async throws {
        func deployment(_ image: String) -> String {
            """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec:
                  containers: [{name: web, image: "\(image)"}]
            ---
            apiVersion: autoscaling/v2
            kind: HorizontalPodAutoscaler
            metadata: {name: web}
            spec:
              scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
              minReplicas: 2
              maxReplicas: 10
            """
        }
        try await withSyncFixture(["web.yaml": deployment("web:1")]) { f in
            let syncer = f.syncer(f.options())
            try await f.sync(syncer)
            // The autoscaler scales through the scale subresource.
            _ = try await f.client.patch(.deployments, name: "web", namespace: "apps", ["spec": ["replicas": 5]], subresource: "scale")
            try f.upstream.commit(["web.yaml": deployment("web:2")], message: "new image")
            let result = try await f.sync(syncer)
            #expect(result.changes(.configured).map(\.id.kind) == ["Deployment"])
            let live = try await f.client.get(.deployments, name: "web", namespace: "apps")
            #expect(live["spec"]?["replicas"] == 5)
            #expect(live["spec"]?["template"]?["spec"]?["containers"]?.arrayValue?.first?["image"] == "web:2")
        }
    }

    @Test("namespace outside the allow-list is refused: nothing applied, every offender named")
    func namespaceRefused() async throws {
        try await withSyncFixture(["ok.yaml": cm("ok"), "bad/x.yaml": cm("x", namespace: "other"), "bad/y.yaml": cm("y", namespace: "kube-system")]) { f in
            let error = await #expect(throws: SyncError.self) { try await f.sync(f.syncer(f.options())) }
            guard case .plan(let plan)? = error else { Issue.record("not a plan error"); return }
            #expect(plan.reason == .forbidden)
            #expect(plan.problems.count == 2)
            #expect(plan.problems[0].hasPrefix("bad/x.yaml:1: other:configmap/x is in namespace other"))
            let ok = try await f.configMap("ok")
            #expect(ok == nil, "nothing applied")
        }
    }

    @Test("cluster-scoped objects are refused unless allowed; the instance's allowed Namespaces are not")
    func clusterScoped() async throws {
        let role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\nrules: []\n"
        let ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n"
        try await withSyncFixture(["role.yaml": role, "ns.yaml": ns]) { f in
            let error = await #expect(throws: SyncError.self) { try await f.sync(f.syncer(f.options())) }
            #expect("\(error!)".contains("<cluster>:clusterrole/reader is cluster-scoped"))
            #expect(!"\(error!)".contains("namespace/apps"))
            let result = try await f.sync(f.syncer(f.options { $0.clusterScoped = true }))
            #expect(result.changes.map(\.id.description).sorted() == ["<cluster>:clusterrole/reader", "<cluster>:namespace/apps"])
        }
    }

    @Test("a failing discovery refuses the revision instead of guessing an object's scope")
    func discoveryFailure() async throws {
        try await withSyncFixture(["a.yaml": cm("a")]) { f in
            try await f.sync(f.syncer(f.options(gc: true)))
            try f.upstream.commit(["role.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\nrules: []\n"],
                                  message: "add a cluster role")
            f.cluster.api.injectFault(FaultRule(verb: "get", action: .status(500)))
            let error = await #expect(throws: SyncError.self) { try await f.sync(f.syncer(f.options(gc: true) { $0.clusterScoped = true })) }
            f.cluster.api.clearFaults()
            guard case .plan(let plan)? = error else { Issue.record("not a plan error: \(String(describing: error))"); return }
            #expect(plan.reason == .discovery)
            #expect(plan.problems.first?.hasPrefix("role.yaml:1: cannot look up rbac.authorization.k8s.io/v1 ClusterRole") == true)
            let roles = ResourceType(group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterroles", kind: "ClusterRole", namespaced: false)
            await #expect(throws: KubeError.self, "nothing applied") { try await f.client.get(roles, name: "reader") }
        }
    }

    @Test("bad YAML names file and line and applies nothing: no change applied, nothing deleted")
    func badYAMLAppliesNothing() async throws {
        try await withSyncFixture(["a.yaml": cm("a"), "b.yaml": cm("b"), "c.yaml": cm("c")]) { f in
            let syncer = f.syncer(f.options(gc: true))
            try await f.sync(syncer)
            try f.upstream.commit(["a.yaml": cm("a", data: ["k": "new"]), "c.yaml": nil, "deploy/broken.yaml": "kind: ConfigMap\nmetadata:\n  name: [x\n"],
                                  message: "a change, a removal and a broken file")
            let error = await #expect(throws: RenderError.self) { try await f.sync(syncer) }
            #expect(error?.kind == .parse)
            #expect(error?.message.hasPrefix("deploy/broken.yaml:4:") == true, "\(error?.message ?? "")")
            #expect(try await f.configMap("a")?["data"]?["k"] == "v", "the change was not applied")
            #expect(try await f.configMap("c") != nil, "the removal did not drive garbage collection")
        }
    }

    @Test("the same object in two files is an error naming both files")
    func duplicates() async throws {
        try await withSyncFixture(["one.yaml": cm("dup"), "two/two.yaml": "# comment\n" + cm("dup", namespace: "apps")]) { f in
            let error = await #expect(throws: SyncError.self) { try await f.sync(f.syncer(f.options())) }
            #expect("\(error!)" == "apps:configmap/dup is defined twice: in one.yaml:1 and in two/two.yaml:2")
        }
    }

    @Test("CRDs go first and are waited for; custom resources of the same revision apply; an unknown kind fails alone")
    func crdsFirst() async throws {
        let crd = """
            apiVersion: apiextensions.k8s.io/v1
            kind: CustomResourceDefinition
            metadata: {name: widgets.example.com}
            spec:
              group: example.com
              scope: Namespaced
              names: {plural: widgets, singular: widget, kind: Widget}
              versions:
              - name: v1
                served: true
                storage: true
                schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
            """
        let widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3}\n"
        let unknown = "apiVersion: nope.example.com/v1\nkind: Gadget\nmetadata: {name: g1}\n"
        try await withSyncFixture(["a-widget.yaml": widget, "b-crd.yaml": crd, "c-unknown.yaml": unknown, "d.yaml": cm("d")]) { f in
            let result = try await f.sync(f.syncer(f.options { $0.clusterScoped = true }))
            #expect(result.changes.first { $0.id.kind == "Widget" }?.action == .created)
            #expect(result.changes.first { $0.id.kind == "CustomResourceDefinition" }?.action == .created)
            let failed = try #require(result.changes(.failed).first)
            #expect(failed.id.kind == "Gadget")
            #expect(failed.reason?.hasPrefix("c-unknown.yaml:1: ") == true)
            #expect(try await f.configMap("d") != nil, "one object's failure does not stop the others")
            let widgets = ResourceType(group: "example.com", version: "v1", resource: "widgets", kind: "Widget", namespaced: true)
            #expect(try await f.client.get(widgets, name: "w1", namespace: "apps")["spec"]?["size"] == 3)
        }
    }

    @Test("an object that belongs to another instance is reported as a conflict and not overwritten")
    func conflict() async throws {
        try await withSyncFixture(["a.yaml": cm("a", data: ["k": "mine"])]) { f in
            _ = try await f.client.create(.configMaps, ["apiVersion": "v1", "kind": "ConfigMap",
                                                        "metadata": ["name": "a", "namespace": "apps", "labels": [.init(stringLiteral: Flotilla.instanceLabel): "team.other"]],
                                                        "data": ["k": "theirs"]])
            let result = try await f.sync(f.syncer(f.options()))
            #expect(result.changes(.conflict).first?.reason?.contains("belongs to another FluxInstance") == true)
            #expect(result.changes(.failed).isEmpty, "a conflict is its own action, not a failure")
            #expect(try await f.configMap("a")?["data"]?["k"] == "theirs")
        }
    }

    @Test("an object another instance comes to declare is contested at the next resync, though this instance's objects did not change")
    func claimedByAnotherBetweenResyncs() async throws {
        try await withSyncFixture(["a.yaml": cm("a"), "b.yaml": cm("b")]) { f in
            let claims = ClaimRegistry()
            let mine = f.syncer(f.options { $0.claims = claims })
            #expect(try await f.sync(mine).changes(.conflict).isEmpty)
            let generation = claims.generation(of: SyncFixture.instance)
            let made = claims.claimsMade
            #expect(try await f.sync(mine).count(.unchanged) == 2)
            #expect(claims.claimsMade == made, "nothing moved: the resync claimed nothing anew")
            #expect(claims.generation(of: SyncFixture.instance) == generation)
            // Another instance declares apps:configmap/b.
            let other = InstanceRef(namespace: "team", name: "other")
            #expect(claims.claim(other, ids: ["apps:configmap/b"]) == ["apps:configmap/b": [SyncFixture.instance]])
            #expect(claims.generation(of: SyncFixture.instance) != generation)
            let contested = try await f.sync(mine)
            #expect(contested.changes(.conflict).map(\.id.name) == ["b"])
            #expect(contested.changes(.conflict).first?.reason?.contains("also declared by FluxInstance team/other") == true)
            #expect(try await f.sync(mine).changes(.conflict).map(\.id.name) == ["b"], "still contested, from the answer kept")
            // It lets go again: the object is this instance's alone.
            _ = claims.claim(other, ids: [])
            let released = try await f.sync(mine)
            #expect(released.changes(.conflict).isEmpty)
            #expect(released.count(.unchanged) == 2)
        }
    }

    @Test("an instance the claim registry forgot (its reconciler stopped) claims its objects again at its next sync")
    func claimsAgainAfterRelease() async throws {
        try await withSyncFixture(["a.yaml": cm("a")]) { f in
            let claims = ClaimRegistry()
            let mine = f.syncer(f.options { $0.claims = claims })
            _ = try await f.sync(mine)
            claims.release(SyncFixture.instance)
            #expect(claims.generation(of: SyncFixture.instance) == -1)
            _ = try await f.sync(mine)
            let other = InstanceRef(namespace: "team", name: "other")
            #expect(claims.claim(other, ids: ["apps:configmap/a"]) == ["apps:configmap/a": [SyncFixture.instance]])
        }
    }
}
