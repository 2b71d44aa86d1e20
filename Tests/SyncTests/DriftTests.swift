import FlotillaAPI
import Foundation
import GitTesting
import KubeEmulator
import KubeTesting
import KubeClient
import KubeModel
import Sync
import Testing

@Suite("Drift: detected at each resync, corrected as configured")
struct DriftTests {
    /// A hand edit of a value git sets (kubectl edit) and a label added with kubectl patch.
    func editByHand(_ f: SyncFixture, _ name: String = "a") async throws {
        _ = try await f.client.patch(.configMaps, name: name, namespace: "apps", ["data": ["k": "by-hand"]], options: WriteOptions(fieldManager: "kubectl-edit"))
        _ = try await f.client.patch(.configMaps, name: name, namespace: "apps", ["metadata": ["labels": ["debug": "on"]]],
                                     options: WriteOptions(fieldManager: "kubectl-patch"))
    }

    @Test("revert: a value edited by hand is put back and reported, a field added by hand stays; git's own changes are not drift")
    func revert() async throws {
        try await withSyncFixture(["a.yaml": cm("a"), "b.yaml": cm("b")]) { f in
            let syncer = f.syncer(f.options())
            #expect(try await f.sync(syncer).drifted.isEmpty)
            try await editByHand(f)
            let result = try await f.sync(syncer)
            #expect(result.drifted.map(\.id.name) == ["a"])
            #expect(result.drifted.first?.action == .configured)
            #expect(result.drifted.first?.drift == "data.k changed")
            let live = try await f.configMap("a")
            #expect(live?["data"]?["k"] == "v", "git's value is back")
            #expect(live?["metadata"]?["labels"]?["debug"] == "on", "an added field stays under revert")
            #expect(try await f.sync(syncer).drifted.isEmpty, "nothing drifted since")
            try f.upstream.commit(["b.yaml": cm("b", data: ["k": "new"])], message: "change b in git")
            let changed = try await f.sync(syncer)
            #expect(changed.changes(.configured).map(\.id.name) == ["b"])
            #expect(changed.drifted.isEmpty, "a change in git is not drift")
        }
    }

    @Test("revertIncludingAddedFields: fields added with kubectl are removed too, fields of other controllers stay")
    func revertAddedFields() async throws {
        try await withSyncFixture(["a.yaml": cm("a")]) { f in
            let syncer = f.syncer(f.options { $0.driftCorrection = .revertIncludingAddedFields })
            try await f.sync(syncer)
            _ = try await f.client.patch(.configMaps, name: "a", namespace: "apps", ["metadata": ["labels": ["debug": "on"]]],
                                         options: WriteOptions(fieldManager: "kubectl-patch"))
            _ = try await f.client.patch(.configMaps, name: "a", namespace: "apps", ["metadata": ["annotations": ["controller.example/seen": "yes"]]],
                                         options: WriteOptions(fieldManager: "some-controller"))
            let result = try await f.sync(syncer)
            #expect(result.drifted.map(\.drift) == ["fields added by kubectl-patch"])
            let live = try await f.configMap("a")
            #expect(live?["metadata"]?["labels"]?["debug"] == nil, "the label added by hand is gone")
            #expect(live?["metadata"]?["labels"]?[.init(stringLiteral: Flotilla.instanceLabel)] != nil, "git's labels stay")
            #expect(live?["metadata"]?["annotations"]?["controller.example/seen"] == "yes", "another controller's field stays")
            let managers = (live?["metadata"]?["managedFields"]?.arrayValue ?? []).compactMap { $0["manager"]?.stringValue }
            #expect(!managers.contains("kubectl-patch"))
            let again = try await f.sync(syncer)
            #expect(again.drifted.isEmpty)
            #expect(again.changes(.unchanged).map(\.id.name) == ["a"])
            // Hand edits of both kinds at once.
            try await editByHand(f)
            let both = try await f.sync(syncer)
            #expect(both.drifted.first?.drift == "data.k changed; fields added by kubectl-edit, kubectl-patch")
            #expect(try await f.configMap("a")?["data"]?["k"] == "v")
            #expect(try await f.configMap("a")?["metadata"]?["labels"]?["debug"] == nil)
        }
    }

