import Foundation
import KubeClient
import KubeEmulator
import KubeModel
import KubeRuntime
import KubeTesting
import Synchronization
import Testing

func configMap(_ name: String, _ ns: String, _ data: JSONValue = ["v": "0"]) -> JSONValue {
    ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": .string(name), "namespace": .string(ns)], "data": data]
}

@Suite("Informer")
struct InformerTests {
    /// Records every event a handler sees.
    final class Recorder: Sendable {
        let events = Mutex<[(String, String, String)]>([])
        func handle(_ e: WatchEvent) {
            guard let o = e.object else { return }
            let kind: String
            switch e {
            case .added: kind = "added"
            case .modified: kind = "modified"
            case .deleted: kind = "deleted"
            default: return
            }
            let key = o["metadata"]?["name"]?.stringValue ?? ""
            events.withLock { $0.append((kind, key, o["metadata"]?["resourceVersion"]?.stringValue ?? "")) }
        }
    }

    @Test("the store converges to the server's state through 500s, 429s, dropped watches, forced 410s and latency, with no duplicate or missed event")
    func convergesUnderFaults() async throws {
        try await withTestCluster { cluster in
            let client = try cluster.client { $0.maxRetries = 10 }
            defer { Task { try await client.shutdown() } }
            _ = try await client.create(.namespaces, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "inf"]])
            let informer = Informer(client: client, type: .configMaps, namespace: "inf")
            let recorder = Recorder()
            informer.addHandler { recorder.handle($0) }
            let running = Task { try await informer.run() }
            defer { running.cancel() }
            await informer.waitForSync()
            #expect(informer.store.count == 1, "kube-root-ca.crt")

            let api = cluster.api
            for i in 0..<30 {
                switch i {
                case 5: api.injectFault(FaultRule(verb: "watch", resource: "configmaps", action: .dropWatch(after: .milliseconds(30)), times: 3))
                case 10: api.forceCompaction(); api.dropWatches()
                case 12: api.injectFault(FaultRule(verb: "list", resource: "configmaps", action: .status(500), times: 2))
                case 15: api.injectFault(FaultRule(verb: "list", resource: "configmaps", action: .status(429, retryAfterSeconds: 1), times: 1))
                         api.forceCompaction(); api.dropWatches()
                case 20: api.injectFault(FaultRule(verb: "watch", resource: "configmaps", action: .latency(.milliseconds(300)), times: 2))
                         api.dropWatches()
                case 25: api.injectFault(FaultRule(verb: "watch", resource: "configmaps", action: .status(500), times: 2))
                         api.dropWatches()
                default: break
                }
                _ = try await client.create(.configMaps, configMap("c\(i)", "inf"))
                if i % 3 == 0 { _ = try await client.patch(.configMaps, name: "c\(i)", namespace: "inf", ["data": ["v": .string("\(i)")]]) }
                if i % 5 == 4 { try await client.delete(.configMaps, name: "c\(i - 1)", namespace: "inf") }
                try await Task.sleep(for: .milliseconds(20))
            }
            let truth = try await client.list(.configMaps, namespace: "inf")
            let want = Dictionary(uniqueKeysWithValues: truth.items.map { ($0["metadata"]!["name"]!.stringValue!, $0["metadata"]!["resourceVersion"]!.stringValue!) })
            let converged = try await eventually {
                let have = Dictionary(uniqueKeysWithValues: informer.store.list().map { ($0["metadata"]!["name"]!.stringValue!, $0["metadata"]!["resourceVersion"]!.stringValue!) })
                return have == want
            }
            #expect(converged, "store: \(informer.store.list().count) objects, server: \(want.count)")
            let events = recorder.events.withLock { $0 }
            // No duplicates: every (object, resourceVersion) is delivered at most once as an add/update.
            let changes = events.filter { $0.0 != "deleted" }.map { "\($0.1)@\($0.2)" }
            #expect(Set(changes).count == changes.count, "duplicate events: \(changes.count - Set(changes).count)")
            // Nothing missed: replaying the events gives exactly the server's state.
            var replay: [String: String] = [:]
            for (kind, name, rv) in events { if kind == "deleted" { replay[name] = nil } else { replay[name] = rv } }
            #expect(replay == want)
            // Every deleted object got exactly one delete event.
            for i in stride(from: 3, to: 29, by: 5) {
                #expect(events.filter { $0.0 == "deleted" && $0.1 == "c\(i)" }.count == 1, "c\(i)")
            }
            #expect(api.requestCount(verb: "list", resource: "configmaps") >= 3, "the 410s forced re-lists")
        }
    }

    @Test("informers are shared per resource type and a late handler sees the cached objects")
    func sharedInformers() async throws {
        try await withTestCluster { cluster in
            let client = try cluster.client()
            defer { Task { try await client.shutdown() } }
            let factory = InformerFactory(client: client)
            let a = factory.informer(.namespaces)
            let b = factory.informer(.namespaces)
            #expect(a === b)
            let running = Task { try await factory.run() }
            defer { running.cancel() }
            await a.waitForSync()
            let late = Recorder()
            a.addHandler { late.handle($0) }
            #expect(late.events.withLock { $0.count } == 4, "default, kube-system, kube-public, kube-node-lease")
            let c = factory.informer(.configMaps, namespace: "default")
            await c.waitForSync()
            #expect(c.store.get(namespace: "default", name: "kube-root-ca.crt") != nil)
            #expect(cluster.api.requestCount(verb: "list", resource: "namespaces") == 1, "one list for both consumers")
        }
    }
}
