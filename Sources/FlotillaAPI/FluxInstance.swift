import KubeModel

/// A FluxInstance (`flotilla.dev/v1alpha1`): one git repository synchronised into the cluster by
/// its own isolated reconciler, as one Flux v1 daemon did.
public struct FluxInstance: KubeObject {
    public static let resourceType = ResourceType(group: Flotilla.group, version: Flotilla.version, resource: "fluxinstances",
                                                  kind: "FluxInstance", namespaced: true)
    public var apiVersion = Flotilla.apiVersion
    public var kind = "FluxInstance"
    public var metadata: ObjectMeta
    public var spec: FluxInstanceSpec
    public var status: FluxInstanceStatus?

    public init(metadata: ObjectMeta, spec: FluxInstanceSpec) {
        self.metadata = metadata
        self.spec = spec
    }
}

public struct FluxInstanceSpec: Codable, Sendable, Hashable {
    public var git: GitSpec
    public var sync: SyncSpec?
    /// The identity every read and write of this instance's manifests is made as.
    public var serviceAccountName: String?
    /// Empty: the instance's own namespace only; `["*"]`: all namespaces.
    public var allowedNamespaces: [String]?
    public var defaultNamespace: String?
    public var clusterScoped: Bool?
    public var manifestGeneration: Bool?
    public var suspend: Bool?
    /// Registry scanning settings (image automation).
    public var registry: RegistrySpec?
    /// Image automation settings.
    public var automation: AutomationSpec?

    public init(git: GitSpec) { self.git = git }
}

public struct SecretReference: Codable, Sendable, Hashable {
    public var name: String
    public init(name: String) { self.name = name }
}

public struct GitSpec: Codable, Sendable, Hashable {
    public var url: String
    public var branch: String?
    public var paths: [String]?
    public var readonly: Bool?
    public var pollInterval: String?
    public var timeout: String?
    public var secretRef: SecretReference?
    public var syncTag: String?
    public var label: String?
    public var user: String?
    public var email: String?
    public var setAuthor: Bool?
    public var ciSkip: Bool?
    public var ciSkipMessage: String?

    public init(url: String) { self.url = url }
}

/// Registry scanning, as Flux v1's `--registry-*` flags.
public struct RegistrySpec: Codable, Sendable, Hashable {
    public var disableScanning: Bool?
    public var includeImages: [String]?
    public var excludeImages: [String]?
    public var rps: Double?
    public var burst: Int?
    public var pollInterval: String?
    public var dockerConfigSecretRef: SecretReference?
    public var insecureHosts: [String]?
    public init() {}
}

public struct AutomationSpec: Codable, Sendable, Hashable {
    public var interval: String?
    public init() {}
}

/// What one automated container runs and may run.
public struct WorkloadImageStatus: Codable, Sendable, Hashable {
    public var workload: String
    public var container: String
    public var current: String?
    public var latest: String?
    public var error: String?
    public init(workload: String, container: String, current: String? = nil, latest: String? = nil, error: String? = nil) {
        (self.workload, self.container, self.current, self.latest, self.error) = (workload, container, current, latest, error)
    }
}

public struct ImagesStatus: Codable, Sendable, Hashable {
    public var lastScanTime: String?
    /// Image repositories scanned in the last run.
    public var scanned: Int?
    /// The last commit automation pushed (or, read-only, nil).
    public var lastCommit: String?
    public var error: String?
    /// Automated containers (at most 100).
    public var workloads: [WorkloadImageStatus]?
    public init() {}
}

public struct GarbageCollectionSpec: Codable, Sendable, Hashable {
    public var enabled: Bool?
    public var dryRun: Bool?
    public var maxDeletePercent: Int?
}

public struct SyncSpec: Codable, Sendable, Hashable {
    public enum DeletionPolicy: String, Codable, Sendable { case orphan = "Orphan", delete = "Delete" }
    public var interval: String?
    public var timeout: String?
    public var garbageCollection: GarbageCollectionSpec?
    public var deletionPolicy: DeletionPolicy?
}

public struct SyncCounts: Codable, Sendable, Hashable {
    public var applied: Int?
    public var unchanged: Int?
    public var pruned: Int?
    public var failed: Int?

    public init(applied: Int? = nil, unchanged: Int? = nil, pruned: Int? = nil, failed: Int? = nil) {
        self.applied = applied
        self.unchanged = unchanged
        self.pruned = pruned
        self.failed = failed
    }
}

public struct InstanceIdentity: Codable, Sendable, Hashable {
    public var publicKey: String?
    public var gitHost: String?

    public init(publicKey: String? = nil, gitHost: String? = nil) {
        self.publicKey = publicKey
        self.gitHost = gitHost
    }
}

public struct FluxInstanceStatus: Codable, Sendable, Hashable {
    public var observedGeneration: Int64?
    public var conditions: [Condition]?
    public var headRevision: String?
    public var lastAppliedRevision: String?
    /// The first 7 characters of `lastAppliedRevision` (the REVISION column).
    public var shortRevision: String?
    public var lastSyncTime: String?
    public var behind: Int?
    public var counts: SyncCounts?
    public var lastError: String?
    public var identity: InstanceIdentity?
    public var pendingDeletions: [String]?
    public var images: ImagesStatus?

    public init() {}
}
