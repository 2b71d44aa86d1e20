import KubeModel
import Testing

@testable import KubeEmulator

@Suite("Object semantics")
struct ObjectSemanticsTests {
    @Test("create assigns uid, resourceVersion and timestamp; a second create is AlreadyExists")
    func create() async {
        let h = Harness()
        await h.namespace("a")
        let r = await h.configMap("a", "c1")
        #expect(r.status == 201)
        #expect(r.body["metadata"]?["uid"]?.stringValue?.count == 36)
        #expect(Int(r.body["metadata"]?["resourceVersion"]?.stringValue ?? "") ?? 0 > 0)
        #expect(r.body["metadata"]?["creationTimestamp"]?.stringValue?.hasSuffix("Z") == true)
        let again = await h.configMap("a", "c1")
        #expect(again.status == 409)
        #expect(again.reason == "AlreadyExists")
        #expect(again.message == #"configmaps "c1" already exists"#)
    }

    @Test("a Secret's stringData is merged into data as base64 (over data's key of the same name) on create, update and apply, and never stored")
    func secretStringData() async {
        let h = Harness()
        await h.namespace("a")
        let created = await h.call("POST", "/api/v1/namespaces/a/secrets",
                                   ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "s"], "data": ["k": "b2xk", "keep": "eA=="], "stringData": ["k": "new", "u": "v"]])
        #expect(created.status == 201)
        #expect(created.body["data"] == ["k": "bmV3", "keep": "eA==", "u": "dg=="])
        #expect(created.body["stringData"] == nil && created.body["type"] == "Opaque")
        let read = await h.call("GET", "/api/v1/namespaces/a/secrets/s")
        #expect(read.body["stringData"] == nil && read.body["data"]?["u"] == "dg==")
        let applied = await h.apply("/api/v1/namespaces/a/secrets/t", "apiVersion: v1\nkind: Secret\nmetadata: {name: t}\nstringData: {password: hunter2}\n", manager: "flotilla")
        #expect(applied.status == 201)
        #expect(applied.body["data"]?["password"] == "aHVudGVyMg==" && applied.body["stringData"] == nil)
    }

    @Test("a namespace that does not exist is 404, a terminating one 403")
    func namespaceChecks() async {
        let h = Harness()
        let missing = await h.configMap("nope", "c1")
        #expect(missing.status == 404)
        #expect(missing.message == #"namespaces "nope" not found"#)
        await h.namespace("dying")
        _ = await h.configMap("dying", "held", data: ["a": "1"])
        _ = await h.call("PATCH", "/api/v1/namespaces/dying/configmaps/held", ["metadata": ["finalizers": ["x/y"]]], contentType: "application/merge-patch+json")
        #expect(await h.call("DELETE", "/api/v1/namespaces/dying").status == 200)
        let late = await h.configMap("dying", "late")
        #expect(late.status == 403)
        #expect(late.message == #"configmaps "late" is forbidden: unable to create new content in namespace dying because it is being terminated"#)
    }

    @Test("invalid names and missing names are 422 with field causes")
    func names() async {
        let h = Harness()
        await h.namespace("a")
        let bad = await h.configMap("a", "Bad_Name")
        #expect(bad.status == 422)
        #expect(bad.body["details"]?["causes"]?.arrayValue?.first?["field"] == "metadata.name")
        let none = await h.call("POST", "/api/v1/namespaces/a/configmaps", ["apiVersion": "v1", "kind": "ConfigMap", "metadata": .emptyObject])
        #expect(none.message == #"ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required"#)
        let generated = await h.call("POST", "/api/v1/namespaces/a/configmaps", ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["generateName": "g-"]])
        #expect(generated.status == 201)
        #expect(generated.body["metadata"]?["name"]?.stringValue?.count == 7)
    }

    @Test("update with a stale resourceVersion is a 409 Conflict; without one it is unconditional")
    func optimisticConcurrency() async {
        let h = Harness()
        await h.namespace("a")
        let created = await h.configMap("a", "c1")
        var v1 = created.body
        v1["data"] = ["a": "2"]
        let ok = await h.call("PUT", "/api/v1/namespaces/a/configmaps/c1", v1)
        #expect(ok.status == 200)
        v1["data"] = ["a": "3"]
        let stale = await h.call("PUT", "/api/v1/namespaces/a/configmaps/c1", v1)
        #expect(stale.status == 409)
        #expect(stale.message.contains("the object has been modified"))
        v1.set(path: ["metadata", "resourceVersion"], to: nil)
        let unconditional = await h.call("PUT", "/api/v1/namespaces/a/configmaps/c1", v1)
        #expect(unconditional.status == 200)
        #expect(unconditional.body["data"]?["a"] == "3")
    }

    @Test("a no-op write keeps the resourceVersion")
    func noOp() async {
        let h = Harness()
        await h.namespace("a")
        let created = await h.configMap("a", "c1")
        let patched = await h.call("PATCH", "/api/v1/namespaces/a/configmaps/c1", ["data": ["a": "1"]], contentType: "application/merge-patch+json")
        #expect(patched.body["metadata"]?["resourceVersion"] == created.body["metadata"]?["resourceVersion"])
    }

    @Test("generation moves with spec changes only; status subresource writes only status")
    func generationAndStatus() async {
        let h = Harness()
        await h.namespace("a")
        let dep: JSONValue = ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web"],
                              "spec": ["selector": ["matchLabels": ["app": "web"]],
                                       "template": ["metadata": ["labels": ["app": "web"]], "spec": ["containers": [["name": "app", "image": "nginx:1"]]]]]]
        let created = await h.call("POST", "/apis/apps/v1/namespaces/a/deployments", dep)
        #expect(created.body["metadata"]?["generation"] == 1)
        #expect(created.body["spec"]?["replicas"] == 1, "defaulted")
        let labelled = await h.call("PATCH", "/apis/apps/v1/namespaces/a/deployments/web", ["metadata": ["labels": ["x": "y"]]], contentType: "application/merge-patch+json")
        #expect(labelled.body["metadata"]?["generation"] == 1)
        let status = await h.call("PATCH", "/apis/apps/v1/namespaces/a/deployments/web/status",
                                  ["spec": ["replicas": 9], "status": ["replicas": 2]], contentType: "application/merge-patch+json")
        #expect(status.body["status"]?["replicas"] == 2)
        #expect(status.body["spec"]?["replicas"] == 1, "the status subresource ignores spec")
        let main = await h.call("PATCH", "/apis/apps/v1/namespaces/a/deployments/web", ["spec": ["replicas": 3], "status": ["replicas": 7]],
                                contentType: "application/merge-patch+json")
        #expect(main.body["metadata"]?["generation"] == 2)
        #expect(main.body["status"]?["replicas"] == 2, "the main resource ignores status")
    }

    @Test("finalizers hold a delete; no new finalizer may be added; removing the last one deletes")
    func finalizers() async {
        let h = Harness()
        await h.namespace("a")
        _ = await h.call("POST", "/api/v1/namespaces/a/configmaps", ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "held", "finalizers": ["x.io/hold"]]])
        let deleted = await h.call("DELETE", "/api/v1/namespaces/a/configmaps/held")
        #expect(deleted.status == 200)
        #expect(deleted.body["metadata"]?["deletionTimestamp"] != nil)
        let add = await h.call("PATCH", "/api/v1/namespaces/a/configmaps/held", ["metadata": ["finalizers": ["x.io/hold", "x.io/new"]]], contentType: "application/merge-patch+json")
        #expect(add.status == 422)
        #expect(add.body["details"]?["causes"]?.arrayValue?.count == 2)
        let removed = await h.call("PATCH", "/api/v1/namespaces/a/configmaps/held", ["metadata": ["finalizers": .null]], contentType: "application/merge-patch+json")
        #expect(removed.status == 200)
        #expect(await h.call("GET", "/api/v1/namespaces/a/configmaps/held").status == 404)
    }

    @Test("delete preconditions and dryRun")
    func deleteOptions() async {
        let h = Harness()
        await h.namespace("a")
        _ = await h.configMap("a", "c1")
        let pre = await h.call("DELETE", "/api/v1/namespaces/a/configmaps/c1", ["preconditions": ["resourceVersion": "1"]])
        #expect(pre.status == 409)
        #expect(pre.message.hasPrefix("Operation cannot be fulfilled on ConfigMap \"c1\": the ResourceVersion in the precondition (1) does not match"))
        let dry = await h.call("DELETE", "/api/v1/namespaces/a/configmaps/c1?dryRun=All")
        #expect(dry.status == 200)
        #expect(await h.call("GET", "/api/v1/namespaces/a/configmaps/c1").status == 200)
        let real = await h.call("DELETE", "/api/v1/namespaces/a/configmaps/c1")
        #expect(real.body["kind"] == "Status")
        #expect(real.body["status"] == "Success")
        let dryCreate = await h.call("POST", "/api/v1/namespaces/a/configmaps?dryRun=All", ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "dry"]])
        #expect(dryCreate.status == 201)
        #expect(dryCreate.body["metadata"]?["resourceVersion"] == nil)
        #expect(await h.call("GET", "/api/v1/namespaces/a/configmaps/dry").status == 404)
    }

    @Test("Events expire a TTL after their last write, like their etcd lease; watches see DELETED")
    func eventTTL() async throws {
        let ttl = Duration.seconds(60)
        let h = Harness(eventTTL: ttl)
        await h.namespace("ev")
        func event(_ name: String) -> JSONValue {
            ["apiVersion": "v1", "kind": "Event", "metadata": ["name": .string(name)], "reason": "Synced", "message": "m", "type": "Normal",
             "involvedObject": ["kind": "ConfigMap", "name": "c", "namespace": "ev"]]
        }
        let renewed = await h.call("POST", "/api/v1/namespaces/ev/events", event("renewed"))
        #expect(await h.call("POST", "/api/v1/namespaces/ev/events", event("old")).status == 201)
        let oldWritten = ContinuousClock.now  // "old" was last written before this instant
        _ = await h.configMap("ev", "kept")
        let rv = renewed.body["metadata"]?["resourceVersion"]?.stringValue ?? ""
        let watch = await h.watch("/api/v1/namespaces/ev/events?watch=true&resourceVersion=\(rv)&timeoutSeconds=5")
        // "renewed" is written again after oldWritten, so at oldWritten + ttl only "old" has expired.
        #expect(await h.call("PATCH", "/api/v1/namespaces/ev/events/renewed", ["count": 2], contentType: "application/merge-patch+json").status == 200)
        h.server.expireEvents()
        #expect(await h.call("GET", "/api/v1/namespaces/ev/events/old").status == 200, "younger than the TTL")
        h.server.expireEvents(now: oldWritten + ttl)
        #expect(await h.call("GET", "/api/v1/namespaces/ev/events/old").status == 404, "expired")
        #expect(await h.call("GET", "/api/v1/namespaces/ev/events/renewed").status == 200, "a write renews the TTL")
        #expect(await h.call("GET", "/api/v1/namespaces/ev/configmaps/kept").status == 200, "only Events expire")
        let seen = await watch.take(3)
        #expect(seen.map(\.type) == ["ADDED", "MODIFIED", "DELETED"])
        #expect(seen.map(\.objectName) == ["old", "renewed", "old"])
    }

    @Test("namespace deletion removes its contents, then the namespace")
    func namespaceDeletion() async {
        let h = Harness()
        await h.namespace("gone")
        _ = await h.configMap("gone", "c1")
        _ = await h.call("DELETE", "/api/v1/namespaces/gone")
        #expect(await h.call("GET", "/api/v1/namespaces/gone").body["status"]?["phase"] == "Terminating")
        h.server.reconcileOnce()
        #expect(await h.call("GET", "/api/v1/namespaces/gone/configmaps/c1").status == 404)
        #expect(await h.call("GET", "/api/v1/namespaces/gone").status == 404)
    }

    @Test("ownerReferences: background deletion removes dependents, orphan keeps them, foreground waits for them")
    func garbageCollection() async {
        let h = Harness()
        await h.namespace("a")
        for policy in ["Background", "Orphan", "Foreground"] {
            let owner = await h.configMap("a", "owner-\(policy.lowercased())")
            let uid = owner.body["metadata"]?["uid"] ?? .null
            let dependent: JSONValue = ["apiVersion": "v1", "kind": "ConfigMap",
                                        "metadata": ["name": .string("dep-\(policy.lowercased())"),
                                                     "ownerReferences": [["apiVersion": "v1", "kind": "ConfigMap", "name": .string("owner-\(policy.lowercased())"), "uid": uid]]]]
            #expect(await h.call("POST", "/api/v1/namespaces/a/configmaps", dependent).status == 201)
            let deleted = await h.call("DELETE", "/api/v1/namespaces/a/configmaps/owner-\(policy.lowercased())", ["propagationPolicy": .string(policy)])
            #expect(deleted.status == 200)
            if policy == "Foreground" {
                #expect(deleted.body["metadata"]?["finalizers"] == ["foregroundDeletion"], "the owner waits for its dependents")
            }
            h.server.reconcileOnce()
            h.server.reconcileOnce()
            let dep = await h.call("GET", "/api/v1/namespaces/a/configmaps/dep-\(policy.lowercased())")
            let ownerAfter = await h.call("GET", "/api/v1/namespaces/a/configmaps/owner-\(policy.lowercased())")
            #expect(ownerAfter.status == 404, "\(policy): owner gone")
            if policy == "Orphan" {
                #expect(dep.status == 200)
                #expect(dep.body["metadata"]?["ownerReferences"] == nil, "orphaned dependents lose the reference")
            } else {
                #expect(dep.status == 404, "\(policy): dependent collected")
            }
        }
    }
}
