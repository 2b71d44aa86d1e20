import FlotillaAPI
import Foundation
import GitSource

/// A pass with no sync due: automation when its time has come, health checks of what is not
/// healthy yet, the status (the last outcome stands, unless it was the health gate's).
extension InstanceReconciler {
    func idle(mirror: GitMirror, head: String, branch: String) async throws -> Duration {
        failures = 0
        if await automateIfDue(mirror: mirror, head: head, branch: branch) {
            wakePending = true  // sync the automation's commit at once
        }
        await checkHealthIfDue()
        let behind = try await behind(mirror: mirror, head: head)
        // The outcome last written stands until the next sync, unless it is the health
        // gate's (waiting, or not healthy): that is decided again from the sync's own.
        let written = lastWrittenStatus.flatMap(Self.outcome(of:))
        let gatedBefore = written.map { [ConditionReason.progressing, ConditionReason.healthCheckFailed].contains($0.reason) } ?? false
        let shown = gated((gatedBefore ? lastSyncOutcome : nil) ?? written ?? .synced(head))
        if settings.wait && !shown.reconciling, let applied = lastApplied { await reportCommitStatus(head: applied, outcome: shown.outcome) }
        await writeStatus(shown.outcome, head: head, behind: behind, reconciling: shown.reconciling)
        return nextDelay()
    }
}
