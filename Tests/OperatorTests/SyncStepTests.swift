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

/// The render and sync steps: access checked before anything is applied, forbidden namespaces
/// and conflicts reported naming the objects, nothing applied on a refusal.
@Suite("Sync step")
struct SyncStepTests {
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
}
