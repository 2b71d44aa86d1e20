import FlotillaAPI
import KubeClient
import KubeModel
@testable import Operator
import Sync
import Testing

@Suite("Supervisor events")
struct SupervisorEventTests {
    @Test("a modification of the status alone is not handled; spec (generation), annotations, finalizers and deletion are")
    func statusOnlyEventsSkipped() async throws {
        try await withOperator(namespaces: ["team-a"]) { f in
            let ref = InstanceRef(namespace: "team-a", name: "x")
            let base: JSONValue = ["metadata": ["name": "x", "namespace": "team-a", "uid": "u1", "generation": 1, "resourceVersion": "10",
                                                "finalizers": [.string(Flotilla.finalizer)]],
                                   "spec": ["git": ["url": "file:///x"]], "status": ["lastSyncTime": "2026-12-06T10:00:00Z"]]
            #expect(f.supervisor.inputsMoved(ref, .added(base)))
            var statusOnly = base
            statusOnly["status"]?["lastSyncTime"] = "2026-12-06T10:05:00Z"
            statusOnly["metadata"]?["resourceVersion"] = "11"
            statusOnly["metadata"]?["managedFields"] = [["manager": "flotilla-status"]]
            #expect(!f.supervisor.inputsMoved(ref, .modified(statusOnly)))
            var respec = statusOnly
            respec["metadata"]?["generation"] = 2
            #expect(f.supervisor.inputsMoved(ref, .modified(respec)))
            #expect(!f.supervisor.inputsMoved(ref, .modified(respec)), "the same inputs again")
            var requested = respec
            requested["metadata"]?["annotations"] = [.init(stringLiteral: Flotilla.reconcileRequestedAt): "now"]
            #expect(f.supervisor.inputsMoved(ref, .modified(requested)))
            var deleting = requested
            deleting["metadata"]?["deletionTimestamp"] = "2026-12-06T10:06:00Z"
            #expect(f.supervisor.inputsMoved(ref, .modified(deleting)))
            #expect(f.supervisor.inputsMoved(ref, .deleted(deleting)))
            #expect(f.supervisor.inputsMoved(ref, .modified(deleting)), "after a delete, nothing is known: handled")
        }
    }
}
