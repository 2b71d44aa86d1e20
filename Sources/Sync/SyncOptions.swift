import Crypto
import FlotillaAPI
import KubeModel
import Foundation

/// The FluxInstance a sync works for.
public struct InstanceRef: Hashable, Sendable, CustomStringConvertible {
    public var namespace: String
    public var name: String
    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }
    public var description: String { "\(namespace)/\(name)" }

    /// The value of `flotilla.dev/instance` on this instance's objects: `namespace.name` when that
    /// is a valid label value, else a stable hash of it.
    public var labelValue: String {
        let plain = "\(namespace).\(name)"
        if plain.utf8.count <= 63 { return plain }
        return "h" + SHA256.hash(data: Array(plain.utf8)).prefix(20).hexString
    }
}

/// Garbage collection (off by default, as in Flux v1) and its blast-radius guard.
public struct GarbageCollectionOptions: Sendable, Equatable {
    public var enabled = false
    /// Report what would be deleted; delete nothing.
    public var dryRun = false
    /// Hold the deletions when more than this share of the inventory would go.
    public var maxDeletePercent = 50
    /// Hold deletions when the rendered set is empty or too much would go (switch off to release).
    public var guardEnabled = true
    /// Deletions held for this revision are released (the approval annotation's value).
    public var approvedRevision: String?

    public init(enabled: Bool = false, dryRun: Bool = false, maxDeletePercent: Int = 50) {
        self.enabled = enabled
        self.dryRun = dryRun
        self.maxDeletePercent = maxDeletePercent
    }
}

/// How one instance syncs.
public struct SyncOptions: Sendable {
    public var instance: InstanceRef
    /// Flux v1's sync set name (see `GCMark.setName`).
    public var setName: String
    public var fieldManager = Flotilla.syncFieldManager
    /// Given to namespaced objects that have no namespace.
    public var defaultNamespace: String
    /// Namespaces objects may be in; `["*"]` allows all.
    public var allowedNamespaces: [String]
    /// May the instance apply cluster-scoped kinds (other than its allowed Namespaces)?
    public var clusterScoped = false
    public var garbageCollection = GarbageCollectionOptions()
    /// Applies in flight at once within one kind rank.
    public var applyConcurrency = 4
    /// How long to wait for applied CRDs to become Established.
    public var crdEstablishTimeout: Duration = .seconds(30)
    /// Objects declared by other instances of this process (contested ones are not applied).
    public var claims: ClaimRegistry?
    /// Before applying a new revision, ask the API server (SelfSubjectAccessReview, as the
    /// client's identity) whether every object may be written; refuse the revision otherwise.
    public var preflightAccessCheck = false
    /// What a resync does with objects that differ from git (`spec.sync.driftCorrection`).
    public var driftCorrection = DriftCorrection.revert

    public init(instance: InstanceRef, setName: String, defaultNamespace: String? = nil, allowedNamespaces: [String]? = nil) {
        self.instance = instance
        self.setName = setName
        self.defaultNamespace = defaultNamespace ?? instance.namespace
        self.allowedNamespaces = allowedNamespaces ?? [instance.namespace]
    }

    public var allowsAllNamespaces: Bool { allowedNamespaces.contains("*") }

    public func allows(namespace: String) -> Bool { allowsAllNamespaces || allowedNamespaces.contains(namespace) }
}
