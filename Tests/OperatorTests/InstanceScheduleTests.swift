import Foundation
@testable import Operator
import Testing

/// What is due when, from the facts alone: no reconciler, no cluster, a fixed clock.
@Suite("Instance schedule")
struct InstanceScheduleTests {
    let t0 = Date(timeIntervalSince1970: 1_000_000)
    var quiet: InstanceSchedule.Triggers { .init(newHead: false, requested: false, settingsChanged: false, claimsMoved: false) }

    func schedule(lastSync: TimeInterval? = nil, lastAutomation: TimeInterval? = nil, automation: Duration? = nil, failures: Int = 0) -> InstanceSchedule {
        InstanceSchedule(pollInterval: .seconds(60), syncInterval: .seconds(300), automationInterval: automation,
                         lastSync: lastSync.map { t0.addingTimeInterval($0) }, lastAutomation: lastAutomation.map { t0.addingTimeInterval($0) }, failures: failures)
    }

    @Test("a sync is due on a new head, a request, new settings or moved claims; otherwise once the interval has passed")
    func syncDue() {
        let s = schedule(lastSync: 0)
        #expect(!s.syncDue(quiet, now: t0.addingTimeInterval(299)))
        #expect(s.syncDue(quiet, now: t0.addingTimeInterval(300)), "the sync interval passed")
        for trigger in [\InstanceSchedule.Triggers.newHead, \.requested, \.settingsChanged, \.claimsMoved] {
            var t = quiet
            t[keyPath: trigger] = true
            #expect(s.syncDue(t, now: t0.addingTimeInterval(1)))
        }
        #expect(schedule().syncDue(quiet, now: t0), "never synced: due")
    }

