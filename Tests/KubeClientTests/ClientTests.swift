import Foundation
import KubeClient
import KubeEmulator
import KubeModel
import KubeTesting
import Testing

func configMap(_ name: String, namespace: String = "default", data: JSONValue = ["a": "1"], labels: JSONValue? = nil) -> JSONValue {
    var meta: JSONValue = ["name": .string(name), "namespace": .string(namespace)]
    if let labels { meta["labels"] = labels }
    return ["apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data]
}

@Suite("KubeClient verbs, errors and retries")
struct ClientTests {
    @Test("CRUD, paging, patch types, server-side apply and dryRun")
    func verbs() async throws {
        try await withTestCluster { cluster in
            let client = try cluster.client()
            defer { Task { try await client.shutdown() } }
            for i in 0..<5 { _ = try await client.create(.configMaps, configMap("c\(i)", labels: ["app": "x"])) }
            let paged = try await client.list(.configMaps, namespace: "default", labelSelector: "app=x", pageSize: 2)
            #expect(paged.items.compactMap { $0["metadata"]?["name"]?.stringValue } == ["c0", "c1", "c2", "c3", "c4"])
            #expect(paged.items.allSatisfy { $0["kind"] == "ConfigMap" }, "list items are self-describing")
            var c0 = try await client.get(.configMaps, name: "c0", namespace: "default")
            c0["data"] = ["a": "2"]
            let updated = try await client.update(.configMaps, c0)
            #expect(updated["data"] == ["a": "2"])
            let merged = try await client.patch(.configMaps, name: "c0", namespace: "default", ["data": ["b": "3"]])
            #expect(merged["data"] == ["a": "2", "b": "3"])
            let json = try await client.patch(.configMaps, name: "c0", namespace: "default", [["op": "remove", "path": "/data/a"]], type: .json)
            #expect(json["data"] == ["b": "3"])
            let applied = try await client.apply(configMap("applied", data: ["k": "v"]), fieldManager: "flotilla-test")
            #expect(applied["metadata"]?["managedFields"]?.arrayValue?.first?["manager"] == "flotilla-test")
            let dry = try await client.create(.configMaps, configMap("dry"), options: WriteOptions(dryRun: true))
            #expect(dry["metadata"]?["uid"] != nil)
            await #expect(throws: KubeError.self) { try await client.get(.configMaps, name: "dry", namespace: "default") }
            #expect(try await client.delete(.configMaps, name: "c1", namespace: "default") == nil)
        }
    }

    @Test("errors are typed from Status bodies")
    func typedErrors() async throws {
        try await withTestCluster { cluster in
            let client = try cluster.client()
            defer { Task { try await client.shutdown() } }
            do { _ = try await client.get(.configMaps, name: "missing", namespace: "default"); Issue.record("expected 404") } catch let error as KubeError {
                #expect(error.isNotFound)
                #expect(error.reason == "NotFound")
                #expect(error.message == #"configmaps "missing" not found"#)
            }
            _ = try await client.create(.configMaps, configMap("dup"))
            do { _ = try await client.create(.configMaps, configMap("dup")); Issue.record("expected 409") } catch let error as KubeError {
                #expect(error.isAlreadyExists)
                #expect(!error.isConflict)
            }
            var stale = try await client.get(.configMaps, name: "dup", namespace: "default")
            _ = try await client.patch(.configMaps, name: "dup", namespace: "default", ["data": ["x": "y"]])
            stale["data"] = ["z": "z"]
            do { _ = try await client.update(.configMaps, stale); Issue.record("expected conflict") } catch let error as KubeError {
                #expect(error.isConflict)
            }
            do { _ = try await client.create(.configMaps, configMap("Bad_Name")); Issue.record("expected 422") } catch let error as KubeError {
                #expect(error.isInvalid)
                #expect(error.causes.first?.field == "metadata.name")
            }
        }
    }

    @Test("5xx and 429 are retried for idempotent calls, honouring Retry-After; a failed POST is not repeated")
    func retries() async throws {
        try await withTestCluster { cluster in
            let client = try cluster.client()
            defer { Task { try await client.shutdown() } }
            _ = try await client.create(.configMaps, configMap("r"))
            cluster.api.injectFault(FaultRule(verb: "get", resource: "configmaps", action: .status(500), times: 2))
            #expect(try await client.get(.configMaps, name: "r", namespace: "default")["metadata"]?["name"] == "r")
            cluster.api.resetRequestCounts()
            cluster.api.injectFault(FaultRule(verb: "get", resource: "configmaps", action: .status(429, retryAfterSeconds: 1), times: 1))
            let clock = ContinuousClock()
            let elapsed = try await clock.measure { _ = try await client.get(.configMaps, name: "r", namespace: "default") }
            #expect(elapsed >= .seconds(1), "waited for Retry-After")
            #expect(cluster.api.requestCount(verb: "get", resource: "configmaps") == 2)
            cluster.api.resetRequestCounts()
            cluster.api.injectFault(FaultRule(verb: "create", resource: "configmaps", action: .status(500), times: 1))
            do { _ = try await client.create(.configMaps, configMap("once")); Issue.record("expected 500") } catch let error as KubeError {
                #expect(error.isServerError)
            }
            #expect(cluster.api.requestCount(verb: "create", resource: "configmaps") == 1, "POST is not retried on 5xx")
            cluster.api.injectFault(FaultRule(verb: "get", resource: "configmaps", action: .status(503)))
            var limited = cluster.configuration()
            limited.maxRetries = 2
            let impatient = try KubeClient(configuration: limited)
            defer { Task { try await impatient.shutdown() } }
            await #expect(throws: KubeError.self) { try await impatient.get(.configMaps, name: "r", namespace: "default") }
        }
    }

    @Test("the rate limiter spaces requests beyond the burst")
    func rateLimit() async throws {
        let limiter = RateLimiter(qps: 20, burst: 2)
        let clock = ContinuousClock()
        let elapsed = try await clock.measure { for _ in 0..<6 { try await limiter.acquire() } }
        #expect(elapsed >= .milliseconds(190), "4 requests beyond a burst of 2 at 20/s need ≥ 200 ms")
    }

    @Test("impersonation per client: a ServiceAccount gets 403 where RBAC says so")
    func impersonation() async throws {
        try await withTestCluster { cluster in
            let admin = try cluster.client()
            defer { Task { try await admin.shutdown() } }
            _ = try await admin.create(.namespaces, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "team"]])
            _ = try await admin.create(.serviceAccounts, ["apiVersion": "v1", "kind": "ServiceAccount", "metadata": ["name": "sync", "namespace": "team"]])
            _ = try await admin.create(.roleBindings, ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                                                      "metadata": ["name": "sync-edit", "namespace": "team"],
                                                      "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"],
                                                      "subjects": [["kind": "ServiceAccount", "name": "sync", "namespace": "team"]]])
            let sync = admin.impersonating(.serviceAccount(namespace: "team", name: "sync"))
            _ = try await sync.apply(configMap("mine", namespace: "team"), fieldManager: "flotilla")
            do { _ = try await sync.apply(configMap("theirs", namespace: "default"), fieldManager: "flotilla"); Issue.record("expected 403") } catch let error as KubeError {
                #expect(error.isForbidden)
                #expect(error.message.contains(#"User "system:serviceaccount:team:sync" cannot patch resource "configmaps""#))
            }
            let review = try await admin.review(SubjectAccessReview(user: "system:serviceaccount:team:sync",
                                                                   groups: ["system:serviceaccounts", "system:serviceaccounts:team"],
                                                                   attributes: ResourceAttributes(namespace: "default", verb: "patch", resource: "configmaps")))
            #expect(review.allowed == false)
            let token = try await admin.requestToken(serviceAccount: "sync", namespace: "team")
            var config = cluster.configuration()
            config.credentials = .token(token.token)
            let bySAToken = try KubeClient(configuration: config)
            defer { Task { try await bySAToken.shutdown() } }
            #expect(try await bySAToken.get(.configMaps, name: "mine", namespace: "team")["metadata"]?["name"] == "mine")
        }
    }

    @Test("a kind served by a CRD created later is mapped with one discovery refresh")
    func discoveryRefresh() async throws {
        try await withTestCluster { cluster in
            let client = try cluster.client()
            defer { Task { try await client.shutdown() } }
            _ = try await client.apply(configMap("warm"), fieldManager: "t")
            let crd: JSONValue = [
                "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": ["name": "widgets.example.com"],
                "spec": ["group": "example.com", "scope": "Namespaced", "names": ["kind": "Widget", "plural": "widgets"],
                         "versions": [["name": "v1", "served": true, "storage": true,
                                       "schema": ["openAPIV3Schema": ["type": "object", "x-kubernetes-preserve-unknown-fields": true]]]]],
            ]
            _ = try await client.create(.customResourceDefinitions, crd)
            let before = await client.mapper.discoveryRequests
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<20 {
                    group.addTask {
                        _ = try await client.apply(["apiVersion": "example.com/v1", "kind": "Widget", "metadata": ["name": .string("w\(i)"), "namespace": "default"],
                                                    "spec": ["n": .int(Int64(i))]], fieldManager: "t")
                    }
                }
                try await group.waitForAll()
            }
            #expect(await client.mapper.discoveryRequests - before == 1, "concurrent misses share one refresh")
            await #expect(throws: KubeError.self) {
                try await client.apply(["apiVersion": "example.com/v1", "kind": "Nope", "metadata": ["name": "x"]], fieldManager: "t")
            }
        }
    }
}

