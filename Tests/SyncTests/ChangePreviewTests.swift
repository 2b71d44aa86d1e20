import FlotillaAPI
import Foundation
import GitSource
import GitTesting
import KubeClient
import KubeModel
import KubeTesting
import Manifests
import Sync
import Testing

@Suite("Change preview (what flotilla diff computes)")
struct ChangePreviewTests {
    /// Renders and plans the head of main as the fixture's instance would.
    func desired(_ f: SyncFixture, _ options: SyncOptions) async throws -> [DesiredObject] {
        let head = try await f.mirror.fetch()["main"]!
        let rendered = try await f.renderer.render(revision: head, options: RenderOptions())
        var cache: [String: CachedPlan] = [:]
        return try await Planner(options: options).plan(rendered.manifests, client: f.client, cache: &cache)
    }

    @Test("creates, updates, unchanged and garbage-collected objects, each with its diff; nothing is written; the guard's hold is shown")
    func preview() async throws {
        try await withSyncFixture(["a.yaml": cm("a"), "b.yaml": cm("b"), "c.yaml": cm("c"), "d.yaml": cm("d")]) { f in
            let options = f.options(gc: true)
            let syncer = f.syncer(options)
            try await f.sync(syncer)
            let before = try await f.configMap("a")?["metadata"]?["resourceVersion"]
            try f.upstream.commit(["a.yaml": cm("a", data: ["k": "changed"]), "d.yaml": nil, "e.yaml": cm("e")], message: "change")
            let inventory = try await f.store.load()
            let entries = await ChangePreview(client: f.client, options: options).preview(try await desired(f, options), inventory: inventory)
            let byName = Dictionary(uniqueKeysWithValues: entries.map { ($0.id.name, $0) })
            #expect(byName["a"]?.action == .update)
            #expect(byName["a"]?.diff.contains("-  k: \"v\"\n+  k: \"changed\"") == true)
            #expect(byName["b"]?.action == .unchanged && byName["b"]?.diff == "")
            #expect(byName["e"]?.action == .create)
            #expect(byName["d"]?.action == .delete)
            #expect(byName["d"]?.diff.contains("-  k: \"v\"") == true)
            #expect(try await f.configMap("a")?["metadata"]?["resourceVersion"] == before, "a dry run writes nothing")
            #expect(try await f.configMap("e") == nil)
            #expect(try await f.configMap("d") != nil)

            try f.upstream.commit(["a.yaml": nil, "b.yaml": nil, "c.yaml": nil], message: "remove most")
            let held = await ChangePreview(client: f.client, options: options).preview(try await desired(f, options), inventory: inventory)
            #expect(held.filter { $0.action == .held }.map(\.id.name).sorted() == ["a", "b", "c", "d"])
            #expect(held.first { $0.action == .held }?.message?.contains("held until approved") == true)
        }
    }

    @Test("an identity without rights gets each object reported as forbidden, naming the file")
    func forbidden() async throws {
        try await withSyncFixture(["a.yaml": cm("a")]) { f in
            let options = f.options()
            let bob = try f.cluster.client(user: "bob")
            let entries = await ChangePreview(client: bob, options: options).preview(try await desired(f, options), inventory: nil)
            #expect(entries.map(\.action) == [.forbidden])
            #expect(entries.first?.message?.hasPrefix("a.yaml:1: may not read it:") == true)
            #expect(entries.first?.message?.contains("User \"bob\" cannot get resource \"configmaps\"") == true)
            try await bob.shutdown()
        }
    }
}
