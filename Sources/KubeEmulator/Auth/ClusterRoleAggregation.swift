import KubeModel

/// The ClusterRole aggregation controller: a ClusterRole with an `aggregationRule` gets the union
/// of the rules of every ClusterRole its selectors match (sorted by name), kept up to date when
/// those roles change. This is how `admin` ⊇ `edit` ⊇ `view` and how CRD authors extend them.
extension KubeAPIServer {
    static let aggregationManager = "clusterrole-aggregation-controller"
    static let clusterRolesKey = "clusterroles.rbac.authorization.k8s.io"

    func aggregateClusterRoles(_ s: inout State) {
        guard let r = s.catalog.resource(group: "rbac.authorization.k8s.io", version: "v1", name: "clusterroles") else { return }
        // Aggregated roles can feed each other (view → edit → admin): iterate to a fixed point.
        for _ in 0..<8 {
            var changed = false
            let roles = s.list(Self.clusterRolesKey, namespace: nil)
            for role in roles {
                guard let selectors = role["aggregationRule"]?["clusterRoleSelectors"]?.arrayValue else { continue }
                let parsed: [LabelSelector] = selectors.compactMap { LabelSelector(json: $0) }
                var rules: [JSONValue] = []
                for other in roles where ObjectMeta.name(other) != ObjectMeta.name(role) {
                    let labels = ObjectMeta.labels(other)
                    guard parsed.contains(where: { $0.matches(labels) }) else { continue }
                    for rule in other["rules"]?.arrayValue ?? [] where !rules.contains(rule) { rules.append(rule) }
                }
                guard role["rules"] != .array(rules) else { continue }
                var proposed = role
                proposed["rules"] = .array(rules)
                if (try? updateObject(&s, resource: r, live: role, proposed: proposed, manager: Self.aggregationManager, subresource: "", dryRun: false)) != nil {
                    changed = true
                }
            }
            if !changed { return }
        }
    }
}
