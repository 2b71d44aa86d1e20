import KubeModel
import Testing

@testable import Sync

@Suite("Health: kstatus rules over live objects")
struct HealthTests {
    func deployment(generation: Int64 = 2, replicas: Int64 = 3, status: JSONValue) -> JSONValue {
        ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web", "generation": .int(generation)],
         "spec": ["replicas": .int(replicas)], "status": status]
    }

    @Test("a Deployment is current only once its generation is observed and every replica is updated, available and ready")
    func deployments() {
        let rolledOut: JSONValue = ["observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
                                    "conditions": [["type": "Available", "status": "True"], ["type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"]]]
        #expect(ObjectHealth.of(deployment(status: rolledOut)).status == .current)
        var old = rolledOut
        old["observedGeneration"] = 1
        #expect(ObjectHealth.of(deployment(status: old)) == ObjectHealth(.inProgress, reason: "Progressing", message: "generation 2 not observed yet (observed 1)"))
        var rolling = rolledOut
        rolling["updatedReplicas"] = 1
        #expect(ObjectHealth.of(deployment(status: rolling)).message == "updated replicas: 1/3")
        var surplus = rolledOut
        surplus["replicas"] = 4
        surplus["availableReplicas"] = 4
        #expect(ObjectHealth.of(deployment(status: surplus)).message == "pending termination: 1")
        var unavailable = rolledOut
        unavailable["availableReplicas"] = 2
        #expect(ObjectHealth.of(deployment(status: unavailable)).message == "available replicas: 2/3")
        var stuck = rolling
        stuck["conditions"] = [["type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"web-x\" has timed out progressing."]]
        #expect(ObjectHealth.of(deployment(status: stuck)) == ObjectHealth(.failed, reason: "ProgressDeadlineExceeded", message: "ReplicaSet \"web-x\" has timed out progressing."))
        #expect(ObjectHealth.of(deployment(status: .emptyObject)).status == .inProgress, "never observed")
        var scaledToZero = deployment(replicas: 0, status: ["observedGeneration": 2])
        #expect(ObjectHealth.of(scaledToZero).status == .current)
        scaledToZero["metadata"]?["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        #expect(ObjectHealth.of(scaledToZero).reason == "Terminating")
    }

    @Test("Jobs, claims, CRDs, StatefulSets, DaemonSets and Pods")
    func otherKinds() {
        func job(_ conditions: JSONValue) -> JSONValue { ["apiVersion": "batch/v1", "kind": "Job", "metadata": ["name": "j"], "status": ["conditions": conditions]] }
        #expect(ObjectHealth.of(job([["type": "Complete", "status": "True"]])).status == .current)
        #expect(ObjectHealth.of(job([["type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"]])) .reason == "BackoffLimitExceeded")
        #expect(ObjectHealth.of(job([["type": "Failed", "status": "True"]])).status == .failed)
        #expect(ObjectHealth.of(job([])).status == .inProgress)
        func claim(_ phase: String) -> JSONValue { ["apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": ["name": "c"], "status": ["phase": .string(phase)]] }
        #expect(ObjectHealth.of(claim("Bound")).status == .current)
        #expect(ObjectHealth.of(claim("Pending")) == ObjectHealth(.inProgress, reason: "NotBound", message: "phase Pending"))
        #expect(ObjectHealth.of(claim("Lost")).status == .failed)
        func crd(_ conditions: JSONValue) -> JSONValue { ["apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": ["name": "x"], "status": ["conditions": conditions]] }
        #expect(ObjectHealth.of(crd([["type": "Established", "status": "True"]])).status == .current)
        #expect(ObjectHealth.of(crd([["type": "NamesAccepted", "status": "False", "reason": "MultipleNamesNotAllowed"]])).status == .failed)
        #expect(ObjectHealth.of(crd([])).status == .inProgress)
        let set: JSONValue = ["apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": ["name": "db", "generation": 1], "spec": ["replicas": 2],
                              "status": ["observedGeneration": 1, "replicas": 2, "readyReplicas": 2, "currentRevision": "db-1", "updateRevision": "db-2"]]
        #expect(ObjectHealth.of(set).message == "rolling out revision db-2")
        var done = set
        done["status"]?["currentRevision"] = "db-2"
        #expect(ObjectHealth.of(done).status == .current)
        let daemons: JSONValue = ["apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": ["name": "a", "generation": 1],
                                  "status": ["observedGeneration": 1, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 2, "numberReady": 3]]
        #expect(ObjectHealth.of(daemons).message == "available: 2/3")
        let pod: JSONValue = ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "p"],
                              "status": ["phase": "Pending", "containerStatuses": [["name": "c", "state": ["waiting": ["reason": "ImagePullBackOff", "message": "no such host"]]]]]]
        #expect(ObjectHealth.of(pod) == ObjectHealth(.inProgress, reason: "ImagePullBackOff", message: "no such host"), "a pull may still work (kstatus)")
        var crashing = pod
        crashing["status"]?["containerStatuses"] = [["name": "c", "state": ["waiting": ["reason": "CrashLoopBackOff", "message": "back-off"]]]]
        #expect(ObjectHealth.of(crashing).status == .failed)
        let lb: JSONValue = ["apiVersion": "v1", "kind": "Service", "metadata": ["name": "s"], "spec": ["type": "LoadBalancer"], "status": ["loadBalancer": .emptyObject]]
        #expect(ObjectHealth.of(lb).status == .inProgress)
    }

    @Test("objects following kstatus conventions: Ready for the current generation, Reconciling, Stalled; no status is current")
    func generic() {
        func custom(generation: Int64 = 3, _ conditions: JSONValue) -> JSONValue {
            ["apiVersion": "example.com/v1", "kind": "Widget", "metadata": ["name": "w", "generation": .int(generation)], "status": ["conditions": conditions]]
        }
        #expect(ObjectHealth.of(custom([["type": "Ready", "status": "True", "observedGeneration": 3]])).status == .current)
        #expect(ObjectHealth.of(custom([["type": "Ready", "status": "True", "observedGeneration": 2]])).status == .inProgress, "Ready for an older generation")
        #expect(ObjectHealth.of(custom([["type": "Ready", "status": "False", "reason": "Waiting"]])).reason == "Waiting")
        #expect(ObjectHealth.of(custom([["type": "Stalled", "status": "True", "reason": "BadConfig"]])) == ObjectHealth(.failed, reason: "BadConfig", message: ""))
        #expect(ObjectHealth.of(custom([["type": "Reconciling", "status": "True"]])).status == .inProgress)
        #expect(ObjectHealth.of(["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "c"]]).status == .current)
    }

    @Test("a summary is the worst object's state; objects still in progress past the timeout degrade it")
    func summary() {
        let a = ResourceID(group: "apps", kind: "Deployment", namespace: "x", name: "a")
        let b = ResourceID(group: "", kind: "ConfigMap", namespace: "x", name: "b")
        let c = ResourceID(group: "batch", kind: "Job", namespace: "x", name: "c")
        #expect(HealthSummary([a: .current, b: .current]).state == .healthy)
        let progressing = HealthSummary([a: ObjectHealth(.inProgress, reason: "Progressing"), b: .current])
        #expect(progressing.state == .progressing)
        #expect(HealthSummary([a: ObjectHealth(.inProgress, reason: "Progressing")], timedOut: true).state == .degraded)
        let failed = HealthSummary([a: ObjectHealth(.inProgress, reason: "Progressing"), c: ObjectHealth(.failed, reason: "BackoffLimitExceeded"), b: .current])
        #expect(failed.state == .degraded)
        #expect(failed.unhealthy.map(\.id) == [c, a], "worst first")
        #expect(failed.total == 3)
    }
}
