@testable import Operator
import Foundation
import KubeModel
import Sync
import Testing

@Suite("Health watch (pure)")
struct HealthWatchTests {
    let web = ResourceID(group: "apps", kind: "Deployment", namespace: "a", name: "web")
    let t0 = Date(timeIntervalSince1970: 1_000_000)

    func result(_ revision: String, unhealthy: [ResourceID: ObjectHealth]) -> SyncResult {
        SyncResult(revision: revision, changes: [], pendingDeletions: [], pruneHeldReason: nil, unhealthy: unhealthy, assessed: 3)
    }

    @Test("checks back off from 1 s to 10 s, the last one at the deadline; a timeout degrades and is checked every minute; healthy means no more checks")
    func schedule() {
        let progressing = ObjectHealth(.inProgress, reason: "Progressing", message: "updated replicas: 1/2")
        var watch = HealthWatch(after: result("r1", unhealthy: [web: progressing]), previous: nil, timeout: .seconds(30), now: t0)
        #expect(watch.summary(now: t0).state == .progressing)
        var checks: [Double] = []
        while let next = watch.nextCheck, next <= watch.deadline {
            checks.append(next.timeIntervalSince(t0))
            watch = watch.checked([web: progressing], now: next)
        }
        #expect(checks == [1, 3, 7, 15, 25, 30], "1, 2, 4, 8, 10 s apart, then the deadline")
        #expect(watch.summary(now: watch.checkedAt).state == .degraded)
        #expect(watch.nextCheck == t0.addingTimeInterval(90), "degraded: looked at again a minute later")
        let healthy = HealthWatch(after: result("r1", unhealthy: [:]), previous: nil, timeout: .seconds(30), now: t0)
        #expect(healthy.nextCheck == nil)
        #expect(healthy.summary(now: t0) == HealthSummary(unhealthy: [:], total: 3))
        let current = watch.checked([web: .current], now: t0.addingTimeInterval(31))
        #expect(current.summary(now: current.checkedAt).state == .healthy, "an object that became current leaves the list")
    }

    @Test("a resync of the same revision keeps when it was first applied; a new revision starts the clock again; a failure is degraded at once")
    func clock() {
        let progressing = ObjectHealth(.inProgress, reason: "Progressing")
        let first = HealthWatch(after: result("r1", unhealthy: [web: progressing]), previous: nil, timeout: .seconds(30), now: t0)
        let resync = HealthWatch(after: result("r1", unhealthy: [web: progressing]), previous: first, timeout: .seconds(30), now: t0.addingTimeInterval(40))
        #expect(resync.since == t0)
        #expect(resync.summary(now: resync.checkedAt).state == .degraded, "still rolling out 40 s after the revision was applied")
        let next = HealthWatch(after: result("r2", unhealthy: [web: progressing]), previous: resync, timeout: .seconds(30), now: t0.addingTimeInterval(50))
        #expect(next.since == t0.addingTimeInterval(50))
        let failed = HealthWatch(after: result("r3", unhealthy: [web: ObjectHealth(.failed, reason: "ProgressDeadlineExceeded")]), previous: nil, timeout: .seconds(30), now: t0)
        #expect(failed.summary(now: t0).state == .degraded)
        #expect(failed.nextCheck == t0.addingTimeInterval(60))
        // Healthy, then a later resync of the same revision finds it rolling again (a restart):
        // a new clock, not the old one long past.
        let healthy = HealthWatch(after: result("r4", unhealthy: [:]), previous: nil, timeout: .seconds(30), now: t0)
        let restarted = HealthWatch(after: result("r4", unhealthy: [web: progressing]), previous: healthy, timeout: .seconds(30), now: t0.addingTimeInterval(3600))
        #expect(restarted.since == t0.addingTimeInterval(3600))
        #expect(restarted.summary(now: restarted.checkedAt).state == .progressing)
        // Healthy, and a resync finds it healthy still: healthy since the first time (so the
        // status does not change with every resync).
        let still = HealthWatch(after: result("r4", unhealthy: [:]), previous: healthy, timeout: .seconds(30), now: t0.addingTimeInterval(60))
        #expect(still.since == t0 && still.checkedAt == t0.addingTimeInterval(60))
    }
}
