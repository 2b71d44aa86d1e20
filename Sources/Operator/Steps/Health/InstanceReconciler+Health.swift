import FlotillaAPI
import Foundation
import KubeModel
import KubeRuntime
import Logging
import Sync

/// The health step: after each sync, the health of what it applied (kstatus rules) and the
/// objects it found drifted from git; between syncs, checks of the objects not yet healthy
/// until they are or `spec.sync.healthTimeout` passes. With `spec.sync.wait`, Ready waits for it.
extension InstanceReconciler {
    /// After a sync that ran: starts the health watch, reports drift.
    func observe(_ result: SyncResult) async {
        let now = Date()
        healthWatch = HealthWatch(after: result, previous: healthWatch, timeout: settings.healthTimeout, now: now)
        await reportHealthChange(now: now)
        await observeDrift(result, now: now)
    }

    /// Checks the objects that are not healthy yet, when it is time (see `HealthWatch.nextCheck`).
    func checkHealthIfDue() async {
        let now = Date()
        guard let watch = healthWatch, let at = watch.nextCheck, InstanceSchedule.healthCheckDue(at, now: now), let syncer else { return }
        let found = await syncer.health(of: Array(watch.unhealthy.keys))
        healthWatch = watch.checked(found, now: Date())
        await reportHealthChange(now: Date())
    }

    /// How long until the next health check (nil: none pending).
    var healthDelay: Duration? {
        healthWatch?.nextCheck.map { InstanceSchedule.atLeast50ms($0.timeIntervalSinceNow) }
    }

    /// The outcome to show: with `spec.sync.wait`, a sync that applied everything is Ready only
    /// once what it applied is healthy; until then it is still reconciling.
    func gated(_ outcome: Outcome) -> (outcome: Outcome, reconciling: Bool) {
        guard settings.wait, outcome.ready, let watch = healthWatch, watch.revision == lastApplied else { return (outcome, false) }
        let summary = watch.summary(now: Date())
        switch summary.state {
        case .healthy:
            return (outcome, false)
        case .progressing:
            return (Outcome(reason: ConditionReason.progressing, message: "Applied revision \(watch.revision.prefix(12)); waiting for \(Self.describe(summary))",
                            ready: false, failure: nil), true)
        case .degraded:
            return (.failure(ConditionReason.healthCheckFailed, "Revision \(watch.revision.prefix(12)) is not healthy: \(Self.describe(summary))", .transient), false)
        }
    }

    /// `2 object(s): apps:deployment/web: updated replicas: 1/3; batch:job/migrate: …`.
    static func describe(_ summary: HealthSummary) -> String {
        let named = summary.unhealthy.prefix(3).map { "\($0.id): \($0.health.message.isEmpty ? $0.health.reason : $0.health.message)" }
        let more = summary.unhealthy.count > 3 ? "; and \(summary.unhealthy.count - 3) more" : ""
        return "\(summary.unhealthy.count) object(s): " + named.joined(separator: "; ") + more
    }

    /// An Event, a log line and (with wait) the commit status when the health state changes.
    func reportHealthChange(now: Date) async {
        guard let watch = healthWatch else { return }
        let summary = watch.summary(now: now)
        metrics.unhealthy(summary.unhealthy.count)
        guard summary.state != reportedHealth else { return }
        // Healthy from the first look is no change (and a thousand instances starting would
        // otherwise each write an Event).
        let first = reportedHealth == nil
        reportedHealth = summary.state
        if first && summary.state == .healthy { return }
        let revision = watch.revision.prefix(12)
        let object = await instanceObject()
        switch summary.state {
        case .healthy:
            logger.info("healthy", metadata: ["revision": "\(revision)", "objects": "\(summary.total)"])
            await env.events.record(object, type: .normal, reason: HealthReason.healthy, message: "Revision \(revision): all \(summary.total) applied object(s) are healthy")
        case .progressing:
            logger.info("waiting for health", metadata: ["revision": "\(revision)", "unhealthy": "\(summary.unhealthy.count)"])
            await env.events.record(object, type: .normal, reason: HealthReason.progressing, message: "Revision \(revision): waiting for \(Self.describe(summary))")
        case .degraded:
            logger.warning("unhealthy", metadata: ["revision": "\(revision)", "unhealthy": "\(summary.unhealthy.count)", "first": "\(summary.unhealthy.first.map { "\($0.id)" } ?? "")"])
            await env.events.record(object, type: .warning, reason: HealthReason.healthCheckFailed, message: "Revision \(revision) is not healthy: \(Self.describe(summary))")
        }
    }

    /// `status.health`: the state, and the objects not healthy (at most 20).
    func healthReport(now: Date) -> HealthReport? {
        guard let watch = healthWatch else { return lastWrittenStatus?.health }
        let summary = watch.summary(now: now)
        var report = HealthReport(state: summary.state.rawValue)
        report.revision = watch.revision
        report.total = summary.total
        report.since = KubeTime.string(watch.since)
        report.lastCheckTime = KubeTime.string(watch.checkedAt)
        let objects = summary.unhealthy.prefix(20).map {
            UnhealthyObject(object: "\($0.id)", status: $0.health.status.rawValue, reason: $0.health.reason.isEmpty ? nil : $0.health.reason,
                            message: $0.health.message.isEmpty ? nil : $0.health.message)
        }
        report.objects = objects.isEmpty ? nil : objects
        return report
    }

    /// `status.drift`, the metrics, and an Event when drift appears.
    func observeDrift(_ result: SyncResult, now: Date) async {
        let drifted = result.drifted
        let corrected = drifted.filter { $0.action != .drifted }
        metrics.drift(found: drifted.count, corrected: corrected.count)
        guard !drifted.isEmpty else {
            driftReport = nil
            return
        }
        var report = DriftReport(count: drifted.count)
        report.corrected = corrected.count
        report.detectedAt = driftReport?.detectedAt ?? KubeTime.string(now)
        report.objects = drifted.prefix(20).map { DriftedObject(object: "\($0.id)", drift: $0.drift ?? "", corrected: $0.action != .drifted) }
        if driftReport == nil {
            let first = drifted.prefix(3).map { "\($0.id) (\($0.drift ?? ""))" }.joined(separator: ", ")
            let what = corrected.count == drifted.count ? "corrected" : corrected.isEmpty ? "not corrected" : "\(corrected.count) corrected"
            logger.warning("drift detected", metadata: ["objects": "\(drifted.count)", "corrected": "\(corrected.count)", "first": "\(drifted[0].id)"])
            await env.events.record(await instanceObject(), type: .warning, reason: HealthReason.driftDetected,
                                    message: "\(drifted.count) object(s) differed from git (\(what)): \(first)\(drifted.count > 3 ? ", …" : "")")
        }
        driftReport = report
    }
}
