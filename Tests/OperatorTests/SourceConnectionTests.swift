import FlotillaAPI
import Foundation
import GitTesting
import KubeClient
import KubeModel
import Operator
import Testing

/// What the git host sees of an instance over `git://`: its connections, counted in `git daemon`'s
/// log.
@Suite("Source step: connections to the git host", .serialized)
struct SourceConnectionTests {
    @Test("a reconcile request fetches at once: one upload-pack connection for the new commit, not a poll and then a fetch; the sync tag is one push")
    func requestFetchesOnce() async throws {
        let up = try UpstreamRepo(files: ["a.yaml": cm("a")])
        let daemon = try TestGitDaemon(root: up.root)
        defer { daemon.stop() }
        try await withOperator(namespaces: ["team-a"]) { f in
            try await f.apply("apps", namespace: "team-a", spec: ["git": gitSpec(daemon.url(up.bare), poll: "1h")])
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: try up.head())
            try await Task.sleep(for: .seconds(1))
            let (fetches, pushes) = (daemon.requests("upload-pack"), daemon.requests("receive-pack"))
            #expect(fetches >= 2 && pushes >= 1, "the first pass polled, cloned and pushed the sync tag (\(fetches), \(pushes))")

            let next = try up.commit(["a.yaml": cm("a", value: "2")], message: "two")
            _ = try await f.client.patch(FluxInstance.resourceType, name: "apps", namespace: "team-a",
                                         ["metadata": ["annotations": [.init(stringLiteral: Flotilla.reconcileRequestedAt): "now"]]])
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: next)
            #expect(try await f.configMap("a", namespace: "team-a")?["data"]?["k"]?.stringValue == "2")
            try await Task.sleep(for: .seconds(1))
            #expect(daemon.requests("upload-pack") == fetches + 1, "one connection for the request's poll and fetch")
            #expect(daemon.requests("receive-pack") == pushes + 1, "the sync tag moved")
        }
    }
}
