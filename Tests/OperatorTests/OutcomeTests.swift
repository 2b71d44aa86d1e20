import FlotillaAPI
import GitSource
import KubeModel
import Manifests
@testable import Operator
@testable import Sync
import Testing

/// Typed outcomes: each failure has a condition reason (a FlotillaAPI constant) and a class that
/// decides Stalled and the retry; no string is compared to decide either.
@Suite("Outcomes")
struct OutcomeTests {
    @Test("git failures: credentials and host keys stall; the rest is transient")
    func git() {
        #expect(Outcome.git(GitError(.authenticationFailed, "denied")) == .failure(ConditionReason.authenticationFailed, "denied", .stalled))
        #expect(Outcome.git(GitError(.hostKeyUnknown, "unknown")) == .failure(ConditionReason.hostKeyUnknown, "unknown", .stalled))
        #expect(Outcome.git(GitError(.hostKeyMismatch, "changed")) == .failure(ConditionReason.hostKeyMismatch, "changed", .stalled))
        let down = Outcome.git(GitError(.unreachable, "unreachable"))
        #expect(down.reason == ConditionReason.gitFetchFailed && down.failure == .transient && !down.stalled)
    }

    @Test("sync failures: what is in git stalls; a git read, discovery or inventory write is transient")
    func syncFailures() {
        let cases: [(SyncFailure, String, FailureClass)] = [
            (.render(RenderError(.parse, "a.yaml:3: bad")), ConditionReason.parseFailed, .stalled),
            (.render(RenderError(.path, "no such path")), ConditionReason.parseFailed, .stalled),
            (.render(RenderError(.generation, "exit 1")), ConditionReason.generationFailed, .stalled),
            (.render(RenderError(.source, "blob missing")), ConditionReason.gitFetchFailed, .transient),
            (.sync(.plan(SyncPlanError(reason: .forbidden, problems: ["x"]))), ConditionReason.forbidden, .stalled),
            (.sync(.plan(SyncPlanError(reason: .duplicate, problems: ["x"]))), ConditionReason.parseFailed, .stalled),
            (.sync(.plan(SyncPlanError(reason: .discovery, problems: ["x"]))), ConditionReason.applyFailed, .transient),
            (.sync(.inventory("write failed")), ConditionReason.applyFailed, .transient),
        ]
        for (failure, reason, failureClass) in cases {
            let outcome = Outcome.sync(failure)
            #expect(outcome.reason == reason && outcome.failure == failureClass && !outcome.ready, "\(failure)")
            #expect(outcome.stalled == (failureClass != .transient))
        }
    }

    @Test("a sync that ran: a conflict is its own action and reason, then failures, then held deletions")
    func results() {
        let a = ResourceID(group: "", kind: "ConfigMap", namespace: "apps", name: "a")
        let b = ResourceID(group: "", kind: "ConfigMap", namespace: "apps", name: "b")
        func result(_ changes: [Change], held: [ResourceID] = []) -> SyncResult {
            SyncResult(revision: "abc1234def", changes: changes, pendingDeletions: held, pruneHeldReason: held.isEmpty ? nil : "too many")
        }
        #expect(Outcome.result(result([Change(id: a, action: .created)])) == .synced("abc1234def"))
        let conflict = Outcome.result(result([Change(id: a, action: .conflict, reason: "x.yaml:1: also declared by team/other"), Change(id: b, action: .failed, reason: "refused")]))
        #expect(conflict.reason == ConditionReason.conflict && conflict.failure == .transient)
        #expect(conflict.message.hasPrefix("2 object(s) not applied; apps:configmap/a: x.yaml:1"))
        #expect(Outcome.result(result([Change(id: b, action: .failed, reason: "refused")])).reason == ConditionReason.applyFailed)
        let held = Outcome.result(result([], held: [a]))
        #expect(held.reason == ConditionReason.pruneHeld && held.message.contains("flotilla.dev/approve-prune=abc1234def"))
    }

    @Test("conditions: Stalled only for stalled and terminal failures, Reconciling only while syncing; transitions keep their time")
    func conditions() {
        let stalled = StatusBuilder.conditions(.failure(ConditionReason.forbidden, "no", .stalled), reconciling: false, generation: 2, previous: [], now: "t1")
        #expect(stalled.map(\.type) == ["Ready", "Stalled"])
        let terminal = StatusBuilder.conditions(.failure(ConditionReason.invalidSpec, "bad", .terminal), reconciling: false, generation: 2, previous: [], now: "t1")
        #expect(terminal.map(\.type) == ["Ready", "Stalled"])
        let transient = StatusBuilder.conditions(.failure(ConditionReason.gitFetchFailed, "down", .transient), reconciling: false, generation: 2, previous: stalled, now: "t2")
        #expect(transient.map(\.type) == ["Ready"])
        #expect(transient[0].lastTransitionTime == "t1", "Ready stayed False")
        let syncing = StatusBuilder.conditions(.reconciling("abc1234"), reconciling: true, generation: 2, previous: transient, now: "t3")
        #expect(syncing.map(\.type) == ["Ready", "Reconciling"])
        #expect(syncing[0].status == "Unknown" && syncing[0].reason == ConditionReason.progressing && syncing[0].lastTransitionTime == "t3")
        #expect(syncing[1].status == "True" && syncing[1].message == "Applying revision abc1234")
        let ready = StatusBuilder.conditions(.synced("abc"), reconciling: false, generation: 2, previous: syncing, now: "t4")
        #expect(ready.map(\.type) == ["Ready"] && ready[0].status == "True" && ready[0].lastTransitionTime == "t4")
    }
}