    @Test("a pass woken for a health check skips the poll only when nothing wants the remote now")
    func healthCheckOnly() {
        let s = schedule(lastSync: 0)
        let now = t0.addingTimeInterval(30)
        let due = now.addingTimeInterval(0.3), polled = t0.addingTimeInterval(10)
        #expect(s.healthCheckOnly(check: due, lastPoll: polled, remoteWanted: false, now: now), "a check due (a hair early counts), the poll not")
        #expect(!s.healthCheckOnly(check: due, lastPoll: polled, remoteWanted: true, now: now),
                "a request, a push webhook or a commit of the instance's own polls even when a check is due")
        #expect(!s.healthCheckOnly(check: now.addingTimeInterval(2), lastPoll: polled, remoteWanted: false, now: now), "no check due: an ordinary pass")
        #expect(!s.healthCheckOnly(check: nil, lastPoll: polled, remoteWanted: false, now: now), "nothing to check")
        #expect(!s.healthCheckOnly(check: due, lastPoll: nil, remoteWanted: false, now: now), "never polled")
        #expect(!s.healthCheckOnly(check: due, lastPoll: t0.addingTimeInterval(-31), remoteWanted: false, now: now), "the poll is due too")
        #expect(!schedule(lastSync: -280).healthCheckOnly(check: due, lastPoll: polled, remoteWanted: false, now: now), "the resync is due")
        #expect(!schedule(lastSync: 0, automation: .seconds(100)).healthCheckOnly(check: due, lastPoll: polled, remoteWanted: false, now: now),
                "automation is due")
    }

    @Test("automation: off without an interval, due the first time, then once per interval")
    func automationDue() {
        #expect(!schedule().automationDue(now: t0))
        #expect(schedule(automation: .seconds(120)).automationDue(now: t0))
        let s = schedule(lastAutomation: 0, automation: .seconds(120))
        #expect(!s.automationDue(now: t0.addingTimeInterval(119)))
        #expect(s.automationDue(now: t0.addingTimeInterval(120)))
    }

    @Test("a pause for the next poll may end up to a sixtieth early, a second at most; one for a resync, automation or a retry ends on time")
    func pauseSlack() {
        #expect(schedule(lastSync: 0).pauseSlack(.seconds(60), now: t0) == .seconds(1), "a poll a minute: a second")
        #expect(schedule(lastSync: 0).pauseSlack(.seconds(54), now: t0) == .milliseconds(900), "jittered: a sixtieth")
        let slow = InstanceSchedule(pollInterval: .seconds(600), syncInterval: .seconds(3600), automationInterval: nil, lastSync: t0, lastAutomation: nil, failures: 0)
        #expect(slow.pauseSlack(.seconds(600), now: t0) == .seconds(1), "never more than a second")
        #expect(schedule(lastSync: 0).pauseSlack(.seconds(30), now: t0.addingTimeInterval(270)) == .zero, "the resync comes first")
        #expect(schedule(lastSync: 0).pauseSlack(.seconds(60), now: t0.addingTimeInterval(239.5)) == .zero, "the resync is within the slack")
        #expect(schedule(lastSync: 0).pauseSlack(.seconds(60), now: t0.addingTimeInterval(238)) == .seconds(1))
        #expect(schedule(lastSync: 0, lastAutomation: 0, automation: .seconds(100)).pauseSlack(.seconds(10), now: t0.addingTimeInterval(90)) == .zero, "automation comes first")
        #expect(schedule(lastSync: 0, lastAutomation: 0, automation: .seconds(120)).pauseSlack(.seconds(60), now: t0.addingTimeInterval(60)) == .zero, "automation at the poll's time")
        #expect(schedule(lastSync: 0, failures: 1).pauseSlack(.seconds(2), now: t0) == .zero, "a retry")
    }

    @Test("the next pass: the poll interval, sooner for a resync or automation, never under 50 ms")
    func nextDelay() {
        #expect(schedule().nextDelay(now: t0) == .seconds(60), "no sync yet, no automation: poll")
        #expect(schedule(lastSync: 0).nextDelay(now: t0.addingTimeInterval(270)) == .seconds(30), "the resync comes first")
        #expect(schedule(lastSync: 0).nextDelay(now: t0.addingTimeInterval(400)) == .milliseconds(50), "overdue: at once")
        #expect(schedule(lastSync: 0, lastAutomation: 0, automation: .seconds(100)).nextDelay(now: t0.addingTimeInterval(90)) == .seconds(10))
        #expect(schedule(automation: .seconds(100)).nextDelay(now: t0) == .milliseconds(50), "automation never ran: at once")
    }

    @Test("jitter takes up to a tenth off the poll interval, never more, and never moves a resync")
    func jitter() {
        #expect(schedule().nextDelay(now: t0, jitter: 0.5) == .seconds(57))
        #expect(schedule().nextDelay(now: t0, jitter: 0.999_999) > .seconds(54))
        #expect(schedule().nextDelay(now: t0, jitter: 7) == .seconds(54), "out of range: clamped")
        #expect(schedule(lastSync: 0).nextDelay(now: t0.addingTimeInterval(270), jitter: 0.9) == .seconds(30), "the resync's time is kept")
    }

    @Test("backoff: 2 s doubling per failure in a row, up to the poll interval")
    func backoff() {
        #expect((1...7).map { schedule(failures: $0).backoff } == [.seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(32), .seconds(60), .seconds(60)])
        var fast = schedule(failures: 3)
        fast.pollInterval = .seconds(1)
        #expect(fast.backoff == .seconds(1))
        fast.pollInterval = .milliseconds(100)
        #expect(fast.backoff == .milliseconds(500), "never under half a second")
    }

    @Test("a poll may reuse a shared answer up to a tenth of the poll interval (10 s at most); a request, new settings or a retry ask the remote")
    func pollMaxAge() {
        #expect(schedule().pollMaxAge(requested: false, settingsChanged: false) == .seconds(6))
        var slow = schedule()
        slow.pollInterval = .seconds(300)
        #expect(slow.pollMaxAge(requested: false, settingsChanged: false) == .seconds(10))
        #expect(schedule().pollMaxAge(requested: true, settingsChanged: false) == .zero)
        #expect(schedule().pollMaxAge(requested: false, settingsChanged: true) == .zero)
        #expect(schedule(failures: 1).pollMaxAge(requested: false, settingsChanged: false) == .zero)
    }
}
