@testable import Operator
import FlotillaAPI
import Foundation
import GitTesting
import KubeClient
import KubeModel
import KubeTesting
import Sync
import Synchronization
import Testing

/// The report step: the one status writer (the whole status applied, unset fields dropped) and
/// kstatus while a sync runs (`Reconciling=True` and `Ready=Unknown`, reason `Progressing`, for
/// the new revision before `Ready=True`).
@Suite("Report step")
struct ReportStepTests {
    @Test("the whole status is applied: a field the operator stops setting is dropped")
    func wholeStatus() async throws {
        try await withTestCluster { cluster in
            let client = try cluster.client()
            _ = try await client.create(.customResourceDefinitions, try YAML.decode(FluxInstanceCRD.yaml))
            #expect(try await eventually { (try? await client.list(FluxInstance.resourceType)) != nil })
            _ = try await client.apply(["apiVersion": .string(Flotilla.apiVersion), "kind": "FluxInstance", "metadata": ["name": "apps", "namespace": "default"],
                                        "spec": ["git": ["url": "https://git.example/apps.git"]]], as: FluxInstance.resourceType, fieldManager: "kubectl")
            let ref = InstanceRef(namespace: "default", name: "apps")
            var status = FluxInstanceStatus()
            status.lastError = "the remote did not answer"
            status.headRevision = "abc"
            try await StatusWriter(client: client).write(status, of: ref)
            #expect(try await client.get(FluxInstance.self, name: "apps", namespace: "default").status?.lastError == "the remote did not answer")
            status.lastError = nil
            try await StatusWriter(client: client).write(status, of: ref)
            let written = try await client.get(FluxInstance.self, name: "apps", namespace: "default").status
            #expect(written?.lastError == nil, "dropped, not left behind")
            #expect(written?.headRevision == "abc")
            try await client.shutdown()
        }
    }

    @Test("each new revision shows Reconciling=True and Ready=Unknown, then Ready=True without Reconciling")
    func reconcilingThenReady() async throws {
        let up = try UpstreamRepo(files: ["a.yaml": cm("a")])
        try await withOperator(namespaces: ["team-a"]) { f in
            let seen = Mutex<[[String: String]]>([])
            let client = f.client
            let watching = Task {
                for try await event in client.watch(FluxInstance.resourceType, namespace: "team-a") {
                    guard case .modified(let o) = event, let conditions = o["status"]?["conditions"]?.arrayValue else { continue }
                    var row: [String: String] = ["revision": o["status"]?["headRevision"]?.stringValue ?? ""]
                    for c in conditions { row[c["type"]?.stringValue ?? ""] = "\(c["status"]?.stringValue ?? "")/\(c["reason"]?.stringValue ?? "")" }
                    seen.withLock { $0.append(row) }
                }
            }
            defer { watching.cancel() }
            try await f.apply("apps", namespace: "team-a", spec: ["git": gitSpec(up.url)])
            let first = try up.head()
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: first)
            let next = try up.commit(["a.yaml": cm("a", value: "2")], message: "two")
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: next)
            #expect(try await eventually { seen.withLock { $0.last?["Ready"] == "True/Synced" } })
            let rows = seen.withLock { $0 }
            for revision in [first, next] {
                let reconciling = rows.firstIndex { $0["revision"] == revision && $0["Reconciling"] == "True/Progressing" && $0["Ready"] == "Unknown/Progressing" }
                let ready = rows.lastIndex { $0["revision"] == revision && $0["Ready"] == "True/Synced" }
                #expect(reconciling != nil, "\(revision.prefix(7)): \(rows)")
                #expect(reconciling.flatMap { r in ready.map { r < $0 } } == true, "Reconciling before Ready")
            }
            #expect(rows.last?["Reconciling"] == nil, "Reconciling is dropped once the sync is done")
        }
    }
}
