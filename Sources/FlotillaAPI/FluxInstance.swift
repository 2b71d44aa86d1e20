import Foundation
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
    /// SOPS decryption (Flux v1's `--sops`).
    public var decryption: DecryptionSpec?
    /// Where the instance's events are sent (Slack, Teams, Discord, generic JSON).
    public var notifications: [NotificationSpec]?
    /// The status of each applied revision on its git host.
    public var commitStatus: CommitStatusSpec?
    /// A push webhook that wakes the instance (`POST /hooks/<namespace>/<secret>` on the receiver port).
    public var receiver: ReceiverSpec?
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
    /// Where a generated deploy key is kept: `Managed` (default) or `SecretRef`.
    public var generatedKey: String?
    /// Commit signature verification (Flux v1's `--git-verify-signatures-mode`).
    public var verify: VerifySpec?
    /// The key Flotilla signs its commits with (Flux v1's `--git-signing-key`).
    public var signingKeySecretRef: SecretReference?
    public var syncTag: String?
    public var label: String?
    public var user: String?
    public var email: String?
    public var setAuthor: Bool?
    public var ciSkip: Bool?
    public var ciSkipMessage: String?

    public init(url: String) { self.url = url }
}

/// Commit status on the git host: the provider, the Secret with its API `token`, the API address
/// (the provider's public one when unset) and a link shown with the status.
public struct CommitStatusSpec: Codable, Sendable, Hashable {
    public var provider: String
    public var secretRef: SecretReference
    public var address: String?
    public var link: String?
    public init(provider: String, secretRef: SecretReference, address: String? = nil, link: String? = nil) {
        (self.provider, self.secretRef, self.address, self.link) = (provider, secretRef, address, link)
    }
}

/// A notification provider: its type, the Secret with its `address` (and `token` for generic),
/// and the events it gets (all when unset).
public struct NotificationSpec: Codable, Sendable, Hashable {
    public var type: String
    public var secretRef: SecretReference
    public var events: [String]?
    public init(type: String, secretRef: SecretReference, events: [String]? = nil) {
        self.type = type
        self.secretRef = secretRef
        self.events = events
    }
}

/// A push webhook: the git host's format and the Secret holding its token (data key `token`).
public struct ReceiverSpec: Codable, Sendable, Hashable {
    public var type: String
    public var secretRef: SecretReference
    public init(type: String, secretRef: SecretReference) {
        self.type = type
        self.secretRef = secretRef
    }
}

/// How encrypted files are decrypted: the format and the Secret of private keys.
public struct DecryptionSpec: Codable, Sendable, Hashable {
    public var provider: String
    public var secretRef: SecretReference
    public init(provider: String = "sops", secretRef: SecretReference) {
        self.provider = provider
        self.secretRef = secretRef
    }
}

/// Which commits must carry a trusted signature, and the Secret of trusted keys.
public struct VerifySpec: Codable, Sendable, Hashable {
    /// `none`, `head`, `all` (default) or `first-parent`.
    public var mode: String?
    public var secretRef: SecretReference
    public init(mode: String? = nil, secretRef: SecretReference) {
        self.mode = mode
        self.secretRef = secretRef
    }
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
    /// A registry webhook (dockerhub, harbor, quay, generic) that makes automation scan a pushed
    /// image at once.
    public var receiver: ReceiverSpec?
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
    /// Ready only once what was applied is healthy.
    public var wait: Bool?
    public var healthTimeout: String?
    /// `revert` (default), `revertIncludingAddedFields` or `report`.
    public var driftCorrection: String?
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
    /// The ServiceAccount (of the instance's namespace) every read and write is made as.
    public var serviceAccount: String?

    public init(publicKey: String? = nil, gitHost: String? = nil, serviceAccount: String? = nil) {
        self.publicKey = publicKey
        self.gitHost = gitHost
        self.serviceAccount = serviceAccount
    }
}

