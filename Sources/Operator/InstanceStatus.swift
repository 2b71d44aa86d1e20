import FlotillaAPI
import Foundation
import GitSource
import KubeModel
import Sync

/// How a failed pass is retried, and whether it is `Stalled` (kstatus).
public enum FailureClass: String, Sendable, Equatable {
    /// May clear by itself (a git host down, an API error, a conflict that moves): retried with
    /// backoff, not stalled.
    case transient
    /// Needs a person (credentials, a host key, a file in git, RBAC, tenancy): `Stalled=True`,
    /// retried calmly (backoff up to the poll interval) so that a fix is noticed.
    case stalled
    /// The spec cannot run as written: `Stalled=True`, nothing is tried until the FluxInstance
    /// changes.
    case terminal
}

/// The outcome of one reconcile, as the status will say it. Pure data.
public struct Outcome: Sendable, Equatable {
    /// A `ConditionReason`.
    public var reason: String
    public var message: String
    public var ready: Bool
    /// Why not ready, as a class (nil when ready, or suspended).
    public var failure: FailureClass?

    public var stalled: Bool { failure == .stalled || failure == .terminal }

    public init(reason: String, message: String, ready: Bool, failure: FailureClass?) {
        self.reason = reason
        self.message = message
        self.ready = ready
        self.failure = failure
    }

    public static func synced(_ revision: String) -> Outcome {
        Outcome(reason: ConditionReason.synced, message: "Applied revision \(revision.prefix(12))", ready: true, failure: nil)
    }

    /// A sync of `revision` has started (kstatus: `Reconciling=True`, `Ready=Unknown`).
    public static func reconciling(_ revision: String) -> Outcome {
        Outcome(reason: ConditionReason.progressing, message: "Applying revision \(revision.prefix(12))", ready: false, failure: nil)
    }

    public static func failure(_ reason: String, _ message: String, _ failure: FailureClass?) -> Outcome {
        Outcome(reason: reason, message: message, ready: false, failure: failure)
    }

    /// The condition reason of a git failure; host-key and credential problems stall.
    public static func git(_ error: GitError) -> Outcome {
        switch error.kind {
        case .authenticationFailed: return .failure(ConditionReason.authenticationFailed, error.message, .stalled)
        case .hostKeyUnknown: return .failure(ConditionReason.hostKeyUnknown, error.message, .stalled)
        case .hostKeyMismatch: return .failure(ConditionReason.hostKeyMismatch, error.message, .stalled)
        default: return .failure(ConditionReason.gitFetchFailed, error.message, .transient)
        }
    }

    public static func sync(_ failure: SyncFailure) -> Outcome {
        .failure(failure.reason, failure.description, failure.failureClass)
    }

    /// A sync that ran: Ready unless objects failed or conflict, or deletions are held.
    public static func result(_ result: SyncResult) -> Outcome {
        let failed = result.changes(.failed), conflicts = result.changes(.conflict)
        if let first = conflicts.first {
            return .failure(ConditionReason.conflict, "\(conflicts.count + failed.count) object(s) not applied; \(first.id): \(first.reason ?? "")", .transient)
        }
        if let first = failed.first {
            return .failure(ConditionReason.applyFailed, "\(failed.count) object(s) failed; \(first.id): \(first.reason ?? "")", .transient)
        }
        if !result.pendingDeletions.isEmpty {
            return .failure(ConditionReason.pruneHeld, "\(result.pruneHeldReason ?? "deletions held"); approve with annotation \(Flotilla.approvePruneAnnotation)=\(result.revision)",
                            .transient)
        }
        return .synced(result.revision)
    }
}

enum StatusBuilder {
    /// Whether a new status is worth a write. One that differs from the last written only in its
    /// time stamps (the last sync, the last health check, the last image scan: a resync, a check
    /// or a scan that changed nothing) is written once the written sync time is `FluxInstanceStatus.timeRefreshPeriod`
    /// old, not at every resync: a thousand instances resyncing every few seconds would
    /// otherwise write a thousand statuses every few seconds, which no reader needs.
    static func worthWriting(_ status: FluxInstanceStatus, previous: FluxInstanceStatus?, now: Date) -> Bool {
        guard let previous else { return true }
        guard status != previous else { return false }
        var a = status, b = previous
        a.lastSyncTime = nil
        b.lastSyncTime = nil
        a.health?.lastCheckTime = nil
        b.health?.lastCheckTime = nil
        a.images?.lastScanTime = nil
        b.images?.lastScanTime = nil
        guard a == b, let written = previous.lastSyncTime.flatMap(KubeTime.date) else { return true }
        return now.timeIntervalSince(written) >= FluxInstanceStatus.timeRefreshPeriod
    }

    /// kstatus conditions: `Ready` (`Unknown` while reconciling), `Reconciling` (only while true)
    /// and `Stalled` (only while true). A condition keeps its `lastTransitionTime` while its status
    /// does not change.
    static func conditions(_ outcome: Outcome, reconciling: Bool, generation: Int64, previous: [Condition], now: String) -> [Condition] {
        func make(_ type: String, _ status: Bool?, _ reason: String, _ message: String) -> Condition {
            let value = status.map { $0 ? "True" : "False" } ?? "Unknown"
            let old = previous.first { $0.type == type }
            let since = old?.status == value ? (old?.lastTransitionTime ?? now) : now
            return Condition(type: type, status: value, reason: reason, message: message, lastTransitionTime: since, observedGeneration: generation)
        }
        var out = [make("Ready", reconciling ? nil : outcome.ready, outcome.reason, outcome.message)]
        if reconciling { out.append(make("Reconciling", true, ConditionReason.progressing, outcome.message)) }
        if outcome.stalled { out.append(make("Stalled", true, outcome.reason, outcome.message)) }
        return out
    }

    /// `Healthy`: True when everything applied is healthy, Unknown while something progresses,
    /// False when something failed or timed out. Without a watch (after a restart) it is
    /// rebuilt from the last written report; before any sync there is none.
    static func healthCondition(_ summary: HealthSummary?, report: HealthReport?, generation: Int64, previous: [Condition], now: String) -> [Condition] {
        let state = summary?.state ?? report.flatMap { HealthSummary.State(rawValue: $0.state) }
        guard let state else { return [] }
        let (status, reason): (String, String) = switch state {
        case .healthy: ("True", HealthReason.healthy)
        case .progressing: ("Unknown", HealthReason.progressing)
        case .degraded: ("False", HealthReason.healthCheckFailed)
        }
        let message: String
        if let summary {
            message = state == .healthy ? "All \(summary.total) applied object(s) are healthy" : InstanceReconciler.describe(summary)
        } else {
            message = previous.first { $0.type == "Healthy" }?.message ?? ""
        }
        let old = previous.first { $0.type == "Healthy" }
        let since = old?.status == status ? (old?.lastTransitionTime ?? now) : now
        return [Condition(type: "Healthy", status: status, reason: reason, message: message, lastTransitionTime: since, observedGeneration: generation)]
    }
}
