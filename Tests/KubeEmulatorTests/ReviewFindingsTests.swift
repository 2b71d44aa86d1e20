import KubeModel
import Testing

@testable import KubeEmulator

/// Behaviours found missing in review against kube-apiserver; each test is the reproduction.
@Suite("kube-apiserver fidelity")
struct FidelityTests {
    @Test("an apply that drops a container removes the whole list item")
    func applyDropsListItem() async {
        let h = Harness()
        await h.namespace("a")
        _ = await h.apply("/apis/apps/v1/namespaces/a/deployments/web", PatchAndApplyTests.deployment, manager: "a")
        let one = PatchAndApplyTests.deployment.split(separator: "\n").filter { !$0.contains("side") && !$0.contains("busybox") }.joined(separator: "\n")
        let r = await h.apply("/apis/apps/v1/namespaces/a/deployments/web", one, manager: "a")
        let containers = r.body["spec"]?["template"]?["spec"]?["containers"]?.arrayValue ?? []
        #expect(containers.count == 1)
        #expect(containers.first?["name"] == "app")
    }

    @Test("custom resource status writes are validated against the schema")
    func statusValidated() async {
        let h = Harness()
        await CRDTests().setUp(h)
        _ = await h.call("POST", "/apis/example.com/v1/namespaces/a/gadgets", CRDTests().gadget("g1", ["url": "file:///y"]))
        // The gadget schema keeps status open; a bad spec slipped in through /status must be refused.
        let bad = await h.call("PATCH", "/apis/example.com/v1/namespaces/a/gadgets/g1/status", ["status": ["x": 1]], contentType: "application/merge-patch+json")
        #expect(bad.status == 200)
        let crd = await h.call("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.example.com")
        var tightened = crd.body
        tightened.set(path: ["spec", "versions"], to: .array((crd.body["spec"]?["versions"]?.arrayValue ?? []).map { v in
            var v = v
            if v["name"] == "v1" {
                v.set(path: ["schema", "openAPIV3Schema", "properties", "status"], to: ["type": "object", "properties": ["phase": ["type": "string", "enum": ["Ready", "Failed"]]]])
            }
            return v
        }))
        #expect(await h.call("PUT", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.example.com", tightened).status == 200)
        let invalid = await h.call("PATCH", "/apis/example.com/v1/namespaces/a/gadgets/g1/status", ["status": ["phase": "Maybe"]], contentType: "application/merge-patch+json")
        #expect(invalid.status == 422)
        #expect(invalid.body["details"]?["causes"]?.arrayValue?.first?["field"] == "status.phase")
    }

    @Test("managedFields sent by the client are honoured; [{}] clears them")
    func clientManagedFields() async {
        let h = Harness()
        await h.namespace("a")
        _ = await h.apply("/api/v1/namespaces/a/configmaps/m", "{apiVersion: v1, kind: ConfigMap, metadata: {name: m}, data: {a: '1', b: '2'}}", manager: "one")
        let cleared = await h.call("PATCH", "/api/v1/namespaces/a/configmaps/m", ["metadata": ["managedFields": [.emptyObject]]], contentType: "application/merge-patch+json")
        #expect(cleared.body["metadata"]?["managedFields"] == nil)
        // Nobody owns b now, so an apply of only a by a new manager does not remove b; nor conflicts.
        let r = await h.apply("/api/v1/namespaces/a/configmaps/m", "{apiVersion: v1, kind: ConfigMap, metadata: {name: m}, data: {a: '9'}}", manager: "two")
        #expect(r.status == 200)
        #expect(r.body["data"] == ["a": "9", "b": "2"])
    }

    @Test("Leases and custom resources need a resourceVersion on update; a Lease may be created by PUT")
    func unconditionalUpdates() async {
        let h = Harness()
        await h.namespace("a")
        let lease: JSONValue = ["apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": ["name": "l"], "spec": ["holderIdentity": "x"]]
        let created = await h.call("PUT", "/apis/coordination.k8s.io/v1/namespaces/a/leases/l", lease)
        #expect(created.status == 201)
        let blind = await h.call("PUT", "/apis/coordination.k8s.io/v1/namespaces/a/leases/l", lease)
        #expect(blind.status == 422)
        #expect(blind.message.hasSuffix("metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"))
        var fresh = created.body
        fresh.set(path: ["spec", "holderIdentity"], to: "y")
        #expect(await h.call("PUT", "/apis/coordination.k8s.io/v1/namespaces/a/leases/l", fresh).status == 200)
        #expect(await h.call("PUT", "/apis/coordination.k8s.io/v1/namespaces/a/leases/l", fresh).status == 409, "a stale resourceVersion conflicts")
    }

