import KubeModel
import Testing

@testable import KubeEmulator

@Suite("Authentication, RBAC and impersonation")
struct AuthTests {
    /// A namespace `a` with ServiceAccount `tenant` bound to `edit`, and a namespace `b`.
    func tenantSetup(_ h: Harness) async {
        await h.namespace("a")
        await h.namespace("b")
        _ = await h.call("POST", "/api/v1/namespaces/a/serviceaccounts", ["apiVersion": "v1", "kind": "ServiceAccount", "metadata": ["name": "tenant"]])
        let binding: JSONValue = ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": ["name": "tenant-edit"],
                                  "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"],
                                  "subjects": [["kind": "ServiceAccount", "name": "tenant", "namespace": "a"]]]
        #expect(await h.call("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/a/rolebindings", binding).status == 201)
    }

    static let sa = ["Impersonate-User": "system:serviceaccount:a:tenant"]

    @Test("no credentials is system:anonymous; a bad token is 401")
    func authentication() async {
        let h = Harness()
        let anon = await h.call("GET", "/api/v1/namespaces", as: nil)
        #expect(anon.status == 403)
        #expect(anon.message == #"namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces" in API group "" at the cluster scope"#)
        let bad = await h.call("GET", "/api/v1/namespaces", token: "wrong")
        #expect(bad.status == 401)
        #expect(bad.message == "Unauthorized")
        #expect(await h.call("GET", "/version", as: nil).status == 200, "version is public")
    }

    @Test("an impersonated ServiceAccount gets exactly its RoleBinding's rights")
    func serviceAccountRights() async {
        let h = Harness()
        await tenantSetup(h)
        #expect(await h.configMap("a", "c1").status == 201)
        #expect(await h.call("GET", "/api/v1/namespaces/a/configmaps/c1", headers: Self.sa).status == 200)
        let other = await h.call("GET", "/api/v1/namespaces/b/configmaps", headers: Self.sa)
        #expect(other.status == 403)
        #expect(other.message == #"configmaps is forbidden: User "system:serviceaccount:a:tenant" cannot list resource "configmaps" in API group "" in the namespace "b""#)
        let role = await h.call("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/a/roles",
                                ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": ["name": "r"], "rules": []], headers: Self.sa)
        #expect(role.status == 403)
        #expect(role.message.hasPrefix("roles.rbac.authorization.k8s.io is forbidden"))
        let named = await h.call("DELETE", "/api/v1/namespaces/b/configmaps/kube-root-ca.crt", headers: Self.sa)
        #expect(named.message.hasPrefix(#"configmaps "kube-root-ca.crt" is forbidden: User "system:serviceaccount:a:tenant" cannot delete resource "configmaps""#))
    }

    @Test("impersonation needs the impersonate verb")
    func impersonationRefused() async {
        let h = Harness()
        let r = await h.call("GET", "/api/v1/namespaces/default/configmaps", as: "bob", headers: ["Impersonate-User": "someone"])
        #expect(r.status == 403)
        #expect(r.message == #"users "someone" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope"#)
    }

    @Test("SubjectAccessReview answers agree with enforcement, with RBAC's reason")
    func accessReviews() async {
        let h = Harness()
        await tenantSetup(h)
        func sar(_ verb: String, _ resource: String, _ ns: String) async -> JSONValue? {
            let body: JSONValue = ["apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                                   "spec": ["user": "system:serviceaccount:a:tenant",
                                            "groups": ["system:serviceaccounts", "system:serviceaccounts:a", "system:authenticated"],
                                            "resourceAttributes": ["verb": .string(verb), "resource": .string(resource), "namespace": .string(ns)]]]
            return await h.call("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body).body["status"]
        }
        let allowed = await sar("delete", "secrets", "a")
        #expect(allowed?["allowed"] == true)
        #expect(allowed?["reason"] == #"RBAC: allowed by RoleBinding "tenant-edit/a" of ClusterRole "edit" to ServiceAccount "tenant/a""#)
        #expect(await sar("delete", "secrets", "b")?["allowed"] == false)
        #expect(await sar("create", "leases", "a")?["allowed"] == false, "edit does not grant leases")
        let ssar = await h.call("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                                ["apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                                 "spec": ["resourceAttributes": ["group": "apps", "resource": "deployments", "verb": "create", "namespace": "a"]]],
                                headers: Self.sa)
        #expect(ssar.body["status"]?["allowed"] == true)
    }

    @Test("TokenRequest mints a token that authenticates as the ServiceAccount and dies with it")
    func tokenRequest() async {
        let h = Harness()
        await tenantSetup(h)
        let r = await h.call("POST", "/api/v1/namespaces/a/serviceaccounts/tenant/token",
                             ["apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": ["expirationSeconds": 3600]])
        #expect(r.status == 201)
        let token = r.body["status"]?["token"]?.stringValue ?? ""
        #expect(token.split(separator: ".").count == 3, "JWT-shaped")
        #expect(await h.call("GET", "/api/v1/namespaces/a/configmaps", token: token).status == 200)
        #expect(await h.call("GET", "/api/v1/namespaces/b/configmaps", token: token).status == 403)
        _ = await h.call("DELETE", "/api/v1/namespaces/a/serviceaccounts/tenant")
        #expect(await h.call("GET", "/api/v1/namespaces/a/configmaps", token: token).status == 401)
    }

    @Test("default ClusterRoles exist and can be read with kubectl-like requests")
    func defaultRoles() async {
        let h = Harness()
        let roles = await h.call("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles")
        let names = Set(roles.body["items"]?.arrayValue?.compactMap { $0["metadata"]?["name"]?.stringValue } ?? [])
        #expect(names.isSuperset(of: ["cluster-admin", "admin", "edit", "view"]))
    }
}
