import FlotillaAPI
import GitSource
import KubeModel
import Sync

/// A FluxInstance's spec with every default filled in and every duration parsed: what one
/// reconciler runs with. Pure; `resolve` is the only place the spec's defaults live in Swift (the
/// CRD carries the same defaults for `kubectl get`).
public struct InstanceSettings: Sendable, Equatable {
    /// What the git mirror depends on: a change here means a new mirror.
    public struct Source: Sendable, Equatable {
        public var url: String
        public var branch: String?
        public var secretName: String?
        public var readonly: Bool
        public var timeout: Duration
        public var committer: GitSignature
        public var setAuthor: Bool
        /// Appended to commit messages (`[ci skip]`), or nil.
        public var commitSuffix: String?
        /// Where a generated deploy key is kept.
        public var generatedKey: GitCredentialPlan.KeyStore = .managed
        /// The Secret of the key commits are signed with (nil: unsigned).
        public var signingSecretName: String?
    }

    public var ref: InstanceRef
    public var generation: Int64
    /// The FluxInstance's uid (what its Events point at), when known.
    public var uid: String?
    public var source: Source
    /// Commit signature verification (nil: off).
    public var verify: VerificationPolicy?
    public var paths: [String]
    public var pollInterval: Duration
    /// The sync tag (`label` wins over `syncTag`, as `--git-label` did).
    public var tag: String
    public var syncInterval: Duration
    public var syncTimeout: Duration
    public var garbageCollection: GarbageCollectionOptions
    public var deletionPolicy: SyncSpec.DeletionPolicy
    /// `spec.sync.wait`: Ready only once what was applied is healthy.
    public var wait = false
    public var healthTimeout: Duration = .seconds(300)
    public var driftCorrection = DriftCorrection.revert
    /// nil: the operator manages a ServiceAccount for the instance.
    public var serviceAccountName: String?
    public var allowedNamespaces: [String]
    public var defaultNamespace: String
    public var clusterScoped: Bool
    public var manifestGeneration: Bool
    public var suspend: Bool
    /// The Secret of SOPS keys (`spec.decryption`), nil: off.
    public var decryptionSecretName: String?
    /// The push webhook that wakes the instance (`spec.receiver`), nil: none.
    public var receiver: Receiver?
    /// Where the instance's events go (`spec.notifications`).
    public var notifications: [NotificationTarget] = []
    /// Commit status on the git host (`spec.commitStatus`), nil: none.
    public var commitStatus: CommitStatusTarget?

    public struct CommitStatusTarget: Sendable, Equatable {
        public var provider: CommitStatusProvider
        public var secretName: String
        public var address: String?
        public var link: String?
    }

    public struct NotificationTarget: Sendable, Equatable {
        public var provider: NotificationProvider
        public var secretName: String
        public var events: Set<NotificationKind>
    }

    public struct Receiver: Sendable, Equatable {
        public var type: ReceiverType
        public var secretName: String
    }
    /// `flotilla.dev/reconcile-requested-at`: a new value asks for a sync now.
    public var reconcileRequestedAt: String?
    /// Image automation (nil: scanning disabled).
    public var images: ImageSettings?
    /// Pending requests of the fluxctl-like verbs: id → `InstanceRequest` JSON (the
    /// `requests.flotilla.dev/<id>` annotations).
    public var requests: [String: String] = [:]

    /// Registry scanning and automation, with defaults filled in.
    public struct ImageSettings: Sendable, Equatable {
        public var include: [String]
        public var exclude: [String]
        public var rps: Double
        public var burst: Int
        public var pollInterval: Duration
        public var interval: Duration
        public var dockerConfigSecret: String?
        public var insecureHosts: [String]
        /// The registry webhook that triggers a scan at once (`spec.registry.receiver`).
        public var receiver: RegistryReceiver? = nil
    }

    public struct RegistryReceiver: Sendable, Equatable {
        public var type: RegistryHookType
        public var secretName: String
    }

    /// The ServiceAccount the operator creates when `serviceAccountName` is empty.
    public var managedServiceAccountName: String { "flotilla-\(ref.name)" }
    /// The Secret holding the deploy key the operator generates for an SSH remote without
    /// `spec.git.secretRef`.
    public var deployKeySecretName: String { "flotilla-\(ref.name)-deploy-key" }

