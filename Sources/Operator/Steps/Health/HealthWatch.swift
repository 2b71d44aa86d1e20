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

    /// After a sync of `revision` (keeping `since` when the previous watch was of the same one).
    init(after result: SyncResult, previous: HealthWatch?, timeout: Duration, now: Date) {
        revision = result.revision
        since = previous?.revision == result.revision ? previous!.since : now
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
    /// latest (so a timeout is seen, reported and written when it happens); nil once the last
    /// look found it settled.
    var nextCheck: Date? {
        guard !summary(now: checkedAt).settled else { return nil }
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
