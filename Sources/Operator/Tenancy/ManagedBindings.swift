import FlotillaAPI
import KubeClient
import KubeModel
import Sync

/// The bindings the operator makes for one instance's managed ServiceAccount, wherever they are:
/// RoleBindings and a ClusterRoleBinding to `edit`, named `flotilla-<namespace>-<name>` and
/// labelled with the instance.
struct ManagedBindings {
    let client: KubeClient
    let ref: InstanceRef
    /// The managed ServiceAccount they bind (`InstanceSettings.managedServiceAccountName`).
    var account: String = ""

    var name: String { "flotilla-\(ref.namespace)-\(ref.name)" }

    /// Binds the account to `edit` in `namespace`, or cluster-wide when nil.
    func bind(namespace: String?) async throws {
        let labels: JSONValue = [.init(stringLiteral: Flotilla.instanceLabel): .string(ref.labelValue)]
        var metadata: JSONValue = ["name": .string(name), "labels": labels]
        if let namespace { metadata["namespace"] = .string(namespace) }
        let binding: JSONValue = ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": namespace == nil ? "ClusterRoleBinding" : "RoleBinding",
                                  "metadata": metadata,
                                  "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"],
                                  "subjects": [["kind": "ServiceAccount", "name": .string(account), "namespace": .string(ref.namespace)]]]
        _ = try await client.apply(binding, as: namespace == nil ? .clusterRoleBindings : .roleBindings, fieldManager: Flotilla.syncFieldManager, force: true)
    }

    /// Removes the binding in `namespace`, or the cluster-wide one when nil (gone already is fine).
    func unbind(namespace: String?) async throws {
        try await client.deleteIfPresent(namespace == nil ? .clusterRoleBindings : .roleBindings, name: name, namespace: namespace)
    }

    /// Lists them by the instance's label across namespaces; where the operator may not list
    /// cluster-wide (a namespace-restricted install), looks for them in `hint` (the namespaces
    /// the spec names, where earlier versions bound) and the instance's namespace.
    func find(hint: [String]) async throws -> (namespaces: Set<String>, clusterWide: Bool) {
        var namespaces = Set<String>()
        do {
            let list = try await client.list(.roleBindings, labelSelector: "\(Flotilla.instanceLabel)=\(ref.labelValue)")
            for item in list.items where item["metadata"]?["name"]?.stringValue == name {
                if let namespace = item["metadata"]?["namespace"]?.stringValue { namespaces.insert(namespace) }
            }
        } catch {
            guard error.isForbidden else { throw error }
            for namespace in Set(hint.filter { $0 != "*" }).union([ref.namespace]) {
                do {
                    _ = try await client.get(.roleBindings, name: name, namespace: namespace)
                    namespaces.insert(namespace)
                } catch {
                    guard error.isNotFound || error.isForbidden else { throw error }
                }
            }
        }
        var clusterWide = false
        do {
            _ = try await client.get(.clusterRoleBindings, name: name)
            clusterWide = true
        } catch {
            guard error.isNotFound || error.isForbidden else { throw error }
        }
        return (namespaces, clusterWide)
    }

    /// Removes every one of them (the instance is deleted).
    func removeAll(hint: [String]) async throws {
        let found = try await find(hint: hint)
        for namespace in found.namespaces.sorted() { try await unbind(namespace: namespace) }
        if found.clusterWide { try await unbind(namespace: nil) }
    }
}
