import KubeModel

/// What a request asks to do, in RBAC terms.
struct Attributes: Sendable {
    var user: UserInfo
    var verb: String
    var group: String = ""
    var resource: String = ""
    var subresource: String = ""
    var namespace: String = ""
    var name: String = ""
    var isResourceRequest = true
    var path: String = ""

    var resourceWithSub: String { subresource.isEmpty ? resource : "\(resource)/\(subresource)" }

    /// The 403 message kube-apiserver gives when RBAC denies these attributes.
    var forbiddenMessage: String {
        guard isResourceRequest else { return "User \"\(user.name)\" cannot \(verb) path \"\(path)\"" }
        let scope = namespace.isEmpty ? "at the cluster scope" : "in the namespace \"\(namespace)\""
        return "User \"\(user.name)\" cannot \(verb) resource \"\(resourceWithSub)\" in API group \"\(group)\" \(scope)"
    }
}

/// Evaluates RBAC over the Roles, ClusterRoles and bindings in the store, like kube-apiserver's
/// RBAC authorizer (plus the `system:masters` privileged group).
struct RBACAuthorizer {
    let state: State

    struct Decision {
        var allowed: Bool
        var reason: String
    }

    func authorize(_ a: Attributes) -> Decision {
        if a.user.groups.contains("system:masters") { return Decision(allowed: true, reason: "") }
        for binding in state.list("clusterrolebindings.rbac.authorization.k8s.io", namespace: nil) {
            guard let subject = matchingSubject(binding, a.user) else { continue }
            guard let rules = rules(forRoleRef: binding["roleRef"], namespace: nil) else { continue }
            if rules.contains(where: { ruleAllows($0, a) }) {
                return Decision(allowed: true, reason: "RBAC: allowed by ClusterRoleBinding \"\(ObjectMeta.name(binding))\" of \(roleRefText(binding)) to \(subject)")
            }
        }
        if !a.namespace.isEmpty {
            for binding in state.list("rolebindings.rbac.authorization.k8s.io", namespace: a.namespace) {
                guard let subject = matchingSubject(binding, a.user) else { continue }
                guard let rules = rules(forRoleRef: binding["roleRef"], namespace: a.namespace) else { continue }
                if rules.contains(where: { ruleAllows($0, a) }) {
                    return Decision(allowed: true, reason: "RBAC: allowed by RoleBinding \"\(ObjectMeta.name(binding))/\(a.namespace)\" of \(roleRefText(binding)) to \(subject)")
                }
            }
        }
        return Decision(allowed: false, reason: "")
    }

    func roleRefText(_ binding: JSONValue) -> String {
        "\(binding["roleRef"]?["kind"]?.stringValue ?? "") \"\(binding["roleRef"]?["name"]?.stringValue ?? "")\""
    }

    /// The subject of a binding that names this user, rendered as in RBAC reasons.
    func matchingSubject(_ binding: JSONValue, _ user: UserInfo) -> String? {
        for s in binding["subjects"]?.arrayValue ?? [] {
            let kind = s["kind"]?.stringValue ?? ""
            let name = s["name"]?.stringValue ?? ""
            switch kind {
            case "User" where name == user.name: return "User \"\(name)\""
            case "Group" where user.groups.contains(name): return "Group \"\(name)\""
            case "ServiceAccount":
                let ns = s["namespace"]?.stringValue ?? ObjectMeta.namespace(binding)
                if user.name == "system:serviceaccount:\(ns):\(name)" { return "ServiceAccount \"\(name)/\(ns)\"" }
            default: continue
            }
        }
        return nil
    }

    func rules(forRoleRef ref: JSONValue?, namespace: String?) -> [JSONValue]? {
        guard let kind = ref?["kind"]?.stringValue, let name = ref?["name"]?.stringValue else { return nil }
        let role: JSONValue?
        if kind == "ClusterRole" {
            role = state.get("clusterroles.rbac.authorization.k8s.io", namespace: "", name: name)
        } else if kind == "Role", let namespace {
            role = state.get("roles.rbac.authorization.k8s.io", namespace: namespace, name: name)
        } else {
            role = nil
        }
        return role?["rules"]?.arrayValue
    }

    func ruleAllows(_ rule: JSONValue, _ a: Attributes) -> Bool {
        let verbs = rule["verbs"]?.arrayValue?.compactMap(\.stringValue) ?? []
        guard verbs.contains("*") || verbs.contains(a.verb) else { return false }
        if !a.isResourceRequest {
            let urls = rule["nonResourceURLs"]?.arrayValue?.compactMap(\.stringValue) ?? []
            return urls.contains { u in
                u == "*" || u == a.path || (u.hasSuffix("*") && a.path.hasPrefix(String(u.dropLast())))
            }
        }
        let groups = rule["apiGroups"]?.arrayValue?.compactMap(\.stringValue) ?? []
        guard groups.contains("*") || groups.contains(a.group) else { return false }
        let resources = rule["resources"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let combined = a.resourceWithSub
        let resourceOK = resources.contains { r in
            if r == "*" || r == combined { return true }
            if r.hasPrefix("*/"), !a.subresource.isEmpty, r.dropFirst(2) == a.subresource { return true }
            return false
        }
        guard resourceOK else { return false }
        let names = rule["resourceNames"]?.arrayValue?.compactMap(\.stringValue) ?? []
        if names.isEmpty { return true }
        return !a.name.isEmpty && names.contains(a.name)
    }

    /// Every rule that applies to a user in a namespace (SelfSubjectRulesReview).
    func rulesFor(user: UserInfo, namespace: String) -> [JSONValue] {
        var out: [JSONValue] = []
        for binding in state.list("clusterrolebindings.rbac.authorization.k8s.io", namespace: nil) where matchingSubject(binding, user) != nil {
            out += rules(forRoleRef: binding["roleRef"], namespace: nil) ?? []
        }
        for binding in state.list("rolebindings.rbac.authorization.k8s.io", namespace: namespace) where matchingSubject(binding, user) != nil {
            out += rules(forRoleRef: binding["roleRef"], namespace: namespace) ?? []
        }
        return out
    }
}
