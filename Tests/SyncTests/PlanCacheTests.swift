import GitSource
import GitTesting
import KubeModel
import Manifests
@testable import Sync
import Testing

@Suite("Plan cache")
struct PlanCacheTests {
    @Test("a plan reused from the cache keeps its object as text until it is read, and reads back the same object")
    func deferredObjects() async throws {
        try await withSyncFixture(["a.yaml": cm("a"), "b.yaml": cm("b", data: ["k": "v", "n": "1"])]) { f in
            let head = try await f.mirror.fetch()["main"]!
            let rendered = try await f.renderer.render(revision: head, options: RenderOptions())
            var cache: [String: CachedPlan] = [:]
            let planner = Planner(options: f.options())
            let first = try await planner.plan(rendered.manifests, client: f.client, cache: &cache)
            #expect(first.allSatisfy { $0.body.isDecoded }, "planned now: the object was built")
            #expect(cache.count == 2)
            let again = try await planner.plan(rendered.manifests, client: f.client, cache: &cache)
            #expect(again.allSatisfy { !$0.body.isDecoded }, "from the cache: nothing decoded yet")
            #expect(again.map(\.checksum) == first.map(\.checksum))
            #expect(again.map(\.object) == first.map(\.object))
            #expect(again.allSatisfy { $0.body.isDecoded })
        }
    }
}
