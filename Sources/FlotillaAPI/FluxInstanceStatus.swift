import KubeModel

/// What the operator reports of a FluxInstance (`status`).
public struct FluxInstanceStatus: Codable, Sendable, Hashable {
    public var observedGeneration: Int64?
    public var conditions: [Condition]?
    public var headRevision: String?
    public var lastAppliedRevision: String?
    /// The first 7 characters of `lastAppliedRevision` (the REVISION column).
    public var shortRevision: String?
    /// The last sync. A sync that changes nothing else refreshes it at most every
    /// `timeRefreshPeriod` (see the operator's `StatusBuilder.worthWriting`).
    public var lastSyncTime: String?
    /// The value of the `flotilla.dev/reconcile-requested-at` annotation the last pass handled (as
    /// Flux's `lastHandledReconcileAt`): a client that asked for a sync waits until it is its own.
    public var lastHandledReconcileAt: String?
    public var behind: Int?
    public var counts: SyncCounts?
    public var lastError: String?
    public var identity: InstanceIdentity?
    /// The last revision whose signatures were verified (with `spec.git.verify`).
    public var verification: VerificationStatus?
    public var pendingDeletions: [String]?
    public var health: HealthReport?
    public var drift: DriftReport?
    public var images: ImagesStatus?
    /// Answers to the last requests of the fluxctl-like verbs (at most ten, newest last).
    public var requests: [RequestResult]?
    /// The last revisions applied (at most ten, newest first), with their commits.
    public var history: [SyncRecord]?

    public init() {}

    /// How long a `lastSyncTime` (and a health check time) may lag behind when nothing else in the
    /// status changed.
    public static let timeRefreshPeriod: Double = 600
}

/// One revision applied (`status.history`): its commit's subject and author, when, and the counts.
public struct SyncRecord: Codable, Sendable, Hashable {
    public var revision: String
    public var subject: String?
    public var author: String?
    public var time: String
    public var applied: Int
    public var unchanged: Int
    public var pruned: Int
    public var failed: Int

    public static let kept = 10

    public init(revision: String, subject: String?, author: String?, time: String, applied: Int, unchanged: Int, pruned: Int, failed: Int) {
        (self.revision, self.subject, self.author, self.time) = (revision, subject, author, time)
        (self.applied, self.unchanged, self.pruned, self.failed) = (applied, unchanged, pruned, failed)
    }
}

/// The health of what the applied revision applied (`status.health`).
public struct HealthReport: Codable, Sendable, Hashable {
    /// `Healthy`, `Progressing` or `Degraded` (the HEALTH column).
    public var state: String
    public var revision: String?
    public var total: Int?
    public var since: String?
    public var lastCheckTime: String?
    /// The objects that are not healthy, worst first (at most 20).
    public var objects: [UnhealthyObject]?
    public init(state: String) { self.state = state }
}

public struct UnhealthyObject: Codable, Sendable, Hashable {
    /// Flux id: `namespace:kind/name`.
    public var object: String
    /// `InProgress`, `Failed` or `Unknown`.
    public var status: String
    public var reason: String?
    public var message: String?
    public init(object: String, status: String, reason: String?, message: String?) {
        (self.object, self.status, self.reason, self.message) = (object, status, reason, message)
    }
}

/// Objects the last sync found differing from git (`status.drift`).
public struct DriftReport: Codable, Sendable, Hashable {
    public var count: Int
    public var corrected: Int?
    public var detectedAt: String?
    public var objects: [DriftedObject]?
    public init(count: Int) { self.count = count }
}

public struct DriftedObject: Codable, Sendable, Hashable {
    public var object: String
    /// What differed: `spec.replicas changed`, `fields added by kubectl-patch`.
    public var drift: String
    public var corrected: Bool
    public init(object: String, drift: String, corrected: Bool) { (self.object, self.drift, self.corrected) = (object, drift, corrected) }
}
