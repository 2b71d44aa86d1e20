import Foundation
import KubeClient
import KubeEmulator
import KubeModel
import KubeRuntime
import KubeTesting
import Logging
import ServiceLifecycle
import Synchronization
import Testing

final class Log: Sendable {
    let items = Mutex<[String]>([])
}

@Suite("Leader election and events")
struct LeaderElectionTests {
    func elector(_ client: KubeClient, _ identity: String, leading: Log) -> LeaderElector {
        var c = LeaderElector.Configuration(namespace: "default", name: "flotilla-leader", identity: identity)
        c.leaseDuration = .seconds(2)
        c.renewDeadline = .milliseconds(1500)
        c.retryPeriod = .milliseconds(200)
        return LeaderElector(client: client, configuration: c) {
            leading.items.withLock { $0.append(identity) }
            // The work: until graceful shutdown, or cancelled when the lease is lost.
            try? await gracefulShutdown()
        }
    }

    @Test("two candidates: exactly one leads; failover after the lease expires; release on shutdown hands over at once")
    func election() async throws {
        try await withTestCluster { cluster in
            let admin = try cluster.client()
            defer { Task { try await admin.shutdown() } }
            // Candidate A acts as alice, whose right to update leases the test can take away.
            let role: JSONValue = ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": ["name": "leases", "namespace": "default"],
                                   "rules": [["apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update"]]]]
            _ = try await admin.create(.roles, role)
            let binding: JSONValue = ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": ["name": "alice-leases", "namespace": "default"],
                                      "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "leases"],
                                      "subjects": [["kind": "User", "name": "alice"]]]
            _ = try await admin.create(.roleBindings, binding)
            let alice = try cluster.client(user: "alice") { $0.maxRetries = 0 }
            defer { Task { try await alice.shutdown() } }
            let leading = Log()
            let a = elector(alice, "a", leading: leading)
            let b = elector(admin, "b", leading: leading)
            let runA = Task { try await a.run() }
            // A leads before B starts (waited for: a loaded machine may take a while).
            #expect(try await eventually(timeout: .seconds(10)) { a.isLeader })
            // B runs in a service group, as `flotilla run` does: its shutdown is graceful.
            let groupB = ServiceGroup(configuration: .init(services: [b], logger: Logger(label: "test")))
            let runB = Task { try await groupB.run() }
            defer { runA.cancel(); runB.cancel() }
            // Exactly one leader, sampled for two seconds.
            var samples = 0
            for _ in 0..<40 {
                let count = [a.isLeader, b.isLeader].filter { $0 }.count
                #expect(count <= 1)
                if count == 1 { samples += 1 }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(samples >= 35)
            #expect(a.isLeader, "a started first")
            // a can no longer renew: it steps down after the renew deadline; b takes over after expiry.
            try await admin.delete(.roleBindings, name: "alice-leases", namespace: "default")
            let clock = ContinuousClock()
            let start = clock.now
            var overlap = false
            while !b.isLeader && clock.now - start < .seconds(10) {
                if a.isLeader && b.isLeader { overlap = true }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(b.isLeader)
            #expect(!a.isLeader, "a stepped down")
            #expect(!overlap)
            #expect(clock.now - start >= .seconds(1), "b waited for the lease to expire")
            // b shuts down gracefully and releases: a (its rights restored) takes over well before expiry.
            _ = try await admin.create(.roleBindings, binding)
            let released = clock.now
            await groupB.triggerGracefulShutdown()
            _ = try? await runB.value
            let lease = try await admin.get(Lease.self, name: "flotilla-leader", namespace: "default")
            #expect(lease.spec?.holderIdentity == "" || lease.spec?.holderIdentity == "a", "released on shutdown")
            while !a.isLeader && clock.now - released < .seconds(10) { try await Task.sleep(for: .milliseconds(50)) }
            #expect(a.isLeader)
            #expect(clock.now - released < .seconds(2), "no wait for expiry after a release")
            #expect(leading.items.withLock { $0 } == ["a", "b", "a"])
        }
    }

    @Test("repeated events are aggregated into one Event with a count")
    func events() async throws {
        try await withEventSubject { client, cm in
            let recorder = EventRecorder(client: client, component: "flotilla")
            for _ in 0..<3 { await recorder.record(cm, type: .warning, reason: "SyncFailed", message: "boom") }
            await recorder.record(cm, type: .normal, reason: "Synced", message: "ok")
            let events = try await client.list(.events, namespace: "default", fieldSelector: "involvedObject.name=subject").items
            #expect(events.count == 2)
            let failed = events.first { $0["reason"] == "SyncFailed" }
            #expect(failed?["count"] == 3)
            #expect(failed?["type"] == "Warning")
            #expect(failed?["involvedObject"]?["uid"] == cm["metadata"]?["uid"])
            #expect(failed?["source"]?["component"] == "flotilla")
        }
    }

    @Test("the recorder forgets events older than its window, so distinct messages do not pile up")
    func eventMemoryIsBounded() async throws {
        try await withEventSubject { client, cm in
            let skew = Mutex(Duration.zero)
            let recorder = EventRecorder(client: client, component: "flotilla", window: .seconds(600),
                                         now: { ContinuousClock.now + skew.withLock { $0 } })
            for revision in 0..<5 { await recorder.record(cm, type: .normal, reason: "Synced", message: "synced revision \(revision)") }
            #expect(recorder.remembered == 5)
            skew.withLock { $0 = .seconds(1300) }  // past two windows: the next record sweeps
            await recorder.record(cm, type: .normal, reason: "Synced", message: "synced revision 5")
            await recorder.record(cm, type: .normal, reason: "Synced", message: "synced revision 5")
            #expect(recorder.remembered == 1, "the five expired events were swept")
            let events = try await client.list(.events, namespace: "default", fieldSelector: "involvedObject.name=subject").items
            #expect(events.first { $0["message"] == "synced revision 5" }?["count"] == 2, "aggregation still works after a sweep")
        }
    }

    /// A cluster, a client and the ConfigMap `default/subject` that events are recorded about.
    func withEventSubject(_ body: (KubeClient, JSONValue) async throws -> Void) async throws {
        try await withTestCluster { cluster in
            let client = try cluster.client()
            defer { Task { try await client.shutdown() } }
            let cm = try await client.create(.configMaps, ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "subject", "namespace": "default"]])
            try await body(client, cm)
        }
    }
}
