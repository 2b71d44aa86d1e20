import FlotillaAPI
import Foundation
import GitTesting
import KubeClient
import KubeModel
import KubeTesting
import Manifests
import Operator
import Testing

/// The tenancy model tried as an attacker: `alice` may edit FluxInstances, Secrets and ConfigMaps
/// in team-a and nothing else, and tries to use an instance to reach further. Then the
/// administrator's ways of widening an instance, which still work.
@Suite("Tenancy: an instance never gets more than an administrator granted", .serialized)
struct TenancyTests {
    /// alice's rights: her own namespace's FluxInstances, Secrets and ConfigMaps.
    static func grantTenant(_ f: OperatorFixture, namespace: String = "team-a") async throws -> KubeClient {
        _ = try await f.client.apply(["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                                      "metadata": ["name": "tenant", "namespace": .string(namespace)],
                                      "rules": [["apiGroups": ["flotilla.dev"], "resources": ["fluxinstances"], "verbs": ["*"]],
                                                ["apiGroups": [""], "resources": ["secrets", "configmaps"], "verbs": ["*"]]]],
                                     as: .roles, fieldManager: "admin")
        _ = try await f.client.apply(["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                                      "metadata": ["name": "tenant", "namespace": .string(namespace)],
                                      "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tenant"],
                                      "subjects": [["kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"]]],
                                     as: .roleBindings, fieldManager: "admin")
        return try f.client(user: "alice")
    }

    static func instance(_ client: KubeClient, _ name: String, namespace: String = "team-a", spec: JSONValue) async throws {
        _ = try await client.apply(["apiVersion": .string(Flotilla.apiVersion), "kind": "FluxInstance",
                                    "metadata": ["name": .string(name), "namespace": .string(namespace)], "spec": spec],
                                   as: FluxInstance.resourceType, fieldManager: "kubectl", force: true)
    }

    func exists(_ f: OperatorFixture, _ type: ResourceType, _ name: String, namespace: String? = nil) async throws -> Bool {
        do {
            _ = try await f.client.get(type, name: name, namespace: namespace)
            return true
        } catch {
            if error.isNotFound { return false }
            throw error
        }
    }


    @Test("another namespace, another team's object, a cluster-wide binding, cluster scope: each refused, nothing applied, nothing bound")
    func attacks() async throws {
        let repo = try UpstreamRepo(files: ["own.yaml": cm("own"), "grab.yaml": cm("shared", namespace: "team-b", value: "alice")])
        try await withOperator(namespaces: ["team-a", "team-b"]) { f in
            let alice = try await Self.grantTenant(f)
            _ = try await f.client.create(.configMaps, try YAML.decode(cm("shared", namespace: "team-b", value: "team-b")))
            // Her own rights stop at team-a: she cannot write there herself, nor give her namespace
            // the consent of another (Namespaces are the administrator's).
            await #expect(throws: KubeError.self) { _ = try await alice.create(.configMaps, try YAML.decode(cm("x", namespace: "team-b"))) }
            let consent: JSONValue = ["metadata": ["annotations": [.init(stringLiteral: Flotilla.allowInstancesFromAnnotation): "team-a"]]]
            let refused = await #expect(throws: KubeError.self) { _ = try await alice.patch(.namespaces, name: "team-b", consent) }
            #expect(refused?.isForbidden == true)

            try await Self.instance(alice, "grab", spec: ["git": gitSpec(repo.url), "allowedNamespaces": ["team-a", "team-b"]])
            try await Self.instance(alice, "star", spec: ["git": gitSpec(repo.url), "allowedNamespaces": ["*"]])
            try await Self.instance(alice, "scoped", spec: ["git": gitSpec(repo.url, poll: "1s", ["paths": ["own.yaml"]]), "clusterScoped": true])

            let grab = try await f.waitFor("grab", namespace: "team-a", reason: "NamespaceNotPermitted")
            #expect(grab?.status?.lastError?.contains("not consented to instances of team-a: team-b") == true, "\(grab?.status?.lastError ?? "")")
            #expect(grab?.status?.conditions?.contains { $0.type == "Stalled" && $0.status == "True" } == true)
            let star = try await f.waitFor("star", namespace: "team-a", reason: "NamespaceNotPermitted")
            #expect(star?.status?.lastError?.contains("[\"*\"] is not permitted") == true)
            _ = try await f.waitFor("scoped", namespace: "team-a", reason: "ClusterScopeNotPermitted")

            #expect(try await f.configMap("shared", namespace: "team-b")?["data"]?["k"] == "team-b", "another team's object untouched")
            #expect(try await f.configMap("own", namespace: "team-a") == nil, "nothing of a refused revision is applied")
            #expect(try await !exists(f, .roleBindings, "flotilla-team-a-grab", namespace: "team-b"))
            #expect(try await !exists(f, .clusterRoleBindings, "flotilla-team-a-star"))
            let events = try await f.client.list(.events, namespace: "team-a").items
            #expect(events.contains { $0["reason"] == "NamespaceNotPermitted" && $0["involvedObject"]?["name"] == "grab" }, "an Event says why")
        }
    }

    @Test("the administrator's way: a Namespace consents, the instance syncs there; the consent withdrawn, it is refused and unbound")
    func consentGivenAndWithdrawn() async throws {
        let repo = try UpstreamRepo(files: ["own.yaml": cm("own"), "there.yaml": cm("there", namespace: "team-b")])
        try await withOperator(namespaces: ["team-a", "team-b"]) { f in
            let alice = try await Self.grantTenant(f)
            _ = try await f.client.patch(.namespaces, name: "team-b", ["metadata": ["annotations": [.init(stringLiteral: Flotilla.allowInstancesFromAnnotation): "team-a"]]])
            try await Self.instance(alice, "multi", spec: ["git": gitSpec(repo.url), "allowedNamespaces": ["team-a", "team-b"], "sync": ["interval": "1s"]])
            _ = try await f.waitFor("multi", namespace: "team-a", reason: "Synced")
            #expect(try await f.configMap("there", namespace: "team-b") != nil)
            #expect(try await exists(f, .roleBindings, "flotilla-team-a-multi", namespace: "team-b"))

            _ = try await f.client.patch(.namespaces, name: "team-b", ["metadata": ["annotations": [.init(stringLiteral: Flotilla.allowInstancesFromAnnotation): .null]]])
            _ = try await f.waitFor("multi", namespace: "team-a", reason: "NamespaceNotPermitted")
            #expect(try await eventually { try await !exists(f, .roleBindings, "flotilla-team-a-multi", namespace: "team-b") }, "the binding is removed")
        }
    }

    @Test("bindings an earlier version made for namespaces no longer permitted are removed at start")
    func earlierBindingsRemoved() async throws {
        let repo = try UpstreamRepo(files: ["own.yaml": cm("own")])
        try await withOperator(namespaces: ["team-a", "team-b"]) { f in
            let alice = try await Self.grantTenant(f)
            let labels: JSONValue = [.init(stringLiteral: Flotilla.instanceLabel): "team-a.old"]
            let subject: JSONValue = ["kind": "ServiceAccount", "name": "flotilla-old", "namespace": "team-a"]
            let roleRef: JSONValue = ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"]
            _ = try await f.client.create(.roleBindings, ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                                                          "metadata": ["name": "flotilla-team-a-old", "namespace": "team-b", "labels": labels],
                                                          "roleRef": roleRef, "subjects": [subject]])
            _ = try await f.client.create(.clusterRoleBindings, ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                                                                     "metadata": ["name": "flotilla-team-a-old", "labels": labels],
                                                                     "roleRef": roleRef, "subjects": [subject]])
            try await Self.instance(alice, "old", spec: ["git": gitSpec(repo.url), "allowedNamespaces": ["*"]])
            _ = try await f.waitFor("old", namespace: "team-a", reason: "NamespaceNotPermitted")
            #expect(try await eventually {
                let cluster = try await exists(f, .clusterRoleBindings, "flotilla-team-a-old")
                let namespaced = try await exists(f, .roleBindings, "flotilla-team-a-old", namespace: "team-b")
                return !cluster && !namespaced
            }, "both removed")
            // Asking for its own namespace only, it syncs, bound there and nowhere else.
            try await Self.instance(alice, "old", spec: ["git": gitSpec(repo.url)])
            _ = try await f.waitFor("old", namespace: "team-a", reason: "Synced")
            #expect(try await exists(f, .roleBindings, "flotilla-team-a-old", namespace: "team-a"))
            #expect(try await !exists(f, .clusterRoleBindings, "flotilla-team-a-old"))
        }
    }

    @Test("a cluster-scope namespace named by the install may use allowedNamespaces [*]")
    func clusterScopeNamespace() async throws {
        let repo = try UpstreamRepo(files: ["there.yaml": cm("there", namespace: "team-b")])
        let policy = TenancyPolicy(clusterScopeNamespaces: ["platform"], generators: .bubblewrap(Bubblewrap()))
        try await withOperator(namespaces: ["platform", "team-b"], tenancy: policy) { f in
            try await f.apply("fleet", namespace: "platform", spec: ["git": gitSpec(repo.url), "allowedNamespaces": ["*"]])
            _ = try await f.waitFor("fleet", namespace: "platform", reason: "Synced")
            #expect(try await f.configMap("there", namespace: "team-b") != nil)
            #expect(try await exists(f, .clusterRoleBindings, "flotilla-platform-fleet"))
            // Deleted, it takes its binding with it.
            try await f.client.delete(FluxInstance.resourceType, name: "fleet", namespace: "platform")
            #expect(try await eventually { try await !exists(f, .clusterRoleBindings, "flotilla-platform-fleet") })
        }
    }

    @Test("an administrator's ServiceAccount, bound in another namespace, syncs there without any consent annotation")
    func administratorsServiceAccount() async throws {
        let repo = try UpstreamRepo(files: ["own.yaml": cm("own"), "there.yaml": cm("there", namespace: "team-b")])
        try await withOperator(namespaces: ["team-a", "team-b"]) { f in
            _ = try await f.client.create(.serviceAccounts, ["apiVersion": "v1", "kind": "ServiceAccount", "metadata": ["name": "deployer", "namespace": "team-a"]])
            for namespace in ["team-a", "team-b"] {
                _ = try await f.client.create(.roleBindings, ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                                                              "metadata": ["name": "deployer", "namespace": .string(namespace)],
                                                              "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"],
                                                              "subjects": [["kind": "ServiceAccount", "name": "deployer", "namespace": "team-a"]]])
            }
            let alice = try await Self.grantTenant(f)
            try await Self.instance(alice, "deploy", spec: ["git": gitSpec(repo.url), "serviceAccountName": "deployer", "allowedNamespaces": ["team-a", "team-b"]])
            _ = try await f.waitFor("deploy", namespace: "team-a", reason: "Synced")
            #expect(try await f.configMap("there", namespace: "team-b") != nil)
            #expect(try await !exists(f, .roleBindings, "flotilla-team-a-deploy", namespace: "team-b"), "the operator binds nothing for it")
            #expect(try await !exists(f, .serviceAccounts, "flotilla-deploy", namespace: "team-a"))
        }
    }

    @Test("lockdown: instances act as the default ServiceAccount; the operator makes no ServiceAccount and no binding")
    func lockdown() async throws {
        let repo = try UpstreamRepo(files: ["own.yaml": cm("own")])
        let elsewhere = try UpstreamRepo(files: ["there.yaml": cm("there", namespace: "team-b")])
        let policy = TenancyPolicy(defaultServiceAccount: "flux-tenant", generators: .bubblewrap(Bubblewrap()))
        try await withOperator(namespaces: ["team-a", "team-b"], tenancy: policy) { f in
            _ = try await f.client.create(.serviceAccounts, ["apiVersion": "v1", "kind": "ServiceAccount", "metadata": ["name": "flux-tenant", "namespace": "team-a"]])
            _ = try await f.client.create(.roleBindings, ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                                                          "metadata": ["name": "flux-tenant", "namespace": "team-a"],
                                                          "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"],
                                                          "subjects": [["kind": "ServiceAccount", "name": "flux-tenant", "namespace": "team-a"]]])
            let alice = try await Self.grantTenant(f)
            try await Self.instance(alice, "apps", spec: ["git": gitSpec(repo.url)])
            try await Self.instance(alice, "reach", spec: ["git": gitSpec(elsewhere.url), "allowedNamespaces": ["team-b"]])
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Synced")
            let reach = try await f.waitFor("reach", namespace: "team-a", reason: "Forbidden")
            #expect(reach?.status?.lastError?.contains("team-b") == true, "\(reach?.status?.lastError ?? "")")
            #expect(try await f.configMap("there", namespace: "team-b") == nil)
            #expect(try await !exists(f, .serviceAccounts, "flotilla-apps", namespace: "team-a"))
            #expect(try await !exists(f, .roleBindings, "flotilla-team-a-apps", namespace: "team-a"))
        }
    }

    @Test("a generator cannot read another instance's mirror; generation outside the install's namespaces is refused")
    func generators() async throws {
        let victim = try UpstreamRepo(files: ["secret.yaml": cm("victim", value: "PLANTED")])
        let thief = """
            version: 1
            commandUpdated:
              generators:
              - command: sh steal.sh
            """
        try await withOperator(namespaces: ["team-a", "team-b", "team-c"],
                               tenancy: TenancyPolicy(generationNamespaces: NamespaceSet(parsing: "team-a, team-b"), generators: .bubblewrap(Bubblewrap()))) { f in
            try await f.apply("victim", namespace: "team-b", spec: ["git": gitSpec(victim.url)])
            _ = try await f.waitFor("victim", namespace: "team-b", reason: "Synced")
            let mirrorConfig = f.workRoot + "/team-b/victim/git/mirror.git/config"
            #expect(FileManager.default.fileExists(atPath: mirrorConfig), "the victim's mirror is where the thief looks")
            let steal = """
                printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: loot}\\ndata:\\n  mirror: "%s"\\n  listing: "%s"\\n' \
                  "$(cat \(mirrorConfig) 2>/dev/null | head -c 40 | tr -d '\\n\\t"' || echo unreadable)" "$(ls \(f.workRoot) 2>/dev/null | tr '\\n' ' ')"
                """
            let repo = try UpstreamRepo(files: [".flux.yaml": thief, "steal.sh": steal])
            let alice = try await Self.grantTenant(f)
            try await Self.instance(alice, "thief", spec: ["git": gitSpec(repo.url), "manifestGeneration": true])
            _ = try await f.waitFor("thief", namespace: "team-a", reason: "Synced")
            let loot = try await f.configMap("loot", namespace: "team-a")
            #expect(loot?["data"]?["mirror"] == "", "\(String(describing: loot))")
            #expect(loot?["data"]?["listing"] == "")

            try await f.apply("gen", namespace: "team-c", spec: ["git": gitSpec(repo.url), "manifestGeneration": true])
            let refused = try await f.waitFor("gen", namespace: "team-c", reason: "GenerationNotPermitted")
            #expect(refused?.status?.lastError?.contains("namespace team-c") == true)
            #expect(try await f.configMap("loot", namespace: "team-c") == nil)
        }
    }
}