    @Test("report: drift is reported at every resync and left alone; a change in git is still applied")
    func report() async throws {
        try await withSyncFixture(["a.yaml": cm("a")]) { f in
            let syncer = f.syncer(f.options { $0.driftCorrection = .report })
            try await f.sync(syncer)
            try await editByHand(f)
            for _ in 0..<2 {
                let result = try await f.sync(syncer)
                #expect(result.changes(.drifted).map(\.id.name) == ["a"])
                #expect(result.drifted.first?.drift == "data.k changed; fields added by kubectl-edit, kubectl-patch")
                #expect(try await f.configMap("a")?["data"]?["k"] == "by-hand", "left alone")
            }
            try f.upstream.commit(["a.yaml": cm("a", data: ["k": "v2"])], message: "change a in git")
            let changed = try await f.sync(syncer)
            #expect(changed.changes(.configured).map(\.id.name) == ["a"])
            #expect(try await f.configMap("a")?["data"]?["k"] == "v2")
        }
    }

    @Test("an object annotated drift-correction: disabled (in git or in the cluster) is reported, not corrected")
    func optOut() async throws {
        try await withSyncFixture(["a.yaml": cm("a", annotations: [Flotilla.driftCorrectionAnnotation: "disabled"]), "b.yaml": cm("b")]) { f in
            let syncer = f.syncer(f.options())
            try await f.sync(syncer)
            try await editByHand(f, "a")
            try await editByHand(f, "b")
            _ = try await f.client.patch(.configMaps, name: "b", namespace: "apps",
                                         ["metadata": ["annotations": [.init(stringLiteral: Flotilla.driftCorrectionAnnotation): "disabled"]]])
            let result = try await f.sync(syncer)
            #expect(result.changes(.drifted).map(\.id.name).sorted() == ["a", "b"])
            #expect(result.changes(.drifted).allSatisfy { $0.reason?.contains("annotated flotilla.dev/drift-correction: disabled") == true })
            #expect(try await f.configMap("a")?["data"]?["k"] == "by-hand")
            #expect(try await f.configMap("b")?["data"]?["k"] == "by-hand")
        }
    }
}

@Suite("Health of what a sync applied")
struct SyncHealthTests {
    static let deployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          replicas: 2
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec: {containers: [{name: web, image: nginx:1.25}]}
        """

    @Test("the apply's answer says a new Deployment is rolling out; a later check, with one LIST, that it is current")
    func rollout() async throws {
        try await withSyncFixture(["web.yaml": Self.deployment, "a.yaml": cm("a")], emulator: {
            $0.workloadControllers = true
            $0.workloadStartDelay = .milliseconds(300)
        }) { f in
            let syncer = f.syncer(f.options())
            let result = try await f.sync(syncer)
            let id = ResourceID(group: "apps", kind: "Deployment", namespace: "apps", name: "web")
            #expect(result.assessed == 2)
            #expect(result.unhealthy.keys.map { $0 } == [id])
            #expect(result.unhealthy[id]?.status == .inProgress)
            var health = await syncer.health(of: [id])
            let deadline = ContinuousClock.now + .seconds(10)
            while health[id]?.status != .current && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
                health = await syncer.health(of: [id])
            }
            #expect(health[id] == .current)
            f.cluster.api.keepUnhealthy(kind: "Deployment", namespace: "apps", name: "web")
            try f.upstream.commit(["web.yaml": Self.deployment.replacingOccurrences(of: "nginx:1.25", with: "nginx:1.26")], message: "new image")
            let next = try await f.sync(syncer)
            #expect(next.unhealthy[id]?.status == .inProgress)
            try await Task.sleep(for: .milliseconds(600))
            #expect(await syncer.health(of: [id])[id]?.status == .inProgress, "kept unhealthy: never rolls out")
            try await f.client.delete(ResourceType(group: "apps", version: "v1", resource: "deployments", kind: "Deployment", namespaced: true),
                                      name: "web", namespace: "apps")
            #expect(await syncer.health(of: [id])[id] == ObjectHealth(.unknown, reason: "NotFound", message: "the object is gone"))
        }
    }
}
