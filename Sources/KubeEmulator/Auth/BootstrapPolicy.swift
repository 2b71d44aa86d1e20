import KubeModel

/// The default ClusterRoles and ClusterRoleBindings a new cluster has (kube-apiserver's bootstrap
/// policy), limited to the roles users bind to and the ones every identity relies on.
enum BootstrapPolicy {
    static func rule(_ groups: [String], _ resources: [String], _ verbs: [String]) -> JSONValue {
        ["apiGroups": .array(groups.map { .string($0) }), "resources": .array(resources.map { .string($0) }),
         "verbs": .array(verbs.map { .string($0) })]
    }

    static func nonResource(_ urls: [String], _ verbs: [String]) -> JSONValue {
        ["nonResourceURLs": .array(urls.map { .string($0) }), "verbs": .array(verbs.map { .string($0) })]
    }

    static let read = ["get", "list", "watch"]
    static let write = ["create", "delete", "deletecollection", "patch", "update"]

    static let viewRules: [JSONValue] = [
        rule([""], ["configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods", "replicationcontrollers",
                    "replicationcontrollers/scale", "serviceaccounts", "services", "services/status"], read),
        rule([""], ["bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status", "replicationcontrollers/status",
                    "resourcequotas", "resourcequotas/status"], read),
        rule([""], ["namespaces"], read),
        rule(["discovery.k8s.io"], ["endpointslices"], read),
        rule(["apps"], ["controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status",
                        "replicasets", "replicasets/scale", "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status"], read),
        rule(["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"], read),
        rule(["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], read),
        rule(["extensions"], ["daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status", "ingresses",
                              "ingresses/status", "networkpolicies", "replicasets", "replicasets/scale", "replicasets/status",
                              "replicationcontrollers/scale"], read),
        rule(["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"], read),
        rule(["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"], read),
    ]

    /// What `edit` adds to `view`.
    static let editOnlyRules: [JSONValue] = [
        rule([""], ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"], read),
        rule([""], ["serviceaccounts"], ["impersonate"]),
        rule([""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"], write),
        rule([""], ["pods/eviction"], ["create"]),
        rule([""], ["configmaps", "events", "persistentvolumeclaims", "replicationcontrollers", "replicationcontrollers/scale", "secrets",
                    "serviceaccounts", "services", "services/proxy"], write),
        rule([""], ["serviceaccounts/token"], ["create"]),
        rule(["apps"], ["daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets", "replicasets/scale",
                        "statefulsets", "statefulsets/scale"], write),
        rule(["autoscaling"], ["horizontalpodautoscalers"], write),
        rule(["batch"], ["cronjobs", "jobs"], write),
        rule(["extensions"], ["daemonsets", "deployments", "deployments/rollback", "deployments/scale", "ingresses", "networkpolicies",
                              "replicasets", "replicasets/scale", "replicationcontrollers/scale"], write),
        rule(["policy"], ["poddisruptionbudgets"], write),
        rule(["networking.k8s.io"], ["ingresses", "networkpolicies"], write),
    ]

    /// What `admin` adds to `edit`.
    static let adminOnlyRules: [JSONValue] = [
        rule(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
        rule(["rbac.authorization.k8s.io"], ["rolebindings", "roles"], ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]),
    ]

    static func clusterRole(_ name: String, _ rules: [JSONValue], labels extra: [String] = [], aggregateFrom: String? = nil) -> JSONValue {
        var labels: JSONValue = ["kubernetes.io/bootstrapping": "rbac-defaults"]
        for l in extra { labels["rbac.authorization.k8s.io/\(l)"] = "true" }
        var role: JSONValue = ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                               "metadata": ["name": .string(name), "labels": labels,
                                            "annotations": ["rbac.authorization.kubernetes.io/autoupdate": "true"]],
                               "rules": .array(rules)]
        if let aggregateFrom {
            role["aggregationRule"] = ["clusterRoleSelectors": [["matchLabels": [.init(stringLiteral: "rbac.authorization.k8s.io/\(aggregateFrom)"): "true"]]]]
            role["rules"] = .array([])
        }
        return role
    }

    static func clusterRoleBinding(_ name: String, role: String, groups: [String]) -> JSONValue {
        ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": ["name": .string(name), "labels": ["kubernetes.io/bootstrapping": "rbac-defaults"],
                      "annotations": ["rbac.authorization.kubernetes.io/autoupdate": "true"]],
         "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": .string(role)],
         "subjects": .array(groups.map { ["apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": .string($0)] })]
    }

    static var clusterRoles: [JSONValue] {
        [
            clusterRole("cluster-admin", [rule(["*"], ["*"], ["*"]), nonResource(["*"], ["*"])]),
            clusterRole("admin", [], aggregateFrom: "aggregate-to-admin"),
            clusterRole("edit", [], labels: ["aggregate-to-admin"], aggregateFrom: "aggregate-to-edit"),
            clusterRole("view", [], labels: ["aggregate-to-edit"], aggregateFrom: "aggregate-to-view"),
            clusterRole("system:aggregate-to-admin", adminOnlyRules, labels: ["aggregate-to-admin"]),
            clusterRole("system:aggregate-to-edit", editOnlyRules, labels: ["aggregate-to-edit"]),
            clusterRole("system:aggregate-to-view", viewRules, labels: ["aggregate-to-view"]),
            clusterRole("system:basic-user", [rule(["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], ["create"]),
                                              rule(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"])]),
            clusterRole("system:discovery", [nonResource(["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*",
                                                           "/readyz", "/version", "/version/"], ["get"])]),
            clusterRole("system:public-info-viewer", [nonResource(["/healthz", "/livez", "/readyz", "/version", "/version/"], ["get"])]),
            clusterRole("system:service-account-issuer-discovery", [nonResource(["/.well-known/openid-configuration", "/openid/v1/jwks"], ["get"])]),
        ]
    }

    static var clusterRoleBindings: [JSONValue] {
        [
            clusterRoleBinding("cluster-admin", role: "cluster-admin", groups: ["system:masters"]),
            clusterRoleBinding("system:basic-user", role: "system:basic-user", groups: ["system:authenticated"]),
            clusterRoleBinding("system:discovery", role: "system:discovery", groups: ["system:authenticated"]),
            clusterRoleBinding("system:public-info-viewer", role: "system:public-info-viewer", groups: ["system:authenticated", "system:unauthenticated"]),
            clusterRoleBinding("system:service-account-issuer-discovery", role: "system:service-account-issuer-discovery", groups: ["system:serviceaccounts"]),
        ]
    }
}