/// A verified revision: its id, who signed its head, and the mode it was verified in.
public struct VerificationStatus: Codable, Sendable, Hashable {
    public var revision: String
    public var signer: String
    public var mode: String
    public init(revision: String, signer: String, mode: String) {
        (self.revision, self.signer, self.mode) = (revision, signer, mode)
    }
}

/// A request of the fluxctl-like verbs (`flotilla release`, `automate`, `list-images`, …). The
/// caller writes it as the annotation `requests.flotilla.dev/<id>` (JSON) on the FluxInstance, so
/// their RBAC on the FluxInstance (`patch`) decides whether they may ask; the instance executes it
/// with its own deploy key and identity, answers in `status.requests`, and removes the annotation.
public struct InstanceRequest: Codable, Sendable, Hashable {
    public enum Action: String, Codable, Sendable, CaseIterable {
        case listWorkloads = "list-workloads"
        case listImages = "list-images"
        case release
        case policy
        case regenerateIdentity = "regenerate-identity"
    }

    public var action: Action
    /// Who asks (`Name <email>` or a user name): the commit's author when `spec.git.setAuthor`
    /// is on, else named in the commit message.
    public var user: String?
    public var message: String?
    /// Compute and report the change; commit nothing.
    public var dryRun: Bool?
    /// Flux v1 workload ids (`namespace:kind/name`).
    public var workloads: [String]?
    /// `release --all`: every workload of the instance.
    public var all: Bool?
    public var exclude: [String]?
    /// `release --update-image IMAGE:TAG`.
    public var image: String?
    /// `release --update-all-images`: each container to the newest tag its filter allows.
    public var allImages: Bool?
    /// Release locked workloads too.
    public var force: Bool?
    /// `list-images`: tags per container (newest first).
    public var limit: Int?
    /// `policy`: automate (true) / deautomate (false), lock / unlock, container → tag filter.
    public var automate: Bool?
    public var lock: Bool?
    public var tags: [String: String]?

    public init(action: Action) { self.action = action }

    /// The id of a request (its annotation is `requests.flotilla.dev/<id>`): sortable by time,
    /// unique, and a valid annotation name (at most 63 characters).
    public static func newID(now: Date = Date()) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .nanosecond], from: now)
        let stamp = String(format: "%04d%02d%02dt%02d%02d%02d%03d", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!, c.nanosecond! / 1_000_000)
        return stamp + "-" + UUID().uuidString.prefix(8).lowercased()
    }
}

/// One container image change of a release.
public struct RequestChange: Codable, Sendable, Hashable {
    public var workload: String
    public var container: String
    public var from: String
    public var to: String
    public init(workload: String, container: String, from: String, to: String) {
        (self.workload, self.container, self.from, self.to) = (workload, container, from, to)
    }
}

/// The answer to an `InstanceRequest`, in `status.requests` (the last ten).
public struct RequestResult: Codable, Sendable, Hashable {
    public var id: String
    public var action: String
    public var user: String?
    /// `Succeeded` or `Failed`.
    public var state: String
    public var message: String
    public var dryRun: Bool?
    /// The commit pushed (nil when nothing was committed).
    public var revision: String?
    public var changes: [RequestChange]?
    /// Workloads left out, as `id: reason`.
    public var skipped: [String]?
    /// The answer of a query (`list-workloads`, `list-images`, `regenerate-identity`); dropped
    /// from the status five minutes after it was given.
    public var result: JSONValue?
    public var completedAt: String

    public init(id: String, action: String, state: String, message: String, completedAt: String) {
        (self.id, self.action, self.state, self.message, self.completedAt) = (id, action, state, message, completedAt)
    }
}

extension Flotilla {
    /// The merge patch that asks an instance to sync now (`flotilla sync`, the dashboard's Sync
    /// button): a new `reconcile-requested-at` value each time, the time and a random suffix, so
    /// two requests in one second are two.
    public static func reconcileRequest(at now: Date = Date()) -> JSONValue {
        let token = ISO8601DateFormatter().string(from: now) + "-" + UUID().uuidString.prefix(8).lowercased()
        return ["metadata": ["annotations": [.init(stringLiteral: reconcileRequestedAt): .string(token)]]]
    }
}