@Suite("Resilient watch")
struct WatchTests {
    @Test("a watch stays open while idle and stops promptly when its task is cancelled")
    func idleAndCancel() async throws {
        try await withTestCluster { cluster in
            let client = try cluster.client()
            defer { Task { try await client.shutdown() } }
            let seen = AsyncStream.makeStream(of: String.self)
            let watching = Task {
                for try await event in client.watch(.configMaps, namespace: "default") {
                    if case .added(let o) = event { seen.continuation.yield(o["metadata"]?["name"]?.stringValue ?? "") }
                    if case .synced = event { seen.continuation.yield("<synced>") }
                }
            }
            var names = seen.stream.makeAsyncIterator()
            #expect(await names.next() == "kube-root-ca.crt")
            #expect(await names.next() == "<synced>")
            try await Task.sleep(for: .seconds(3))
            _ = try await client.create(.configMaps, configMap("late"))
            #expect(await names.next() == "late", "delivered after an idle period on the same watch")
            #expect(cluster.api.requestCount(verb: "watch", resource: "configmaps") == 1)
            let clock = ContinuousClock()
            let t0 = clock.now
            watching.cancel()
            _ = try? await watching.value
            #expect(clock.now - t0 < .seconds(2))
            let closed = try await eventuallyTrue { cluster.api.openWatches == 0 }
            #expect(closed, "the server saw the watch close")
        }
    }
}

func eventuallyTrue(timeout: Duration = .seconds(5), _ condition: () -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(25))
    }
    return condition()
}
