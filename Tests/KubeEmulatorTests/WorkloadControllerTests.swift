import KubeModel
import Testing

@testable import KubeEmulator

@Suite("Workload controllers: rollouts, Jobs, claims")
struct WorkloadControllerTests {
    /// Runs the controllers until `done` holds (or fails the test after `limit`).
    func settle(_ h: Harness, _ what: String, limit: Duration = .seconds(5), _ done: () async -> Bool) async {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            h.server.reconcileOnce()
            if await done() { return }
            try? await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("not settled within \(limit): \(what)")
    }

    func deployment(_ name: String, image: String, replicas: Int64 = 2, deadline: Int64? = nil) -> String {
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: \(name)}
        spec:
          replicas: \(replicas)
          \(deadline.map { "progressDeadlineSeconds: \($0)" } ?? "")
          selector: {matchLabels: {app: \(name)}}
          template:
            metadata: {labels: {app: \(name)}}
            spec: {containers: [{name: app, image: "\(image)"}]}
        """
    }

    func get(_ h: Harness, _ path: String) async -> JSONValue { await h.call("GET", path).body }

    func items(_ h: Harness, _ path: String) async -> [JSONValue] { await get(h, path)["items"]?.arrayValue ?? [] }

    @Test("a Deployment rolls out: a ReplicaSet, Pods that turn Ready after the delay, then the old ReplicaSet scales to zero")
    func rollout() async {
        let h = Harness(workloadStartDelay: .milliseconds(300))
        await h.namespace("apps")
        let path = "/apis/apps/v1/namespaces/apps/deployments/web"
        #expect(await h.apply(path, deployment("web", image: "nginx:1.25"), manager: "test").status == 201)
        h.server.reconcileOnce()
        let sets = await items(h, "/apis/apps/v1/namespaces/apps/replicasets")
        #expect(sets.count == 1)
        let first = sets.first.map(ObjectMeta.name) ?? ""
        #expect(first.hasPrefix("web-"))
        #expect(sets.first?["metadata"]?["ownerReferences"]?.arrayValue?.first?["kind"] == "Deployment")
        let pods = await items(h, "/api/v1/namespaces/apps/pods")
        #expect(pods.count == 2)
        #expect(pods.allSatisfy { $0["status"]?["phase"] == "Pending" && $0["metadata"]?["labels"]?["pod-template-hash"] != nil })
        var d = await get(h, path)
        #expect(d["status"]?["updatedReplicas"] == 2)
        #expect(d["status"]?["readyReplicas"] == nil, "not ready before the delay")
        await settle(h, "rolled out") { await get(h, path)["status"]?["availableReplicas"] == 2 }
        d = await get(h, path)
        let progressing = d["status"]?["conditions"]?.arrayValue?.first { $0["type"] == "Progressing" }
        #expect(progressing?["reason"] == "NewReplicaSetAvailable")
        #expect(d["status"]?["observedGeneration"] == 1)
        #expect(await items(h, "/api/v1/namespaces/apps/pods").allSatisfy { $0["status"]?["phase"] == "Running" })

        #expect(await h.apply(path, deployment("web", image: "nginx:1.26"), manager: "test").status == 200)
        await settle(h, "second rollout") {
            let d = await get(h, path)
            return d["status"]?["observedGeneration"] == 2 && d["status"]?["availableReplicas"] == 2 && d["status"]?["replicas"] == 2
        }
        let after = await items(h, "/apis/apps/v1/namespaces/apps/replicasets")
        #expect(after.count == 2)
        #expect(after.first { ObjectMeta.name($0) == first }?["spec"]?["replicas"] == 0, "the old ReplicaSet scaled to zero")
        let images = await items(h, "/api/v1/namespaces/apps/pods").compactMap { $0["spec"]?["containers"]?.arrayValue?.first?["image"]?.stringValue }
        #expect(images == ["nginx:1.26", "nginx:1.26"])
    }

    @Test("an image that cannot be pulled never turns Ready; past its deadline the rollout fails while the old Pods keep serving")
    func failedRollout() async {
        let h = Harness(workloadStartDelay: .milliseconds(100))
        await h.namespace("apps")
        let path = "/apis/apps/v1/namespaces/apps/deployments/api"
        _ = await h.apply(path, deployment("api", image: "nginx:1.25", replicas: 1, deadline: 1), manager: "test")
        await settle(h, "first rollout") { await get(h, path)["status"]?["availableReplicas"] == 1 }
        _ = await h.apply(path, deployment("api", image: "registry.invalid/api:2", replicas: 1, deadline: 1), manager: "test")
        await settle(h, "deadline exceeded", limit: .seconds(4)) {
            let c = await get(h, path)["status"]?["conditions"]?.arrayValue?.first { $0["type"] == "Progressing" }
            return c?["reason"] == "ProgressDeadlineExceeded" && c?["status"] == "False"
        }
        let d = await get(h, path)
        #expect(d["status"]?["availableReplicas"] == 1, "the old ReplicaSet still serves")
        #expect(d["status"]?["replicas"] == 2)
        let broken = await items(h, "/api/v1/namespaces/apps/pods").first { $0["spec"]?["containers"]?.arrayValue?.first?["image"] == "registry.invalid/api:2" }
        #expect(broken?["status"]?["containerStatuses"]?.arrayValue?.first?["state"]?["waiting"]?["reason"] == "ImagePullBackOff")
    }

    @Test("a kept-unhealthy Deployment's Pods crash-loop until let go")
    func keptUnhealthy() async {
        let h = Harness(workloadStartDelay: .milliseconds(50))
        await h.namespace("apps")
        h.server.keepUnhealthy(kind: "Deployment", namespace: "apps", name: "web")
        let path = "/apis/apps/v1/namespaces/apps/deployments/web"
        _ = await h.apply(path, deployment("web", image: "nginx:1.25", replicas: 1), manager: "test")
        await settle(h, "crash loop") {
            await items(h, "/api/v1/namespaces/apps/pods").first?["status"]?["containerStatuses"]?.arrayValue?.first?["state"]?["waiting"]?["reason"] == "CrashLoopBackOff"
        }
        #expect(await get(h, path)["status"]?["availableReplicas"] == nil)
        h.server.keepUnhealthy(kind: "Deployment", namespace: "apps", name: "web", false)
        await settle(h, "healthy once let go") { await get(h, path)["status"]?["availableReplicas"] == 1 }
    }

    @Test("Jobs complete (or fail when kept unhealthy), claims bind, StatefulSets and DaemonSets report ready")
    func otherKinds() async {
        let h = Harness(workloadStartDelay: .milliseconds(50))
        await h.namespace("apps")
        let job = { (name: String) in "apiVersion: batch/v1\nkind: Job\nmetadata: {name: \(name)}\nspec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}\n" }
        h.server.keepUnhealthy(kind: "Job", namespace: "apps", name: "bad")
        h.server.keepUnhealthy(kind: "PersistentVolumeClaim", namespace: "apps", name: "stuck")
        _ = await h.apply("/apis/batch/v1/namespaces/apps/jobs/ok", job("ok"), manager: "test")
        _ = await h.apply("/apis/batch/v1/namespaces/apps/jobs/bad", job("bad"), manager: "test")
        for name in ["data", "stuck"] {
            _ = await h.apply("/api/v1/namespaces/apps/persistentvolumeclaims/\(name)",
                              "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: \(name)}\nspec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n",
                              manager: "test")
        }
        _ = await h.apply("/apis/apps/v1/namespaces/apps/statefulsets/db",
                          "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec: {replicas: 3, serviceName: db, selector: {matchLabels: {app: db}}, template: {metadata: {labels: {app: db}}, spec: {containers: [{name: db, image: postgres}]}}}\n",
                          manager: "test")
        _ = await h.apply("/apis/apps/v1/namespaces/apps/daemonsets/agent",
                          "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec: {selector: {matchLabels: {app: agent}}, template: {metadata: {labels: {app: agent}}, spec: {containers: [{name: a, image: agent}]}}}\n",
                          manager: "test")
        h.server.reconcileOnce()
        #expect(await get(h, "/apis/batch/v1/namespaces/apps/jobs/ok")["status"]?["active"] == 1)
        #expect(await get(h, "/api/v1/namespaces/apps/persistentvolumeclaims/data")["status"]?["phase"] == "Pending")
        #expect(await get(h, "/apis/apps/v1/namespaces/apps/statefulsets/db")["status"]?["readyReplicas"] == nil)
        await settle(h, "everything settled") {
            let job = await get(h, "/apis/batch/v1/namespaces/apps/jobs/ok")["status"]?["succeeded"] == 1
            let bad = await get(h, "/apis/batch/v1/namespaces/apps/jobs/bad")["status"]?["failed"] == 7
            let claim = await get(h, "/api/v1/namespaces/apps/persistentvolumeclaims/data")["status"]?["phase"] == "Bound"
            let set = await get(h, "/apis/apps/v1/namespaces/apps/statefulsets/db")["status"]?["readyReplicas"] == 3
            let daemons = await get(h, "/apis/apps/v1/namespaces/apps/daemonsets/agent")["status"]?["numberReady"] == 1
            return job && bad && claim && set && daemons
        }
        let ok = await get(h, "/apis/batch/v1/namespaces/apps/jobs/ok")["status"]?["conditions"]?.arrayValue ?? []
        #expect(ok.contains { $0["type"] == "Complete" && $0["status"] == "True" })
        let bad = await get(h, "/apis/batch/v1/namespaces/apps/jobs/bad")["status"]?["conditions"]?.arrayValue ?? []
        #expect(bad.contains { $0["type"] == "Failed" && $0["reason"] == "BackoffLimitExceeded" })
        #expect(await get(h, "/api/v1/namespaces/apps/persistentvolumeclaims/data")["status"]?["capacity"]?["storage"] == "1Gi")
        #expect(await get(h, "/api/v1/namespaces/apps/persistentvolumeclaims/stuck")["status"]?["phase"] == "Pending")
    }

    @Test("without the switch, workloads stay as written")
    func offByDefault() async {
        let h = Harness()
        await h.namespace("apps")
        _ = await h.apply("/apis/apps/v1/namespaces/apps/deployments/web", deployment("web", image: "nginx"), manager: "test")
        h.server.reconcileOnce()
        #expect(await items(h, "/apis/apps/v1/namespaces/apps/replicasets").isEmpty)
        #expect(await items(h, "/api/v1/namespaces/apps/pods").isEmpty)
    }
}