    @Test("leaving a watch's selector is DELETED with the change's resourceVersion")
    func transitionResourceVersion() async {
        let h = Harness()
        await h.namespace("w")
        let rv = h.server.currentResourceVersion
        _ = await h.configMap("w", "x", labels: ["w": "1"])
        let patched = await h.call("PATCH", "/api/v1/namespaces/w/configmaps/x", ["metadata": ["labels": ["w": "2"]]], contentType: "application/merge-patch+json")
        let watch = await h.watch("/api/v1/namespaces/w/configmaps?watch=true&labelSelector=w%3D1&resourceVersion=\(rv)&timeoutSeconds=5")
        let events = await watch.take(2)
        #expect(events.last?.type == "DELETED")
        #expect(events.last?["object"]?["metadata"]?["resourceVersion"] == patched.body["metadata"]?["resourceVersion"])
    }

    @Test("RBAC: resourceNames cover a list pinned by fieldSelector; resource/* does not grant subresources")
    func rbacCorners() async {
        let h = Harness()
        await h.namespace("a")
        _ = await h.configMap("a", "cfg")
        let role: JSONValue = ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": ["name": "r"],
                               "rules": [["apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["cfg"], "verbs": ["get", "list", "watch"]],
                                         ["apiGroups": ["apps"], "resources": ["deployments/*"], "verbs": ["get"]]]]
        _ = await h.call("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/a/roles", role)
        _ = await h.call("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/a/rolebindings",
                         ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": ["name": "rb"],
                          "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"], "subjects": [["kind": "User", "name": "alice"]]])
        #expect(await h.call("GET", "/api/v1/namespaces/a/configmaps/cfg", as: "alice").status == 200)
        #expect(await h.call("GET", "/api/v1/namespaces/a/configmaps?fieldSelector=metadata.name%3Dcfg", as: "alice").status == 200)
        #expect(await h.call("GET", "/api/v1/namespaces/a/configmaps", as: "alice").status == 403)
        _ = await h.apply("/apis/apps/v1/namespaces/a/deployments/web", PatchAndApplyTests.deployment, manager: "m")
        #expect(await h.call("GET", "/apis/apps/v1/namespaces/a/deployments/web/scale", as: "alice").status == 403)
    }

    @Test("ClusterRole aggregation: a role labelled aggregate-to-edit extends edit, admin and the bindings using them")
    func aggregation() async {
        let h = Harness()
        await h.namespace("a")
        let edit = await h.call("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/edit")
        #expect((edit.body["rules"]?.arrayValue?.count ?? 0) > 10, "edit = system:aggregate-to-edit + view")
        _ = await h.call("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/a/rolebindings",
                         ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": ["name": "alice-edit"],
                          "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"], "subjects": [["kind": "User", "name": "alice"]]])
        #expect(await h.call("GET", "/apis/coordination.k8s.io/v1/namespaces/a/leases", as: "alice").status == 403)
        _ = await h.call("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles",
                         ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                          "metadata": ["name": "leases-edit", "labels": ["rbac.authorization.k8s.io/aggregate-to-edit": "true"]],
                          "rules": [["apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "list"]]]])
        #expect(await h.call("GET", "/apis/coordination.k8s.io/v1/namespaces/a/leases", as: "alice").status == 200)
        let admin = await h.call("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin")
        #expect(admin.body["rules"]?.arrayValue?.contains { $0["apiGroups"] == ["coordination.k8s.io"] } == true, "admin aggregates edit")
    }

    @Test("field selectors kube-apiserver supports per kind (events by involved object)")
    func eventFieldSelector() async {
        let h = Harness()
        await h.namespace("a")
        for (name, target) in [("e1", "web"), ("e2", "db")] {
            _ = await h.call("POST", "/api/v1/namespaces/a/events", ["apiVersion": "v1", "kind": "Event", "metadata": ["name": .string(name)],
                                                                     "involvedObject": ["kind": "ConfigMap", "name": .string(target), "namespace": "a"],
                                                                     "reason": "Test", "message": "m", "type": "Normal"])
        }
        let r = await h.call("GET", "/api/v1/namespaces/a/events?fieldSelector=involvedObject.name%3Dweb,involvedObject.kind%3DConfigMap")
        #expect(r.body["items"]?.arrayValue?.compactMap { $0["metadata"]?["name"]?.stringValue } == ["e1"])
        #expect(await h.call("GET", "/api/v1/namespaces/a/configmaps?fieldSelector=involvedObject.name%3Dweb").status == 400)
    }

    @Test("apply bodies: managedFields refused, stale resourceVersion conflicts, force only for apply")
    func applyBodies() async {
        let h = Harness()
        await h.namespace("a")
        let first = await h.apply("/api/v1/namespaces/a/configmaps/x", "{apiVersion: v1, kind: ConfigMap, metadata: {name: x}, data: {a: '1'}}", manager: "m")
        #expect(await h.apply("/api/v1/namespaces/a/configmaps/x", "{apiVersion: v1, kind: ConfigMap, metadata: {name: x, managedFields: [{manager: z}]}}", manager: "m").status == 400)
        _ = await h.call("PATCH", "/api/v1/namespaces/a/configmaps/x", ["data": ["b": "2"]], contentType: "application/merge-patch+json")
        let rv = first.body["metadata"]?["resourceVersion"]?.stringValue ?? ""
        #expect(await h.apply("/api/v1/namespaces/a/configmaps/x", "{apiVersion: v1, kind: ConfigMap, metadata: {name: x, resourceVersion: '\(rv)'}}", manager: "m").status == 409)
        let forced = await h.call("PATCH", "/api/v1/namespaces/a/configmaps/x?force=true", ["data": ["c": "3"]], contentType: "application/merge-patch+json")
        #expect(forced.status == 422)
    }

    @Test("a quiet resource can still be watched after many unrelated writes")
    func perResourceWindow() async {
        let h = Harness(watchWindow: 5)
        await h.namespace("w")
        let rv = h.server.currentResourceVersion
        for i in 0..<10 { _ = await h.call("POST", "/api/v1/namespaces/w/secrets", ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": .string("s\(i)")]]) }
        let watch = await h.watch("/apis/coordination.k8s.io/v1/namespaces/w/leases?watch=true&resourceVersion=\(rv)&timeoutSeconds=1&allowWatchBookmarks=true")
        #expect(await watch.take(1).first?.type == "BOOKMARK", "no 410 for a resource that had no changes evicted")
    }

    @Test("TokenRequest audiences: a token for another audience does not authenticate to the API")
    func audiences() async {
        let h = Harness()
        await h.namespace("a")
        _ = await h.call("POST", "/api/v1/namespaces/a/serviceaccounts", ["apiVersion": "v1", "kind": "ServiceAccount", "metadata": ["name": "sa"]])
        let r = await h.call("POST", "/api/v1/namespaces/a/serviceaccounts/sa/token",
                             ["apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": ["audiences": ["vault"]]])
        let token = r.body["status"]?["token"]?.stringValue ?? ""
        #expect(await h.call("GET", "/api/v1/namespaces/a/configmaps", token: token).status == 401)
        let review = await h.call("POST", "/apis/authentication.k8s.io/v1/tokenreviews",
                                  ["apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": ["token": .string(token), "audiences": ["vault"]]])
        #expect(review.body["status"]?["authenticated"] == true)
        #expect(review.body["status"]?["user"]?["username"] == "system:serviceaccount:a:sa")
    }

    @Test("SelfSubjectReview answers who the caller is (kubectl auth whoami)")
    func whoami() async {
        let h = Harness()
        let r = await h.call("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                             ["apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"], as: "alice")
        #expect(r.status == 201)
        #expect(r.body["status"]?["userInfo"]?["username"] == "alice")
        #expect(r.body["status"]?["userInfo"]?["groups"] == ["developers", "system:authenticated"])
    }

    @Test("impersonation applies to non-resource paths; a terminating namespace cannot be deleted again")
    func miscellaneous() async {
        let h = Harness()
        #expect(await h.call("GET", "/version", as: "bob", headers: ["Impersonate-User": "carol"]).status == 403)
        await h.namespace("gone")
        #expect(await h.call("DELETE", "/api/v1/namespaces/gone").status == 200)
        let again = await h.call("DELETE", "/api/v1/namespaces/gone")
        #expect(again.status == 409)
        #expect(again.message.contains("The system is ensuring all content is removed from this namespace"))
    }
}
