import Foundation
import KubeModel
import Sync

/// What an instance knows of the health of its applied revision, and when to look again (pure,
/// tested in HealthWatchTests). A sync starts it from what the apply saw; checks replace the
/// health of the objects that were not current; `healthTimeout` after the revision was first
/// applied, objects still in progress make it degraded, and checking stops.
struct HealthWatch: Sendable, Equatable {
    var revision: String
    /// When this revision was first applied (the timeout counts from here, across resyncs).
    var since: Date
    var timeout: Duration
    var unhealthy: [ResourceID: ObjectHealth]
    var total: Int
    var checks = 0
    var checkedAt: Date

    /// After a sync of `revision`. The clock keeps running while the same revision is still
    /// getting healthy, and `since` stays while it stays healthy; a revision that was healthy (or already judged) starts a new one when
    /// something of it stops being healthy (a restart, a drift put back, a scale-up).
    init(after result: SyncResult, previous: HealthWatch?, timeout: Duration, now: Date) {
        revision = result.revision
        // The same revision still getting healthy, or still healthy (a resync that found nothing
        // wrong), keeps its time.
        let before = previous.flatMap { $0.revision == result.revision ? $0.summary(now: $0.checkedAt).state : nil }
        let keeps = before == .progressing || (before == .healthy && result.unhealthy.isEmpty)
        since = keeps ? previous!.since : now
        self.timeout = timeout
        unhealthy = result.unhealthy
        total = result.assessed
        checkedAt = now
    }

    var deadline: Date { since.addingTimeInterval(timeout.seconds) }

    func summary(now: Date) -> HealthSummary {
        HealthSummary(unhealthy: unhealthy, total: total, timedOut: now >= deadline)
    }

    /// When to look again: 1 s after the sync, doubling to 10 s, and at the deadline at the
    /// latest (so a timeout is seen, reported and written when it happens); once degraded, every
    /// minute (a rollout that finishes late, a fixed Job, shows without a resync); nil once
    /// healthy.
    var nextCheck: Date? {
        switch summary(now: checkedAt).state {
        case .healthy: return nil
        case .degraded: return checkedAt.addingTimeInterval(60)
        case .progressing: break
        }
        let interval = min(Double(1 << min(checks, 4)), 10)
        return min(checkedAt.addingTimeInterval(interval), deadline)
    }

    /// The watch after a check that found `found` for the objects that were not current.
    func checked(_ found: [ResourceID: ObjectHealth], now: Date) -> HealthWatch {
        var next = self
        next.unhealthy = found.filter { $0.value.status != .current }
        next.checks += 1
        next.checkedAt = now
        return next
    }
}
