import KubeModel

/// A served resource: one entry of a discovery document, plus what the emulator needs to store it.
struct ResourceInfo: Sendable {
    var group: String
    var version: String
    /// Plural resource name, e.g. `deployments`.
    var name: String
    var kind: String
    var namespaced: Bool
    var singularName: String
    var shortNames: [String]
    var verbs: [String]
    var categories: [String]
    /// Subresource name → the discovery entry for it (`status`, `scale`, `token`, `exec`, ...).
    var subresources: [String: JSONValue] = [:]
    /// The discovery entry as served (for built-ins, exactly as recorded from a real server).
    var discovery: JSONValue
    /// Set for custom resources.
    var crd: CRDVersionInfo? = nil

    var groupVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    /// `deployments.apps`: the resource's own name (field selectors, defaults, printer columns).
    var resourceKey: String { group.isEmpty ? name : "\(name).\(group)" }
    /// Where its objects are kept: `events.k8s.io` Events are core Events, as in kube-apiserver.
    var storageKey: String { group == "events.k8s.io" && name == "events" ? "events" : resourceKey }
    var listKind: String { crd?.listKind ?? kind + "List" }
    var hasStatusSubresource: Bool { subresources["status"] != nil }
    /// `configmaps` or `gadgets.example.com`: how Forbidden messages name a resource.
    var qualifiedName: String { group.isEmpty ? name : "\(name).\(group)" }
    /// `ConfigMap` or `Deployment.apps`: how Invalid messages name a kind.
    var qualifiedKind: String { group.isEmpty ? kind : "\(kind).\(group)" }

    /// Kinds whose `metadata.generation` tracks spec changes.
    var tracksGeneration: Bool {
        if crd != nil { return true }
        return Self.generationKinds.contains(storageKey)
    }

    static let generationKinds: Set<String> = [
        "deployments.apps", "statefulsets.apps", "daemonsets.apps", "replicasets.apps", "jobs.batch", "cronjobs.batch",
        "horizontalpodautoscalers.autoscaling", "ingresses.networking.k8s.io", "networkpolicies.networking.k8s.io",
        "poddisruptionbudgets.policy", "customresourcedefinitions.apiextensions.k8s.io", "replicationcontrollers",
    ]
}

/// What a CRD version contributes to its served resource.
struct CRDVersionInfo: Sendable {
    var crdName: String
    var listKind: String
    var schema: JSONValue?
    var printerColumns: [JSONValue]
    var scale: JSONValue?
    var storageVersion: String
    var preserveUnknownFieldsAtRoot: Bool
}
