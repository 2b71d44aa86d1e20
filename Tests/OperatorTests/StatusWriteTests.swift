import FlotillaAPI
import Foundation
import GitTesting
import KubeClient
import KubeEmulator
import KubeModel
import KubeTesting
@testable import Operator
import Sync
import Testing

@Suite("Status writes")
struct StatusWriteTests {
    static func status(synced: String, checked: String? = nil, applied: String = "abc") -> FluxInstanceStatus {
        var s = FluxInstanceStatus()
        s.lastAppliedRevision = applied
        s.lastSyncTime = synced
        if let checked {
            var health = HealthReport(state: "Healthy")
            health.lastCheckTime = checked
            s.health = health
        }
        return s
    }

    @Test("a status whose only change is its times is written once the written sync time is ten minutes old; any other change at once")
    func onlyTimesMoved() throws {
        let written = Self.status(synced: "2026-12-06T10:00:00Z", checked: "2026-12-06T10:00:00Z")
        let at = { (text: String) in try #require(KubeTime.date(text)) }
        let resync = Self.status(synced: "2026-12-06T10:00:05Z", checked: "2026-12-06T10:00:05Z")
        #expect(!StatusBuilder.worthWriting(resync, previous: written, now: try at("2026-12-06T10:00:05Z")))
        #expect(!StatusBuilder.worthWriting(resync, previous: written, now: try at("2026-12-06T10:09:59Z")))
        #expect(StatusBuilder.worthWriting(resync, previous: written, now: try at("2026-12-06T10:10:00Z")))
        #expect(!StatusBuilder.worthWriting(written, previous: written, now: try at("2026-12-06T11:00:00Z")), "nothing changed: never")
        let newRevision = Self.status(synced: "2026-12-06T10:00:05Z", checked: "2026-12-06T10:00:05Z", applied: "def")
        #expect(StatusBuilder.worthWriting(newRevision, previous: written, now: try at("2026-12-06T10:00:05Z")))
        var requested = resync
        requested.lastHandledReconcileAt = "token-1"
        #expect(StatusBuilder.worthWriting(requested, previous: written, now: try at("2026-12-06T10:00:05Z")), "a handled request is shown at once")
        #expect(StatusBuilder.worthWriting(resync, previous: nil, now: try at("2026-12-06T10:00:05Z")), "the first status")
    }

    @Test("resyncs of an unchanged repository every second write no status; a reconcile request is written with its token and a fresh sync time")
    func resyncsDoNotWrite() async throws {
        let up = try UpstreamRepo(files: ["a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n"])
        try await withOperator(namespaces: ["team-a"]) { f in
            try await f.apply("apps", namespace: "team-a", spec: ["git": gitSpec(up.url), "sync": ["interval": "1s"]])
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: try up.head())
            let reconciler = try #require(f.supervisor.reconciler(InstanceRef(namespace: "team-a", name: "apps")))
            // Settled: the first sync's statuses (reconciling, synced, healthy) are written.
            #expect(try await eventually(timeout: .seconds(20)) { await reconciler.syncsCompleted >= 3 })
            let syncs = await reconciler.syncsCompleted
            #expect(f.cluster.api.requestCount(verb: "patch", resource: "fluxinstances") > 0, "status writes are counted so")
            f.cluster.api.resetRequestCounts()
            try await Task.sleep(for: .seconds(5))
            #expect(await reconciler.syncsCompleted >= syncs + 3, "it did resync")
            #expect(f.cluster.api.requestCount(verb: "patch", resource: "fluxinstances") == 0, "\(f.cluster.api.requestCounts())")

            let before = try #require(try await f.instance("apps", namespace: "team-a")?.status?.lastSyncTime.flatMap(KubeTime.date))
            _ = try await f.client.patch(FluxInstance.resourceType, name: "apps", namespace: "team-a",
                                         ["metadata": ["annotations": [.init(stringLiteral: Flotilla.reconcileRequestedAt): "token-1"]]])
            #expect(try await eventually(timeout: .seconds(10)) {
                try await f.instance("apps", namespace: "team-a")?.status?.lastHandledReconcileAt == "token-1"
            })
            let after = try #require(try await f.instance("apps", namespace: "team-a")?.status?.lastSyncTime.flatMap(KubeTime.date))
            #expect(after > before)
        }
    }
}
