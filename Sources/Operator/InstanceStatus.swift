import FlotillaAPI
import Foundation
import GitSource
import KubeModel
import Sync

/// The outcome of one reconcile, as the status will say it. Pure data.
public struct Outcome: Sendable, Equatable {
    /// `Synced`, `Suspended`, or a failure reason (`GitFetchFailed`, `AuthenticationFailed`, …).
    public var reason: String
    public var message: String
    public var ready: Bool
    /// Needs a person (bad credentials, unknown host key, invalid spec, forbidden objects).
    public var stalled: Bool

    public static func synced(_ revision: String) -> Outcome {
        Outcome(reason: "Synced", message: "Applied revision \(revision.prefix(12))", ready: true, stalled: false)
    }

    public static func failure(_ reason: String, _ message: String, stalled: Bool) -> Outcome {
        Outcome(reason: reason, message: message, ready: false, stalled: stalled)
    }

    /// The condition reason of a git failure; host-key and credential problems stall.
    public static func git(_ error: GitError) -> Outcome {
        switch error.kind {
        case .authenticationFailed: return .failure("AuthenticationFailed", error.message, stalled: true)
        case .hostKeyUnknown, .hostKeyMismatch: return .failure("HostKeyUnknown", error.message, stalled: true)
        default: return .failure("GitFetchFailed", error.message, stalled: false)
        }
    }

    public static func sync(_ failure: SyncFailure) -> Outcome {
        let stalled = failure.reason == "Forbidden" || failure.reason == "ParseFailed" || failure.reason == "GenerationFailed"
        return .failure(failure.reason, failure.description, stalled: stalled)
    }

    /// A sync that ran: Ready unless objects failed or deletions are held.
    public static func result(_ result: SyncResult) -> Outcome {
        let failed = result.changes(.failed)
        if let conflict = failed.first(where: { $0.reason?.hasPrefix("Conflict:") == true }) {
            return .failure("Conflict", "\(failed.count) object(s) not applied; \(conflict.id): \(conflict.reason ?? "")", stalled: false)
        }
        if let first = failed.first {
            return .failure("ApplyFailed", "\(failed.count) object(s) failed; \(first.id): \(first.reason ?? "")", stalled: false)
        }
        if !result.pendingDeletions.isEmpty {
            return .failure("PruneHeld", "\(result.pruneHeldReason ?? "deletions held"); approve with annotation \(Flotilla.approvePruneAnnotation)=\(result.revision)",
                            stalled: false)
        }
        return .synced(result.revision)
    }
}

enum StatusBuilder {
    /// RFC 3339 in UTC, whole seconds (a value type: no ICU formatter built per call).
    static let format = Date.ISO8601FormatStyle()

    static func timestamp(_ date: Date = Date()) -> String { date.formatted(format) }

    static func date(_ text: String) -> Date? { try? format.parse(text) }

    /// kstatus conditions: `Ready`, `Reconciling` (only while true) and `Stalled` (only while
    /// true). A condition keeps its `lastTransitionTime` while its status does not change.
    static func conditions(_ outcome: Outcome, reconciling: Bool, generation: Int64, previous: [Condition], now: String) -> [Condition] {
        func make(_ type: String, _ status: Bool, _ reason: String, _ message: String) -> Condition {
            let value = status ? "True" : "False"
            let old = previous.first { $0.type == type }
            let since = old?.status == value ? (old?.lastTransitionTime ?? now) : now
            return Condition(type: type, status: value, reason: reason, message: message, lastTransitionTime: since, observedGeneration: generation)
        }
        var out = [make("Ready", outcome.ready, outcome.reason, outcome.message)]
        if reconciling { out.append(make("Reconciling", true, "Progressing", "Syncing")) }
        if outcome.stalled { out.append(make("Stalled", true, outcome.reason, outcome.message)) }
        return out
    }
}