    public static func resolve(_ instance: FluxInstance) throws(InvalidSpec) -> InstanceSettings {
        let namespace = instance.metadata.namespace ?? "default"
        let ref = InstanceRef(namespace: namespace, name: instance.metadata.name ?? "")
        let spec = instance.spec
        let git = spec.git
        func duration(_ text: String?, _ fallback: String, _ field: String) throws(InvalidSpec) -> Duration {
            let raw = text ?? fallback
            guard let d = DurationParser.parse(raw), d > .zero else {
                throw InvalidSpec("spec.\(field): \"\(raw)\" is not a positive duration such as \"30s\" or \"5m\"")
            }
            return d
        }
        func keyStore(_ text: String?) throws(InvalidSpec) -> GitCredentialPlan.KeyStore {
            guard let store = GitCredentialPlan.KeyStore(rawValue: text ?? "Managed") else {
                throw InvalidSpec("spec.git.generatedKey: \"\(text ?? "")\" is not Managed or SecretRef")
            }
            if store == .secretRef && git.secretRef == nil { throw InvalidSpec("spec.git.generatedKey: SecretRef needs spec.git.secretRef") }
            return store
        }
        func commitStatus(_ spec: CommitStatusSpec?) throws(InvalidSpec) -> CommitStatusTarget? {
            guard let spec else { return nil }
            guard let provider = CommitStatusProvider(rawValue: spec.provider) else {
                throw InvalidSpec("spec.commitStatus.provider: \"\(spec.provider)\" is not github, gitlab, gitea or bitbucket")
            }
            return CommitStatusTarget(provider: provider, secretName: spec.secretRef.name, address: spec.address, link: spec.link)
        }
        func notifications(_ specs: [NotificationSpec]) throws(InvalidSpec) -> [NotificationTarget] {
            var out: [NotificationTarget] = []
            for (i, spec) in specs.enumerated() {
                guard let provider = NotificationProvider(rawValue: spec.type) else {
                    throw InvalidSpec("spec.notifications[\(i)].type: \"\(spec.type)\" is not slack, msteams, discord or generic")
                }
                var events = Set(NotificationKind.allCases)
                if let names = spec.events {
                    events = []
                    for name in names {
                        guard let kind = NotificationKind(rawValue: name) else { throw InvalidSpec("spec.notifications[\(i)].events: \"\(name)\" is not an event") }
                        events.insert(kind)
                    }
                }
                out.append(NotificationTarget(provider: provider, secretName: spec.secretRef.name, events: events))
            }
            return out
        }
        func registryReceiver(_ spec: ReceiverSpec?) throws(InvalidSpec) -> RegistryReceiver? {
            guard let spec else { return nil }
            guard let type = RegistryHookType(rawValue: spec.type) else {
                throw InvalidSpec("spec.registry.receiver.type: \"\(spec.type)\" is not dockerhub, harbor, quay or generic")
            }
            return RegistryReceiver(type: type, secretName: spec.secretRef.name)
        }
        func receiver(_ spec: ReceiverSpec?) throws(InvalidSpec) -> Receiver? {
            guard let spec else { return nil }
            guard let type = ReceiverType(rawValue: spec.type) else {
                throw InvalidSpec("spec.receiver.type: \"\(spec.type)\" is not github, gitlab, gitea, bitbucket or generic")
            }
            return Receiver(type: type, secretName: spec.secretRef.name)
        }
        func decryption(_ spec: DecryptionSpec?) throws(InvalidSpec) -> String? {
            guard let spec else { return nil }
            guard spec.provider == "sops" else { throw InvalidSpec("spec.decryption.provider: \"\(spec.provider)\" is not sops") }
            return spec.secretRef.name
        }
        guard !git.url.isEmpty else { throw InvalidSpec("spec.git.url is required") }
        let gc = spec.sync?.garbageCollection
        var collection = GarbageCollectionOptions(enabled: gc?.enabled ?? false, dryRun: gc?.dryRun ?? false,
                                                  maxDeletePercent: gc?.maxDeletePercent ?? 50)
        collection.approvedRevision = instance.metadata.annotations?[Flotilla.approvePruneAnnotation]
        guard (0...100).contains(collection.maxDeletePercent) else {
            throw InvalidSpec("spec.sync.garbageCollection.maxDeletePercent must be between 0 and 100")
        }
        let drift = try DriftCorrection(spec.sync?.driftCorrection)
        let allowed = spec.allowedNamespaces.flatMap { $0.isEmpty ? nil : $0 } ?? [namespace]
        let suffix = (git.ciSkip ?? false) ? (git.ciSkipMessage ?? "[ci skip]") : nil
        var settings = InstanceSettings(
            ref: ref,
            generation: instance.metadata.generation ?? 0,
            source: Source(url: git.url, branch: git.branch.flatMap { $0.isEmpty ? nil : $0 },
                           secretName: git.secretRef?.name, readonly: git.readonly ?? false,
                           timeout: try duration(git.timeout, "20s", "git.timeout"),
                           committer: GitSignature(name: git.user ?? "Flotilla", email: git.email ?? "flotilla@localhost"),
                           setAuthor: git.setAuthor ?? false, commitSuffix: suffix,
                           generatedKey: try keyStore(git.generatedKey), signingSecretName: git.signingKeySecretRef?.name),
            verify: try VerificationPolicy.resolve(git.verify),
            paths: git.paths ?? [],
            pollInterval: try duration(git.pollInterval, "5m", "git.pollInterval"),
            tag: git.label.flatMap { $0.isEmpty ? nil : $0 } ?? git.syncTag ?? "flux-sync",
            syncInterval: try duration(spec.sync?.interval, "5m", "sync.interval"),
            syncTimeout: try duration(spec.sync?.timeout, "1m", "sync.timeout"),
            garbageCollection: collection,
            deletionPolicy: spec.sync?.deletionPolicy ?? .orphan,
            serviceAccountName: spec.serviceAccountName.flatMap { $0.isEmpty ? nil : $0 },
            allowedNamespaces: allowed,
            defaultNamespace: spec.defaultNamespace.flatMap { $0.isEmpty ? nil : $0 } ?? namespace,
            clusterScoped: spec.clusterScoped ?? false,
            manifestGeneration: spec.manifestGeneration ?? false,
            suspend: spec.suspend ?? false,
            decryptionSecretName: try decryption(spec.decryption),
            receiver: try receiver(spec.receiver),
            notifications: try notifications(spec.notifications ?? []),
            commitStatus: try commitStatus(spec.commitStatus),
            reconcileRequestedAt: instance.metadata.annotations?[Flotilla.reconcileRequestedAt],
            images: spec.registry?.disableScanning == true ? nil : ImageSettings(
                include: spec.registry?.includeImages ?? [],
                exclude: spec.registry?.excludeImages ?? ["k8s.gcr.io/*", "registry.k8s.io/*"],
                rps: spec.registry?.rps ?? 50, burst: spec.registry?.burst ?? 10,
                pollInterval: try duration(spec.registry?.pollInterval, "5m", "registry.pollInterval"),
                interval: try duration(spec.automation?.interval, "5m", "automation.interval"),
                dockerConfigSecret: spec.registry?.dockerConfigSecretRef?.name,
                insecureHosts: spec.registry?.insecureHosts ?? [], receiver: try registryReceiver(spec.registry?.receiver)),
            requests: (instance.metadata.annotations ?? [:]).reduce(into: [:]) { out, a in
                if a.key.hasPrefix(Flotilla.requestAnnotationPrefix) { out[String(a.key.dropFirst(Flotilla.requestAnnotationPrefix.count))] = a.value }
            })
        settings.uid = instance.metadata.uid
        settings.wait = spec.sync?.wait ?? false
        settings.healthTimeout = try duration(spec.sync?.healthTimeout, "5m", "sync.healthTimeout")
        settings.driftCorrection = drift
        return settings
    }

    /// Sync options for this instance (branch is the one actually synced, for the GC set name).
    public func syncOptions(branch: String) -> SyncOptions {
        var o = SyncOptions(instance: ref, setName: GCMark.setName(url: GitURL.redacted(source.url), branch: branch, paths: paths),
                            defaultNamespace: defaultNamespace, allowedNamespaces: allowedNamespaces)
        o.clusterScoped = clusterScoped
        o.garbageCollection = garbageCollection
        o.driftCorrection = driftCorrection
        return o
    }
}

extension DriftCorrection {
    init(_ text: String?) throws(InvalidSpec) {
        guard let text, !text.isEmpty else { self = .revert; return }
        guard let mode = DriftCorrection(rawValue: text) else {
            throw InvalidSpec("spec.sync.driftCorrection: \"\(text)\" is not revert, revertIncludingAddedFields or report")
        }
        self = mode
    }
}

/// A spec the operator cannot run (beyond what the CRD schema checks).
public struct InvalidSpec: Error, Sendable, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
