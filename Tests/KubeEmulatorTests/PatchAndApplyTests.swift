import Foundation
import KubeModel
import Testing

@testable import KubeEmulator

@Suite("Patches and server-side apply")
struct PatchAndApplyTests {
    static let deployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
              - name: app
                image: nginx:1.25
              - name: side
                image: busybox:1
        """

    @Test("merge patch sets and removes keys; JSON patch adds; a JSON patch on a missing path is 422")
    func mergeAndJSONPatch() async {
        let h = Harness()
        await h.namespace("a")
        _ = await h.configMap("a", "c1")
        let merged = await h.call("PATCH", "/api/v1/namespaces/a/configmaps/c1", ["data": ["b": "x", "a": .null]], contentType: "application/merge-patch+json")
        #expect(merged.body["data"] == ["b": "x"])
        let json = await h.call("PATCH", "/api/v1/namespaces/a/configmaps/c1", [["op": "add", "path": "/data/c", "value": "3"]], contentType: "application/json-patch+json")
        #expect(json.body["data"] == ["b": "x", "c": "3"])
        let bad = await h.call("PATCH", "/api/v1/namespaces/a/configmaps/c1", [["op": "remove", "path": "/data/zzz"]], contentType: "application/json-patch+json")
        #expect(bad.status == 422)
    }

    @Test("strategic merge patch merges containers by name and honours $patch: delete")
    func strategic() async {
        let h = Harness()
        await h.namespace("a")
        #expect(await h.apply("/apis/apps/v1/namespaces/a/deployments/web", Self.deployment, manager: "flux").status == 201)
        let patched = await h.call("PATCH", "/apis/apps/v1/namespaces/a/deployments/web",
                                   ["spec": ["template": ["spec": ["$setElementOrder/containers": [["name": "app"], ["name": "side"]],
                                                                   "containers": [["name": "side", "image": "busybox:2"]]]]]],
                                   contentType: "application/strategic-merge-patch+json")
        let containers = patched.body["spec"]?["template"]?["spec"]?["containers"]?.arrayValue ?? []
        #expect(containers.map { $0["image"] } == ["nginx:1.25", "busybox:2"])
        let deleted = await h.call("PATCH", "/apis/apps/v1/namespaces/a/deployments/web",
                                   ["spec": ["template": ["spec": ["containers": [["name": "side", "$patch": "delete"]]]]]],
                                   contentType: "application/strategic-merge-patch+json")
        #expect(deleted.body["spec"]?["template"]?["spec"]?["containers"]?.arrayValue?.count == 1)
    }

    @Test("apply conflicts name the field and the owner; force takes ownership; a shared equal value is no conflict")
    func applyConflicts() async {
        let h = Harness()
        await h.namespace("a")
        let cm = "/api/v1/namespaces/a/configmaps/s1"
        let first = await h.apply(cm, "{apiVersion: v1, kind: ConfigMap, metadata: {name: s1}, data: {a: '1', b: '2'}}", manager: "m1")
        #expect(first.status == 201)
        let conflict = await h.apply(cm, "{apiVersion: v1, kind: ConfigMap, metadata: {name: s1}, data: {a: other}}", manager: "m2")
        #expect(conflict.status == 409)
        #expect(conflict.message == #"Apply failed with 1 conflict: conflict with "m1": .data.a"#)
        #expect(conflict.body["details"]?["causes"]?.arrayValue?.first?["field"] == ".data.a")
        let forced = await h.apply(cm, "{apiVersion: v1, kind: ConfigMap, metadata: {name: s1}, data: {a: other}}", manager: "m2", force: true)
        #expect(forced.status == 200)
        #expect(forced.body["data"] == ["a": "other", "b": "2"])
        let shared = await h.apply(cm, "{apiVersion: v1, kind: ConfigMap, metadata: {name: s1}, data: {b: '2'}}", manager: "m3")
        #expect(shared.status == 200)
        let managers = shared.body["metadata"]?["managedFields"]?.arrayValue?.compactMap { $0["manager"]?.stringValue }
        #expect(managers == ["m1", "m2", "m3"])
    }

    @Test("a field dropped from an applied configuration is removed unless another manager owns it")
    func applyRemovesDroppedFields() async {
        let h = Harness()
        await h.namespace("a")
        let cm = "/api/v1/namespaces/a/configmaps/s1"
        _ = await h.apply(cm, "{apiVersion: v1, kind: ConfigMap, metadata: {name: s1}, data: {a: '1', b: '2', c: '3'}}", manager: "m1")
        _ = await h.apply(cm, "{apiVersion: v1, kind: ConfigMap, metadata: {name: s1}, data: {c: '3'}}", manager: "m2")
        let dropped = await h.apply(cm, "{apiVersion: v1, kind: ConfigMap, metadata: {name: s1}, data: {a: '1'}}", manager: "m1")
        #expect(dropped.body["data"] == ["a": "1", "c": "3"], "b is gone, c stays because m2 owns it")
    }

    @Test("replicas set by another manager survive an apply that omits them (HPA case)")
    func replicasSurviveApply() async {
        let h = Harness()
        await h.namespace("a")
        _ = await h.apply("/apis/apps/v1/namespaces/a/deployments/web", Self.deployment, manager: "flux")
        let scaled = await h.call("PATCH", "/apis/apps/v1/namespaces/a/deployments/web/scale", ["spec": ["replicas": 5]], contentType: "application/merge-patch+json")
        #expect(scaled.body["kind"] == "Scale")
        #expect(scaled.body["spec"]?["replicas"] == 5)
        let again = await h.apply("/apis/apps/v1/namespaces/a/deployments/web", Self.deployment.replacingOccurrences(of: "nginx:1.25", with: "nginx:1.26"), manager: "flux")
        #expect(again.body["spec"]?["replicas"] == 5)
        #expect(again.body["spec"]?["template"]?["spec"]?["containers"]?.arrayValue?.first?["image"] == "nginx:1.26")
    }

    @Test("apply without a field manager is rejected; apply with dryRun creates nothing")
    func applyValidation() async {
        let h = Harness()
        await h.namespace("a")
        let none = await h.call("PATCH", "/api/v1/namespaces/a/configmaps/x", contentType: "application/apply-patch+yaml",
                                raw: "{apiVersion: v1, kind: ConfigMap, metadata: {name: x}}")
        #expect(none.status == 422)  // PatchOptions validation: Invalid, not BadRequest
        let dry = await h.apply("/api/v1/namespaces/a/configmaps/x?dryRun=All", "{apiVersion: v1, kind: ConfigMap, metadata: {name: x}}", manager: "m")
        #expect(dry.status == 201)
        #expect(await h.call("GET", "/api/v1/namespaces/a/configmaps/x").status == 404)
    }

    @Test("managedFields for an update record what the writer changed")
    func updateManagedFields() async {
        let h = Harness()
        await h.namespace("a")
        _ = await h.configMap("a", "c1", labels: ["tier": "web"])
        let patched = await h.call("PATCH", "/api/v1/namespaces/a/configmaps/c1?fieldManager=editor", ["data": ["z": "1"]], contentType: "application/merge-patch+json")
        let entries = patched.body["metadata"]?["managedFields"]?.arrayValue ?? []
        #expect(entries.count == 2)
        let editor = entries.first { $0["manager"] == "editor" }
        #expect(editor?["fieldsV1"] == ["f:data": ["f:z": .emptyObject]])
        let creator = entries.first { $0["manager"] == "flotilla-tests" }
        #expect(creator?["fieldsV1"] == ["f:data": [".": .emptyObject, "f:a": .emptyObject], "f:metadata": ["f:labels": [".": .emptyObject, "f:tier": .emptyObject]]])
    }

    @Test("managedFields are stored in kube-apiserver's order: operation, time, then manager")
    func managedFieldsOrder() {
        func entry(_ manager: String, _ operation: String, _ time: String) -> ManagedEntry {
            ManagedEntry(manager: manager, operation: operation, apiVersion: "v1", time: time, subresource: "",
                         fields: FieldSet(fieldsV1: ["f:data": ["f:\(manager)": .emptyObject]]))
        }
        var object: JSONValue = ["metadata": ["name": "s1"]]
        ManagedFields.store([entry("m3", "Apply", "2026-01-01T00:00:01Z"), entry("m1", "Apply", "2026-01-01T00:00:02Z"),
                             entry("editor", "Update", "2026-01-01T00:00:00Z"), entry("m2", "Apply", "2026-01-01T00:00:01Z")],
                            in: &object)
        let order = object["metadata"]?["managedFields"]?.arrayValue?.compactMap { $0["manager"]?.stringValue }
        #expect(order == ["m2", "m3", "m1", "editor"], "Apply before Update; a re-applied m1 one second later goes after m3")
    }
}

@Suite("Server-side apply: dropped maps")
struct DroppedMapTests {
    @Test("a map the manager stops applying goes entirely (not left as {}), unless another manager owns something in it")
    func droppedMapGoes() async {
        let h = Harness()
        await h.namespace("a")
        let path = "/api/v1/namespaces/a/configmaps/c"
        #expect(await h.apply(path, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: {x: y}, annotations: {p: q}}\ndata: {k: v}\n", manager: "one").status == 201)
        _ = await h.call("PATCH", path + "?fieldManager=two", ["metadata": ["annotations": ["r": "s"]]], contentType: "application/merge-patch+json")
        let after = await h.apply(path, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: v}\n", manager: "one").body
        #expect(after["metadata"]?["labels"] == nil, "labels removed, not left empty: \(after["metadata"]?["labels"] ?? .null)")
        #expect(after["metadata"]?["annotations"] == ["r": "s"], "another manager's annotation keeps the map")
        let none = await h.apply(path, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", manager: "one").body
        #expect(none["data"] == nil)
    }
}
