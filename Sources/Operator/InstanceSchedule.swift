import Foundation
import Primitives

/// When an instance's passes are due and what each should do, decided from its intervals, what it
/// last did and the time: no I/O, tested on its own (InstanceScheduleTests). The reconciler keeps
/// the facts (`lastSync`, `lastAutomation`, `failures`); this turns them into decisions.
struct InstanceSchedule: Sendable, Equatable {
    var pollInterval: Duration
    var syncInterval: Duration
    /// nil: no image automation.
    var automationInterval: Duration?
    var lastSync: Date?
    var lastAutomation: Date?
    /// Failed passes in a row.
    var failures: Int

    /// What can make a sync due, besides the sync interval.
    struct Triggers: Sendable, Equatable {
        /// The branch head is not the applied revision.
        var newHead: Bool
        /// `flotilla.dev/reconcile-requested-at` has a new value.
        var requested: Bool
        /// The spec or annotations changed what the syncer does.
        var settingsChanged: Bool
        /// Another instance started or stopped declaring one of this one's objects.
        var claimsMoved: Bool
    }

    /// A sync is due on any trigger, or once `syncInterval` has passed since the last one (or
    /// when there was none).
    func syncDue(_ triggers: Triggers, now: Date) -> Bool {
        triggers.newHead || triggers.requested || triggers.settingsChanged || triggers.claimsMoved || intervalPassed(now: now)
    }

    func intervalPassed(now: Date) -> Bool {
        lastSync.map { now.timeIntervalSince($0) >= syncInterval.seconds } ?? true
    }

    /// How old a poll's answer may be: one another instance of the same remote and credentials
    /// got moments ago (a tenth of the poll interval, at most 10 s) serves an ordinary poll; a
    /// reconcile request, new settings or a retry after a failure ask the remote itself.
    func pollMaxAge(requested: Bool, settingsChanged: Bool) -> Duration {
        requested || settingsChanged || failures > 0 ? .zero : min(pollInterval / 10, .seconds(10))
    }

    /// A pass woken only to look at health again: a check is due, the last poll is younger than
    /// the poll interval, no resync or automation run is due, and nothing wants the remote now
    /// (`remoteWanted`: a reconcile request, a push webhook, a commit of the instance's own, new
    /// settings, pending requests, moved claims). Such a pass checks health and does not ask the
    /// remote; any other pass polls, so a push or a commit is never left for the next poll.
    func healthCheckOnly(check: Date?, lastPoll: Date?, remoteWanted: Bool, now: Date) -> Bool {
        guard !remoteWanted, let check, Self.healthCheckDue(check, now: now), let lastPoll,
              now.timeIntervalSince(lastPoll) < pollInterval.seconds else { return false }
        return !intervalPassed(now: now) && !automationDue(now: now)
    }

    /// A wake-up for a health check is due at the check's time, give or take the timer's rounding
    /// and the two clocks (a sleep on the monotonic clock, the check's time on the wall clock): a
    /// pass woken a hair early must not take itself for something else (and ask the git remote).
    static func healthCheckDue(_ at: Date, now: Date) -> Bool { at <= now.addingTimeInterval(0.5) }

    /// Automation runs once per `automationInterval` (and at once the first time).
    func automationDue(now: Date) -> Bool {
        guard let automationInterval else { return false }
        return lastAutomation.map { now.timeIntervalSince($0) >= automationInterval.seconds } ?? true
    }

    /// After a pass that succeeded: the poll interval, or sooner when the next resync or
    /// automation run comes first (never less than 50 ms). `jitter` (0 ..< 1) takes up to a tenth
    /// off the poll interval, so that instances that polled together (after a storm, after a
    /// start) drift apart instead of polling in one burst for ever; a poll is never later than
    /// its interval.
    func nextDelay(now: Date, jitter: Double = 0) -> Duration {
        var delay = pollInterval * (1 - 0.1 * min(max(jitter, 0), 1))
        if let lastSync {
            delay = min(delay, Self.atLeast50ms(syncInterval.seconds - now.timeIntervalSince(lastSync)))
        }
        if let automationInterval {
            let left = lastAutomation.map { automationInterval.seconds - now.timeIntervalSince($0) } ?? 0
            delay = min(delay, Self.atLeast50ms(left))
        }
        return delay
    }

    /// How much earlier than `delay` the pause may end, when the timer thread is awake for
    /// another deadline anyway (`DeadlineTimer`): the passes of many instances then start in one
    /// wake of the worker threads instead of one each. Only a pause for the next poll ends early
    /// (up to a sixtieth of it, a second at most), whose time is jittered anyway; one that ends at
    /// the resync, the automation run, a health check or a short retry ends on time, so that a
    /// pass never starts a moment before what it is for is due.
    func pauseSlack(_ delay: Duration, now: Date) -> Duration {
        let slack = min(delay / 60, .seconds(1))
        guard delay >= pollInterval * 0.9 else { return .zero }
        if let lastSync, syncInterval.seconds - now.timeIntervalSince(lastSync) <= (delay + slack).seconds { return .zero }
        if let automationInterval {
            let left = lastAutomation.map { automationInterval.seconds - now.timeIntervalSince($0) } ?? 0
            if left <= (delay + slack).seconds { return .zero }
        }
        return slack
    }

    /// After a failed pass: 2 s doubling per failure in a row, up to the poll interval (a
    /// failing instance retries soon, then calmly), never less than half a second.
    var backoff: Duration {
        Backoff(base: .seconds(2), max: min(pollInterval, .seconds(4_096)), min: .milliseconds(500)).delay(attempt: failures - 1)
    }

    static func atLeast50ms(_ seconds: Double) -> Duration {
        .milliseconds(Int64((max(0.05, seconds) * 1000).rounded(.up)))  // never early
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

extension InstanceReconciler {
    /// The schedule's view of this instance now (see `InstanceSchedule`).
    var schedule: InstanceSchedule {
        InstanceSchedule(pollInterval: settings.pollInterval, syncInterval: settings.syncInterval, automationInterval: settings.images?.interval,
                         lastSync: lastSync, lastAutomation: lastAutomation, failures: failures)
    }

    func nextDelay() -> Duration {
        let scheduled = schedule.nextDelay(now: Date(), jitter: Double.random(in: 0..<1))
        return healthDelay.map { min($0, scheduled) } ?? scheduled
    }

    func backoff() -> Duration { schedule.backoff }
}
