/// A resource type: group, version, plural resource name, kind and scope.
public struct ResourceType: Sendable, Hashable, CustomStringConvertible {
    public var group: String
    public var version: String
    public var resource: String
    public var kind: String
    public var namespaced: Bool

    public init(group: String, version: String, resource: String, kind: String, namespaced: Bool) {
        self.group = group
        self.version = version
        self.resource = resource
        self.kind = kind
        self.namespaced = namespaced
    }

    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    public var description: String { group.isEmpty ? "\(resource).\(version)" : "\(resource).\(version).\(group)" }

    /// The REST path of a collection (`name == nil`) or an object, optionally a subresource.
    public func path(namespace: String?, name: String? = nil, subresource: String? = nil) -> String {
        var p = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        if namespaced, let namespace, !namespace.isEmpty { p += "/namespaces/\(namespace)" }
        p += "/\(resource)"
        if let name { p += "/\(name)" }
        if let subresource { p += "/\(subresource)" }
        return p
    }

    public static let namespaces = ResourceType(group: "", version: "v1", resource: "namespaces", kind: "Namespace", namespaced: false)
    public static let configMaps = ResourceType(group: "", version: "v1", resource: "configmaps", kind: "ConfigMap", namespaced: true)
    public static let secrets = ResourceType(group: "", version: "v1", resource: "secrets", kind: "Secret", namespaced: true)
    public static let serviceAccounts = ResourceType(group: "", version: "v1", resource: "serviceaccounts", kind: "ServiceAccount", namespaced: true)
    public static let events = ResourceType(group: "", version: "v1", resource: "events", kind: "Event", namespaced: true)
    public static let pods = ResourceType(group: "", version: "v1", resource: "pods", kind: "Pod", namespaced: true)
    public static let services = ResourceType(group: "", version: "v1", resource: "services", kind: "Service", namespaced: true)
    public static let deployments = ResourceType(group: "apps", version: "v1", resource: "deployments", kind: "Deployment", namespaced: true)
    public static let leases = ResourceType(group: "coordination.k8s.io", version: "v1", resource: "leases", kind: "Lease", namespaced: true)
    public static let roles = ResourceType(group: "rbac.authorization.k8s.io", version: "v1", resource: "roles", kind: "Role", namespaced: true)
    public static let roleBindings = ResourceType(group: "rbac.authorization.k8s.io", version: "v1", resource: "rolebindings", kind: "RoleBinding", namespaced: true)
    public static let clusterRoleBindings = ResourceType(group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterrolebindings",
                                                         kind: "ClusterRoleBinding", namespaced: false)
    public static let subjectAccessReviews = ResourceType(group: "authorization.k8s.io", version: "v1", resource: "subjectaccessreviews", kind: "SubjectAccessReview", namespaced: false)
    public static let selfSubjectAccessReviews = ResourceType(group: "authorization.k8s.io", version: "v1", resource: "selfsubjectaccessreviews", kind: "SelfSubjectAccessReview", namespaced: false)
    public static let customResourceDefinitions = ResourceType(group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions",
                                                               kind: "CustomResourceDefinition", namespaced: false)
}
