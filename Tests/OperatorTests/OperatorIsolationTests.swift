import FlotillaAPI
import Foundation
import GitSource
import GitTesting
import KubeClient
import KubeModel
import KubeTesting
import Operator
import Testing

@Suite("The operator: isolation between instances", .serialized)
struct OperatorIsolationTests {
    @Test("50 instances in one process with one hung remote: the other 49 stay Ready and follow a commit on time")
    func fiftyWithOneHung() async throws {
        var files: [String: String] = [:]
        for i in 0..<49 { files["apps/\(i)/cm.yaml"] = cm("cm-\(i)") }
        let up = try UpstreamRepo(files: files)
        let silent = try SilentServer()
        try await withOperator(namespaces: ["fleet"], concurrency: 4) { f in
            try await f.apply("hung", namespace: "fleet", spec: ["git": gitSpec("ssh://git@127.0.0.1:\(silent.port)/repo.git", ["timeout": "20s"])])
            for i in 0..<49 {
                try await f.apply("i\(i)", namespace: "fleet", spec: ["git": gitSpec(up.url, poll: "1s", ["paths": [.string("apps/\(i)")]])])
            }
            let first = try up.head()
            func appliedCount(_ revision: String) async throws -> Int {
                let list = try await f.client.list(FluxInstance.resourceType, namespace: "fleet")
                return list.items.filter { $0["status"]?["lastAppliedRevision"]?.stringValue == revision && $0["metadata"]?["name"] != "hung" }.count
            }
            #expect(try await eventually(timeout: .seconds(60)) { try await appliedCount(first) == 49 }, "all 49 Ready")
            var changes: [String: String?] = [:]
            for i in 0..<49 { changes["apps/\(i)/cm.yaml"] = cm("cm-\(i)", value: "2") }
            let next = try up.commit(changes, message: "change all")
            let started = ContinuousClock.now
            #expect(try await eventually(timeout: .seconds(30)) { try await appliedCount(next) == 49 }, "all 49 follow the commit")
            let took = ContinuousClock.now - started
            #expect(took < .seconds(15), "on time while the hung remote is still hanging: \(took)")
            let hung = try await f.instance("hung", namespace: "fleet")
            #expect(hung?.status?.lastAppliedRevision == nil)
            #expect(f.supervisor.running.count == 50)
        }
    }
}
