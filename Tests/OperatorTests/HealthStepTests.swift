@testable import Operator
import FlotillaAPI
import Foundation
import GitTesting
import KubeClient
import KubeEmulator
import KubeModel
import KubeTesting
import Sync
import Synchronization
import Testing

/// The health step: the Healthy condition, `status.health` and Events for what a revision
/// applied; `spec.sync.wait` holding Ready until then; drift reported in the status.
@Suite("Health step")
struct HealthStepTests {
    static func deployment(_ name: String, image: String = "nginx:1.25") -> String {
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: \(name)}
        spec:
          replicas: 2
          progressDeadlineSeconds: 600
          selector: {matchLabels: {app: \(name)}}
          template:
            metadata: {labels: {app: \(name)}}
            spec: {containers: [{name: app, image: "\(image)"}]}
        """
    }

    func condition(_ i: FluxInstance?, _ type: String) -> String {
        guard let c = i?.status?.conditions?.first(where: { $0.type == type }) else { return "-" }
        return "\(c.status)/\(c.reason ?? "")"
    }

    @Test("with wait, Ready stays Unknown (Reconciling) while the Deployment rolls out, then True with Healthy=True; Events say so")
    func waitForRollout() async throws {
        let up = try UpstreamRepo(files: ["web.yaml": Self.deployment("web"), "a.yaml": cm("a")])
        try await withOperator(namespaces: ["team-a"], emulator: {
            $0.workloadControllers = true
            $0.workloadStartDelay = .seconds(2)
        }) { f in
            let seen = Mutex<[String]>([])
            let client = f.client
            let watching = Task {
                for try await event in client.watch(FluxInstance.resourceType, namespace: "team-a") {
                    guard case .modified(let o) = event, let i = try? o.decode(FluxInstance.self) else { continue }
                    seen.withLock { $0.append("Ready=\(condition(i, "Ready")) Healthy=\(condition(i, "Healthy")) health=\(i.status?.health?.state ?? "-")") }
                }
            }
            defer { watching.cancel() }
            try await f.apply("apps", namespace: "team-a", spec: ["git": gitSpec(up.url), "sync": ["wait": true, "healthTimeout": "1m"]])
            let done = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: try up.head())
            #expect(condition(done, "Healthy") == "True/Healthy")
            #expect(done?.status?.health?.state == "Healthy")
            #expect(done?.status?.health?.total == 2)
            let rows = seen.withLock { $0 }
            #expect(rows.contains("Ready=Unknown/Progressing Healthy=Unknown/Progressing health=Progressing"), "\(rows)")
            #expect(!rows.contains { $0.hasPrefix("Ready=True") && !$0.contains("Healthy=True") }, "never Ready before healthy: \(rows)")
            let waiting = try await f.client.list(.events, namespace: "team-a").items.map { $0["reason"]?.stringValue ?? "" }
            #expect(waiting.contains("Progressing") && waiting.contains("Healthy"))
        }
    }

    @Test("a rollout that never finishes: with wait HealthCheckFailed after the timeout, without wait Ready=True and Healthy=False; the object is named")
    func neverRollsOut() async throws {
        let up = try UpstreamRepo(files: ["web.yaml": Self.deployment("web")])
        try await withOperator(namespaces: ["team-a", "team-b"], emulator: {
            $0.workloadControllers = true
            $0.workloadStartDelay = .milliseconds(200)
        }) { f in
            for ns in ["team-a", "team-b"] { f.cluster.api.keepUnhealthy(kind: "Deployment", namespace: ns, name: "web") }
            try await f.apply("waits", namespace: "team-a", spec: ["git": gitSpec(up.url), "sync": ["wait": true, "healthTimeout": "3s"]])
            try await f.apply("reports", namespace: "team-b", spec: ["git": gitSpec(up.url), "sync": ["healthTimeout": "3s"]])
            let waits = try await f.waitFor("waits", namespace: "team-a", reason: ConditionReason.healthCheckFailed)
            #expect(waits?.status?.lastError?.contains("team-a:deployment/web: available replicas: 0/2") == true, "\(waits?.status?.lastError ?? "")")
            #expect(condition(waits, "Healthy") == "False/HealthCheckFailed")
            #expect(waits?.status?.health?.objects?.first == UnhealthyObject(object: "team-a:deployment/web", status: "InProgress", reason: "Progressing",
                                                                             message: "available replicas: 0/2"))
            var reports: FluxInstance?
            #expect(try await eventually(timeout: .seconds(20)) {
                reports = try await f.instance("reports", namespace: "team-b")
                return condition(reports, "Healthy") == "False/HealthCheckFailed"
            })
            #expect(condition(reports, "Ready") == "True/Synced", "without wait, Ready says applied")
            #expect(try await eventually(timeout: .seconds(10)) {
                try await f.client.list(.events, namespace: "team-a").items.contains { $0["reason"] == "HealthCheckFailed" && $0["type"] == "Warning" }
            }, "the Event is recorded (the recorder writes it off the pass)")
            // Let it go and push a fix: the next revision is watched from the start and gets healthy.
            f.cluster.api.keepUnhealthy(kind: "Deployment", namespace: "team-a", name: "web", false)
            let fixed = try up.commit(["web.yaml": Self.deployment("web", image: "nginx:1.26")], message: "fix")
            let healthy = try await f.waitFor("waits", namespace: "team-a", reason: "Synced", revision: fixed)
            #expect(condition(healthy, "Healthy") == "True/Healthy")
        }
    }

    @Test("checks of a rollout do not ask the git remote: it can be gone meanwhile, the instance still turns Ready when healthy")
    func checksDoNotPoll() async throws {
        let up = try UpstreamRepo(files: ["web.yaml": Self.deployment("web")])
        try await withOperator(namespaces: ["team-a"], emulator: {
            $0.workloadControllers = true
            $0.workloadStartDelay = .seconds(14)
        }) { f in
            let reasons = Mutex<Set<String>>([])
            let client = f.client
            let watching = Task {
                for try await event in client.watch(FluxInstance.resourceType, namespace: "team-a") {
                    guard case .modified(let o) = event, let i = try? o.decode(FluxInstance.self) else { continue }
                    reasons.withLock { _ = $0.insert(condition(i, "Ready")) }
                }
            }
            defer { watching.cancel() }
            try await f.apply("apps", namespace: "team-a", spec: ["git": gitSpec(up.url, poll: "1h"), "sync": ["interval": "1h", "wait": true]])
            #expect(try await eventually(timeout: .seconds(20)) { reasons.withLock { $0.contains("Unknown/Progressing") } })
            // The first automation run follows the sync and reads the head (legitimately, on a
            // loaded machine after the shared poll expired): it is done before the remote goes.
            #expect(try await eventually(timeout: .seconds(20)) {
                try await f.instance("apps", namespace: "team-a")?.status?.images?.lastScanTime != nil
            })
            // The remote goes away while the Deployment rolls out (longer than a shared poll lives).
            try FileManager.default.moveItem(atPath: up.bare, toPath: up.bare + ".gone")
            let done = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", timeout: .seconds(40))
            #expect(condition(done, "Healthy") == "True/Healthy")
            #expect(!reasons.withLock { $0.contains("False/GitFetchFailed") }, "no health check asked the remote: \(reasons.withLock { $0 })")
        }
    }

    @Test("health from status written by others: a Job completes or fails as its status says")
    func statusPatches() async throws {
        let job = { (name: String) in "apiVersion: batch/v1\nkind: Job\nmetadata: {name: \(name)}\nspec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}\n" }
        let up = try UpstreamRepo(files: ["ok.yaml": job("ok"), "bad.yaml": job("bad")])
        try await withOperator(namespaces: ["team-a"]) { f in
            try await f.apply("apps", namespace: "team-a", spec: ["git": gitSpec(up.url), "sync": ["healthTimeout": "1m"]])
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Synced")
            #expect(try await eventually { condition(try await f.instance("apps", namespace: "team-a"), "Healthy") == "Unknown/Progressing" })
            let jobs = ResourceType(group: "batch", version: "v1", resource: "jobs", kind: "Job", namespaced: true)
            _ = try await f.client.patch(jobs, name: "ok", namespace: "team-a", ["status": ["conditions": [["type": "Complete", "status": "True"]]]], subresource: "status")
            var instance: FluxInstance?
            #expect(try await eventually(timeout: .seconds(20)) {
                instance = try await f.instance("apps", namespace: "team-a")
                return instance?.status?.health?.objects?.map(\.object) == ["team-a:job/bad"]
            }, "\(String(describing: instance?.status?.health))")
            _ = try await f.client.patch(jobs, name: "bad", namespace: "team-a",
                                         ["status": ["conditions": [["type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"]]]],
                                         subresource: "status")
            #expect(try await eventually(timeout: .seconds(20)) {
                instance = try await f.instance("apps", namespace: "team-a")
                return condition(instance, "Healthy") == "False/HealthCheckFailed"
            })
            #expect(instance?.status?.health?.objects?.first?.reason == "BackoffLimitExceeded")
        }
    }

    @Test("drift is in the status with what differed, an Event when it appears, and corrected by default")
    func drift() async throws {
        let up = try UpstreamRepo(files: ["a.yaml": cm("a")])
        try await withOperator(namespaces: ["team-a"]) { f in
            try await f.apply("apps", namespace: "team-a", spec: ["git": gitSpec(up.url), "sync": ["interval": "1s"]])
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Synced")
            _ = try await f.client.patch(.configMaps, name: "a", namespace: "team-a", ["data": ["k": "by-hand"]], options: WriteOptions(fieldManager: "kubectl-edit"))
            var instance: FluxInstance?
            #expect(try await eventually(timeout: .seconds(20)) {
                instance = try await f.instance("apps", namespace: "team-a")
                return instance?.status?.drift != nil
            })
            #expect(instance?.status?.drift?.objects == [DriftedObject(object: "team-a:configmap/a", drift: "data.k changed", corrected: true)])
            #expect(try await f.configMap("a", namespace: "team-a")?["data"]?["k"] == "v")
            let events = try await f.client.list(.events, namespace: "team-a").items
            #expect(events.contains { $0["reason"] == "DriftDetected" && ($0["message"]?.stringValue ?? "").contains("team-a:configmap/a (data.k changed)") })
            // The next resync finds nothing: the report goes.
            #expect(try await eventually(timeout: .seconds(20)) { try await f.instance("apps", namespace: "team-a")?.status?.drift == nil })
        }
    }
}
