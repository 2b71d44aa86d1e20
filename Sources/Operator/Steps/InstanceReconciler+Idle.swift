import FlotillaAPI
import Foundation
import GitSource

/// A pass with no sync due: automation when its time has come, health checks of what is not
/// healthy yet, the status (the last outcome stands, unless it was the health gate's).
extension InstanceReconciler {
    func idle(mirror: GitMirror, head: String, branch: String) async throws -> Duration {
        failures = 0
        if await automateIfDue(mirror: mirror, head: head, branch: branch) {
            pushed = true  // sync the automation's commit at once
            wakePending = true
        }
        await checkHealthIfDue()
        await writeIdleStatus(head: head, behind: try await behind(mirror: mirror, head: head))
        return nextDelay()
    }

    /// The status of a pass that synced nothing.
    func writeIdleStatus(head: String?, behind: Int?) async {
        // The outcome last written stands until the next sync, unless it is the health
        // gate's (waiting, or not healthy): that is decided again from the sync's own.
        let written = lastWrittenStatus.flatMap(Self.outcome(of:))
        let gatedBefore = written.map { [ConditionReason.progressing, ConditionReason.healthCheckFailed].contains($0.reason) } ?? false
        let shown = gated((gatedBefore ? lastSyncOutcome : nil) ?? written ?? .synced(head ?? lastApplied ?? ""))
        // The health gate's answer settles the commit status it left pending.
        if settings.wait && gatedBefore && !shown.reconciling, let applied = lastApplied { await reportCommitStatus(head: applied, outcome: shown.outcome) }
        await writeStatus(shown.outcome, head: head, behind: behind, reconciling: shown.reconciling)
    }
}
