/// Load-bearing identifiers: the API group, finalizer, annotations, labels and field managers.
/// Changing one is a breaking change for clusters already running Flotilla.
public enum Flotilla {
    public static let group = "flotilla.dev"
    public static let version = "v1alpha1"
    public static let apiVersion = "\(group)/\(version)"

    /// Holds a FluxInstance until its deletion policy has been carried out.
    public static let finalizer = "flotilla.dev/finalizer"
    /// Setting it (to any new value, e.g. a timestamp) asks for an immediate sync.
    public static let reconcileRequestedAt = "flotilla.dev/reconcile-requested-at"
    /// Prefix of the request annotations of the fluxctl-like verbs: `requests.flotilla.dev/<id>`,
    /// whose value is an `InstanceRequest` as JSON. Ids sort in the order they were made.
    public static let requestAnnotationPrefix = "requests.flotilla.dev/"
    /// The field manager of applied manifests.
    public static let syncFieldManager = "flotilla"
    /// The field manager of FluxInstance status writes.
    public static let statusFieldManager = "flotilla-status"
    /// Label on every object an instance applies: `<namespace>.<name>` of the FluxInstance (or a
    /// hash of it when that is not a valid label value). The instance's cache watches only these.
    public static let instanceLabel = "flotilla.dev/instance"
    /// Set to a revision (full or at least 7 characters) to release deletions the blast-radius
    /// guard holds for that revision.
    public static let approvePruneAnnotation = "flotilla.dev/approve-prune"
    /// Prefix of the ConfigMap (in the instance's namespace) holding an instance's inventory.
    public static let inventoryPrefix = "flotilla-inventory-"
    /// On a Namespace, written by whoever administers it: the namespaces (comma-separated, or `*`)
    /// whose instances may sync into it with the identity the operator manages.
    public static let allowInstancesFromAnnotation = "flotilla.dev/allow-instances-from"
    /// On an object (in git or in the cluster): `disabled` reports the object's drift and never
    /// corrects it, whatever `spec.sync.driftCorrection` says.
    public static let driftCorrectionAnnotation = "flotilla.dev/drift-correction"
}

/// Reasons of the `Healthy` condition (and of the health Events).
public enum HealthReason {
    /// Every applied object is current (rolled out, complete, bound, established, ready).
    public static let healthy = "Healthy"
    /// Some object is still getting there, within `spec.sync.healthTimeout`.
    public static let progressing = "Progressing"
    /// Some object failed, or was not current within `spec.sync.healthTimeout`.
    public static let healthCheckFailed = "HealthCheckFailed"
    /// Objects that differ from git were found (Event reason).
    public static let driftDetected = "DriftDetected"
}

/// Reasons of the `Ready` (and `Stalled`) condition, documented for people in
/// docs/operations.md ("Troubleshooting by condition reason"). Load-bearing: alerts match them.
public enum ConditionReason {
    /// The head revision is applied.
    public static let synced = "Synced"
    /// `spec.suspend: true`.
    public static let suspended = "Suspended"
    /// A sync is running (with `Reconciling=True`).
    public static let progressing = "Progressing"
    /// A value the schema could not check, or a Secret the spec names is missing.
    public static let invalidSpec = "InvalidSpec"
    /// The remote did not answer, or the branch is gone.
    public static let gitFetchFailed = "GitFetchFailed"
    /// The git host refused the credentials.
    public static let authenticationFailed = "AuthenticationFailed"
    /// No `known_hosts` entry for the host.
    public static let hostKeyUnknown = "HostKeyUnknown"
    /// The host presented another key than its `known_hosts` entry (changed, or intercepted).
    public static let hostKeyMismatch = "HostKeyMismatch"
    /// A commit to apply is unsigned or not signed by a trusted key (`spec.git.verify`).
    public static let verificationFailed = "VerificationFailed"
    /// A manifest does not parse, or an object is declared twice.
    public static let parseFailed = "ParseFailed"
    /// A `.flux.yaml` command failed or timed out.
    public static let generationFailed = "GenerationFailed"
    /// A SOPS-encrypted file could not be decrypted: no key for it, a wrong key, or a value
    /// changed after encryption (`spec.decryption`).
    public static let decryptionFailed = "DecryptionFailed"
    /// The instance's identity may not write some objects of the revision.
    public static let forbidden = "Forbidden"
    /// The API server refused some objects.
    public static let applyFailed = "ApplyFailed"
    /// Another instance declares or owns an object of the revision.
    public static let conflict = "Conflict"
    /// Garbage collection holds deletions until approved.
    public static let pruneHeld = "PruneHeld"
    /// The sync took longer than `spec.sync.timeout`.
    public static let syncTimeout = "SyncTimeout"
    /// With `spec.sync.wait`: an applied object failed, or was not healthy within
    /// `spec.sync.healthTimeout`.
    public static let healthCheckFailed = "HealthCheckFailed"
    /// Anything else.
    public static let reconcileFailed = "ReconcileFailed"
    /// `allowedNamespaces` names a namespace the instance was not granted (`*` outside the
    /// install's cluster-scope namespaces, or a namespace without consent). Nothing is applied.
    public static let namespaceNotPermitted = "NamespaceNotPermitted"
    /// `clusterScoped: true` outside the install's cluster-scope namespaces.
    public static let clusterScopeNotPermitted = "ClusterScopeNotPermitted"
    /// `manifestGeneration` where the install does not allow it, or with no usable sandbox.
    public static let generationNotPermitted = "GenerationNotPermitted"
}

/// Flux v1 annotations and labels that Flotilla honours unchanged (`fluxcd.io/` and the legacy
/// `flux.weave.works/` prefixes).
public enum FluxAnnotations {
    public static let prefixes = ["fluxcd.io/", "flux.weave.works/"]
    public static let ignore = "ignore"
    public static let automated = "automated"
    public static let locked = "locked"
    public static let lockedMessage = "locked_msg"
    public static let lockedUser = "locked_user"
    public static let syncChecksum = "fluxcd.io/sync-checksum"
    public static let syncGCMark = "fluxcd.io/sync-gc-mark"
    /// `fluxcd.io/ignore` values: skip apply and garbage collection / apply but never collect.
    public static let ignoreTrue = "true"
    public static let ignoreSyncOnly = "sync_only"

    /// The value of a Flux annotation under either prefix (`fluxcd.io/` wins).
    public static func value(_ name: String, in annotations: [String: String]) -> String? {
        for prefix in prefixes { if let v = annotations[prefix + name] { return v } }
        return nil
    }
}
