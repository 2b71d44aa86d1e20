import FlotillaAPI
import KubeClient
import KubeModel
import Sync

/// The bindings the operator made for one instance's managed ServiceAccount, wherever they are:
/// RoleBindings and a ClusterRoleBinding named `flotilla-<namespace>-<name>`, labelled with the
/// instance.
struct ManagedBindings {
    let client: KubeClient
    let ref: InstanceRef

    static func name(_ ref: InstanceRef) -> String { "flotilla-\(ref.namespace)-\(ref.name)" }

    /// Lists them by the instance's label across namespaces; where the operator may not list
    /// cluster-wide (a namespace-restricted install), looks for them in `hint` (the namespaces
    /// the spec names, where earlier versions bound) and the instance's namespace.
    func find(hint: [String]) async throws -> (namespaces: Set<String>, clusterWide: Bool) {
        let name = Self.name(ref)
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
            _ = try await client.get(Self.clusterRoleBindings, name: name)
            clusterWide = true
        } catch {
            guard error.isNotFound || error.isForbidden else { throw error }
        }
        return (namespaces, clusterWide)
    }

    /// Removes every one of them (the instance is deleted).
    func removeAll(hint: [String]) async throws {
        let found = try await find(hint: hint)
        let name = Self.name(ref)
        for namespace in found.namespaces.sorted() { try await Self.deleteIfPresent(client, .roleBindings, name: name, namespace: namespace) }
        if found.clusterWide { try await Self.deleteIfPresent(client, Self.clusterRoleBindings, name: name, namespace: nil) }
    }

    static func deleteIfPresent(_ client: KubeClient, _ type: ResourceType, name: String, namespace: String?) async throws {
        do {
            try await client.delete(type, name: name, namespace: namespace)
        } catch {
            if !error.isNotFound { throw error }
        }
    }

    static let clusterRoleBindings = ResourceType(group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterrolebindings",
                                                  kind: "ClusterRoleBinding", namespaced: false)
}
