import FlotillaAPI
import Foundation
import GitSource
import ImageAutomation
import KubeClient
import KubeModel
import KubeRuntime
import Logging
import Manifests
import Primitives
import Sync

/// The report step: the one writer of the FluxInstance's status.
extension InstanceReconciler {
    static func outcome(of status: FluxInstanceStatus) -> Outcome? {
        guard let ready = status.conditions?.first(where: { $0.type == "Ready" }) else { return nil }
        let stalled = status.conditions?.contains { $0.type == "Stalled" && $0.status == "True" } ?? false
        let failure: FailureClass? = ready.status == "True" ? nil : stalled ? .stalled : .transient
        return Outcome(reason: ready.reason ?? "", message: ready.message ?? "", ready: ready.status == "True", failure: failure)
    }

    /// Writes the status (server-side apply on the status subresource, field manager
    /// `flotilla-status`) when it differs from what was last written. `reconciling`: a sync has
    /// started (`Reconciling=True`, `Ready=Unknown`; the last error and the metric stay).
    func writeStatus(_ outcome: Outcome, head: String?, behind: Int? = nil, reconciling: Bool = false) async {
        let inputs = StatusInputs(outcome: outcome, reconciling: reconciling, head: head, behind: behind, lastApplied: lastApplied, lastSync: lastSync, lastRequest: lastRequest,
                                  syncsCompleted: syncsCompleted, settings: settings, publicKey: publicKey, verification: verification,
                                  images: imagesStatus, requests: requestResults, health: healthWatch, drift: driftReport, history: history)
        if inputs == lastStatusInputs { return }
        if !reconciling { env.metrics.setReady(settings.ref, outcome.ready) }
        let previous = lastWrittenStatus
        var status = previous ?? FluxInstanceStatus()
        let now = KubeTime.string()
        status.observedGeneration = settings.generation
        status.health = healthReport(now: Date())
        status.drift = driftReport
        status.conditions = StatusBuilder.conditions(outcome, reconciling: reconciling, generation: settings.generation,
                                                     previous: previous?.conditions ?? [], now: now)
            + StatusBuilder.healthCondition(healthWatch?.summary(now: Date()), report: status.health, generation: settings.generation,
                                            previous: previous?.conditions ?? [], now: now)
        if let head { status.headRevision = head }
        status.lastAppliedRevision = lastApplied
        status.shortRevision = lastApplied.map { String($0.prefix(7)) }
        status.lastSyncTime = lastSync.map { KubeTime.string($0) }
        status.lastHandledReconcileAt = lastRequest
        if let behind { status.behind = behind }
        if let result = lastCounts {
            status.counts = SyncCounts(applied: result.count(.created) + result.count(.configured), unchanged: result.count(.unchanged),
                                       pruned: result.count(.deleted), failed: result.count(.failed) + result.count(.conflict))
            status.pendingDeletions = result.pendingDeletions.isEmpty ? nil : result.pendingDeletions.map(\.description)
        }
        if !reconciling { status.lastError = outcome.ready ? nil : outcome.message }
        let host = GitURL.parse(settings.source.url)?.host
        status.identity = InstanceIdentity(publicKey: publicKey, gitHost: host?.isEmpty == false ? host : nil,
                                           serviceAccount: syncerIdentity?.name ?? previous?.identity?.serviceAccount)
        status.verification = verification
        status.images = imagesStatus
        status.requests = requestResults.isEmpty ? nil : requestResults
        status.history = history.isEmpty ? nil : history
        guard StatusBuilder.worthWriting(status, previous: previous, now: Date()) else {
            lastStatusInputs = inputs
            return
        }
        do {
            try await StatusWriter(client: env.client).write(status, of: settings.ref)
            lastWrittenStatus = status
            lastStatusInputs = inputs
            if !reconciling, let kind = Notification.transition(from: previous.flatMap(Self.outcome(of:)), to: outcome) {
                await notify(kind, revision: head ?? lastApplied, message: outcome.message)
            }
            // A line when the outcome's reason changes (a sync starting is not an outcome).
            if !reconciling && reportedReason != outcome.reason {
                reportedReason = outcome.reason
                logger.notice("status", metadata: ["ready": "\(outcome.ready)", "reason": "\(outcome.reason)", "message": "\(outcome.message)"])
            }
        } catch {
            // Shutting down cancels the write: nothing to report then.
            if !Task.isCancelled { logger.warning("status not written", metadata: ["error": "\(error)"]) }
        }
    }

    /// A pass that failed: the status says why; the next pass comes after the backoff.
    func failed(_ error: any Error) async -> Duration {
        failures += 1
        switch error {
        case let error as GitError:
            metrics.gitFailed()
            logger.warning("git failed", metadata: ["error": "\(error.message)", "reason": "\(error.kind.rawValue)"])
            await writeStatus(.git(error), head: nil)
        case let failure as VerificationFailure:
            logger.warning("revision not verified", metadata: ["commit": "\(failure.commit)", "signer": "\(failure.signer ?? "")", "reason": "\(failure.reason)"])
            await writeStatus(.failure(ConditionReason.verificationFailed, failure.description, .stalled), head: failure.head)
        case let error as InvalidSpec:
            await writeStatus(.failure(ConditionReason.invalidSpec, error.message, .stalled), head: nil)
        case let refusal as AccessRefusal:
            await refused(refusal)
        default:
            logger.warning("reconcile failed", metadata: ["error": "\(error)"])
            await writeStatus(.failure(ConditionReason.reconcileFailed, "\(error)", .transient), head: nil)
        }
        return backoff()
    }
}

/// Everything a status is built from (see `InstanceReconciler.writeStatus`).
struct StatusInputs: Equatable {
    var outcome: Outcome
    var reconciling: Bool
    var head: String?
    var behind: Int?
    var lastApplied: String?
    var lastSync: Date?
    var lastRequest: String?
    var syncsCompleted: Int
    var settings: InstanceSettings
    var publicKey: String?
    var verification: VerificationStatus?
    var images: ImagesStatus?
    var requests: [RequestResult]
    var health: HealthWatch?
    var drift: DriftReport?
    var history: [SyncRecord]
}
