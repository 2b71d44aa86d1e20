import Crypto
import Foundation
import KubeModel

/// An object's identity in a sync: group, kind, namespace (nil for cluster-scoped) and name.
/// `description` is Flux v1's resource id, `namespace:kind/name` with the kind in lower case and
/// `<cluster>` for cluster-scoped objects; it is what users see and what the GC mark hashes.
public struct ResourceID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let group: String
    public let kind: String
    public let namespace: String?
    public let name: String
    /// Worked out once: a sync looks each id up in several tables (plans, verified objects, the
    /// inventory), and hashing four strings each time cost more than the rest of the lookup.
    private let hashCode: Int

    public init(group: String, kind: String, namespace: String?, name: String) {
        self.group = group
        self.kind = kind
        self.namespace = namespace
        self.name = name
        var hasher = Hasher()
        hasher.combine(group)
        hasher.combine(kind)
        hasher.combine(namespace)
        hasher.combine(name)
        hashCode = hasher.finalize()
    }

    public static func == (a: ResourceID, b: ResourceID) -> Bool {
        a.hashCode == b.hashCode && a.name == b.name && a.kind == b.kind && a.namespace == b.namespace && a.group == b.group
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(hashCode) }

    public init(apiVersion: String, kind: String, namespace: String?, name: String) {
        let group = apiVersion.contains("/") ? String(apiVersion.split(separator: "/")[0]) : ""
        self.init(group: group, kind: kind, namespace: namespace, name: name)
    }

    public var description: String { "\(namespace ?? "<cluster>"):\(kind.lowercased())/\(name)" }

    public static func < (a: ResourceID, b: ResourceID) -> Bool { a.description < b.description }
}

/// Flux v1's garbage-collection marks, so objects synced by Flux v1 and by Flotilla look alike:
/// the sync set name is `base64url(sha256(url ‖ branch ‖ paths…))` and an object's mark is
/// `"sha256." + base64url(sha256(setName ‖ resourceID))`.
public enum GCMark {
    public static func setName(url: String, branch: String, paths: [String]) -> String {
        var hash = SHA256()
        hash.update(data: Array(url.utf8))
        hash.update(data: Array(branch.utf8))
        for p in paths { hash.update(data: Array(p.utf8)) }
        return hash.finalize().base64URLString
    }

    public static func mark(setName: String, id: ResourceID) -> String {
        "sha256." + SHA256.hash(data: Array((setName + id.description).utf8)).base64URLString
    }
}

/// The rank of a kind in the apply order (lower first); deletes run in reverse. The order Flux v1
/// and kubectl use: what others depend on goes first.
public enum KindOrder {
    static let ranks: [String: Int] = {
        let order = ["Namespace", "ResourceQuota", "LimitRange", "PodSecurityPolicy", "PodDisruptionBudget", "ServiceAccount",
                     "Secret", "ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition",
                     "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service", "DaemonSet", "Pod",
                     "ReplicationController", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job",
                     "CronJob", "Ingress", "APIService"]
        return Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
    }()

    /// Kinds not in the list (custom resources among them) come last.
    public static func rank(_ kind: String) -> Int { ranks[kind] ?? ranks.count }
}
