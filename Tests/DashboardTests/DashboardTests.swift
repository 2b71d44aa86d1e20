import FlotillaAPI
import Foundation
import KubeModel
import Testing

@testable import Dashboard

@Suite("Dashboard values")
struct DashboardTests {
    static func row(_ ns: String, _ name: String, _ state: String, behind: Int = 0, lastSync: String = "", drift: Int = 0) -> InstanceRow {
        InstanceRow(namespace: ns, name: name, state: state, behind: behind, lastSync: lastSync, drift: drift, source: "https://git.example/\(name).git")
    }

    static let rows = (0..<120).map { i in
        row("team-\(i % 4)", "app-\(i)", ["Ready", "Failing", "Progressing", "Suspended"][i % 4 == 1 ? 1 : i % 10 == 2 ? 2 : i % 10 == 7 ? 3 : 0],
            behind: i % 5, lastSync: String(format: "2026-12-06T10:%02d:00Z", i % 60), drift: i % 7)
    }

    @Test("the query string decides search, state, sort, page and size; what does not parse keeps its default")
    func parsing() {
        let q = OverviewQuery(parameters: ["q": " team-1 ", "state": "Failing", "sort": "behind", "page": "3", "size": "20"])
        #expect((q.search, q.state, q.sort, q.page, q.pageSize) == ("team-1", "Failing", .behind, 3, 20))
        let bad = OverviewQuery(parameters: ["state": "<script>", "sort": "nope", "page": "-4", "size": "100000"])
        #expect((bad.state, bad.sort, bad.page, bad.pageSize) == (nil, .name, 1, OverviewQuery.maxPageSize))
    }

    @Test("one page of what matches, counts by state over the search, stable order for paging")
    func paging() {
        var q = OverviewQuery()
        q.pageSize = 50
        let first = q.apply(Self.rows)
        #expect((first.total, first.matching, first.pages, first.rows.count) == (120, 120, 3, 50))
        #expect(first.counts.first { $0.state == "Failing" }?.count == Self.rows.filter { $0.state == "Failing" }.count)
        q.page = 3
        let last = q.apply(Self.rows)
        #expect(last.rows.count == 20)
        q.page = 99
        #expect(q.apply(Self.rows).page == 3, "past the end: the last page")
        var all = OverviewQuery()
        all.pageSize = 500
        let keys = all.apply(Self.rows).rows.map(\.key)
        #expect(keys == keys.sorted { a, b in
            let (an, aa) = (a.split(separator: "/")[0], a.split(separator: "/")[1]), (bn, bb) = (b.split(separator: "/")[0], b.split(separator: "/")[1])
            return (an, aa) < (bn, bb)
        })
        q.page = 2
        #expect(Set(first.rows.map(\.key)).isDisjoint(with: Set(q.apply(Self.rows).rows.map(\.key))), "pages do not overlap")
    }

    @Test("search matches namespace/name, source and reason; the state filter narrows it; counts ignore the state filter")
    func filtering() {
        var q = OverviewQuery(parameters: ["q": "team-1/"])
        let found = q.apply(Self.rows)
        #expect(found.matching == 30 && found.rows.allSatisfy { $0.namespace == "team-1" })
        q.state = "Failing"
        let failing = q.apply(Self.rows)
        #expect(failing.rows.allSatisfy { $0.state == "Failing" && $0.namespace == "team-1" })
        #expect(failing.counts == found.counts)
    }

    @Test("sorts: problems first, newest sync first, most behind first, most drift first")
    func sorting() {
        var q = OverviewQuery()
        q.pageSize = 500
        q.sort = .state
        #expect(q.apply(Self.rows).rows.first?.state == "Failing")
        q.sort = .lastSync
        let synced = q.apply(Self.rows).rows.map(\.lastSync)
        #expect(synced == synced.sorted(by: >))
        q.sort = .behind
        #expect(q.apply(Self.rows).rows.first?.behind == 4)
        q.sort = .drift
        #expect(q.apply(Self.rows).rows.first?.drift == 6)
    }

    @Test("links keep the query and escape the search")
    func links() {
        let q = OverviewQuery(parameters: ["q": "a b&c", "sort": "state"])
        #expect(q.link(page: 2) == "/?q=a%20b%26c&sort=state&page=2")
        #expect(q.link(state: .some("Ready")) == "/?q=a%20b%26c&state=Ready&sort=state")
        #expect(OverviewQuery().link() == "/")
    }

    @Test("an instance's row: its state from Ready and suspend, short revision, and no credentials from its URL")
    func rowOfInstance() throws {
        let json = try JSONValue.parse(#"""
        {"apiVersion":"flotilla.dev/v1alpha1","kind":"FluxInstance","metadata":{"name":"apps","namespace":"team-a"},
         "spec":{"git":{"url":"https://bot:s3cret@git.example/team-a.git"}},
         "status":{"lastAppliedRevision":"0123456789abcdef","behind":2,"conditions":[{"type":"Ready","status":"False","reason":"SyncFailed","message":"boom"}]}}
        """#)
        var instance = try json.decode(FluxInstance.self)
        let row = InstanceRow(instance)
        #expect((row.state, row.reason, row.revision, row.behind) == ("Failing", "SyncFailed", "0123456", 2))
        #expect(row.source == "https://git.example/team-a.git")
        #expect(!row.source.contains("s3cret"))
        instance.spec.suspend = true
        #expect(InstanceRow(instance).state == "Suspended")
        #expect(InstanceRow.redacted("git@github.com:org/repo.git") == "git@github.com:org/repo.git")
        #expect(InstanceRow.redacted("https://bot:pa@ss@git.example/x.git") == "https://git.example/x.git")
        #expect(InstanceRow.redacted("https://git.example/x.git?private_token=abc") == "https://git.example/x.git")
        #expect(InstanceRow.redacted("https://git.example/a@b/x.git") == "https://git.example/a@b/x.git")
        #expect(InstanceRow.redacted("ssh://git@host/x/y@z") == "ssh://host/x/y@z")
    }

    @Test("each action is the CLI verb's patch; approving deletions needs a revision")
    func actions() throws {
        let sync = try Action.sync.patch(form: [:])
        #expect(sync["metadata"]?["annotations"]?[Flotilla.reconcileRequestedAt]?.stringValue?.isEmpty == false)
        #expect(try Action.sync.patch(form: [:]) != sync, "two requests are two")
        #expect(try Action.suspend.patch(form: [:]) == ["spec": ["suspend": true]])
        #expect(try Action.resume.patch(form: [:]) == ["spec": ["suspend": false]])
        #expect(try Action.approvePrune.patch(form: ["revision": "abc123"])["metadata"]?["annotations"]?[Flotilla.approvePruneAnnotation] == "abc123")
        #expect(throws: ActionError.self) { try Action.approvePrune.patch(form: ["revision": "abc; rm"]) }
        #expect(throws: ActionError.self) { try Action.approvePrune.patch(form: [:]) }
    }
}

@Suite("Inventory tree")
struct InventoryTreeTests {
    @Test("objects by namespace and kind, cluster-scoped apart, problems counted and opened")
    func tree() {
        let inventory = """
        apps/v1 Deployment team-a web 1
        v1 ConfigMap team-a settings 2
        v1 ConfigMap team-a zeta 3
        v1 Namespace - team-a 4
        rbac.authorization.k8s.io/v1 ClusterRole - reader 5
        bad line
        """
        let tree = InventoryTree(inventory: inventory, unhealthy: ["team-a:deployment/web": "InProgress: 1/2 ready"],
                                 drifted: ["team-a:configmap/settings": "data.greeting"])
        #expect(tree.total == 5)
        #expect(tree.namespaces.map(\.name) == ["cluster-scoped", "team-a"])
        let a = tree.namespaces[1]
        #expect((a.count, a.problems, a.open) == (3, 2, true))
        #expect(a.kinds.map(\.kind) == ["ConfigMap", "Deployment"])
        #expect(a.kinds[0].objects.map(\.name) == ["settings", "zeta"])
        #expect(a.kinds[0].objects[0].drift == "data.greeting" && a.kinds[0].objects[0].problem)
        #expect(a.kinds[1].objects[0].health == "InProgress: 1/2 ready")
        #expect(!tree.namespaces[0].open && tree.namespaces[0].kinds.map(\.kind) == ["ClusterRole", "Namespace"])
    }
}

@Suite("Requests from the page")
struct RequestActionTests {
    func request(_ patch: JSONValue) throws -> (key: String, request: InstanceRequest) {
        let annotations = try #require(patch["metadata"]?["annotations"]?.objectValue)
        let (key, value) = try #require(annotations.first)
        return (key, try JSONDecoder().decode(InstanceRequest.self, from: Data((value.stringValue ?? "").utf8)))
    }

    @Test("lock, unlock and release are the CLI's requests, named by the asking user")
    func requests() throws {
        let lock = try request(Action.lock.patch(form: ["workload": " team-a:deployment/web "], user: "alice"))
        #expect(lock.key.hasPrefix(Flotilla.requestAnnotationPrefix) && lock.key.count <= Flotilla.requestAnnotationPrefix.count + 63)
        #expect((lock.request.action, lock.request.workloads, lock.request.lock, lock.request.user) == (.policy, ["team-a:deployment/web"], true, "alice"))
        #expect(try request(Action.unlock.patch(form: ["workload": "team-a:deployment/web"])).request.lock == false)
        let release = try request(Action.release.patch(form: ["workload": "team-a:deployment/web", "image": "registry.example/web:1.2"]))
        #expect((release.request.action, release.request.image) == (.release, "registry.example/web:1.2"))
    }

    @Test("a workload that is not namespace:kind/name, or an image without a tag, is refused before anything is written")
    func refused() {
        for bad in ["web", "team-a:web", "team-a:deployment/", "a b:deployment/web", "team-a:deployment/web\"}"] {
            #expect(throws: ActionError.self) { try Action.lock.patch(form: ["workload": bad]) }
        }
        #expect(throws: ActionError.self) { try Action.release.patch(form: ["workload": "team-a:deployment/web", "image": "nginx"]) }
        #expect(throws: ActionError.self) { try Action.release.patch(form: ["workload": "team-a:deployment/web", "image": "nginx :1"]) }
        #expect(throws: ActionError.self, "a registry port is not a tag") {
            try Action.release.patch(form: ["workload": "team-a:deployment/web", "image": "registry:5000/team/web"])
        }
        #expect(Action.isWorkloadID(":clusterrole/reader"), "cluster-scoped: an empty namespace")
    }
}

@Suite("Page paths")
struct PagePathTests {
    @Test("only a namespace (DNS label) and a name (DNS subdomain) reach an API path", arguments: [
        ("team-a", "apps", true), ("team-a", "apps.v2", true), ("team-a", "apps%2Fstatus", false), ("..", "apps", false),
        ("team-a", "..", false), ("Team", "apps", false), ("team-a", "a?b", false), ("-x", "apps", false), ("team-a", String(repeating: "a", count: 254), false),
    ])
    func refs(namespace: String, name: String, valid: Bool) {
        #expect(DashboardServer.isObjectRef(namespace: namespace, name: name) == valid)
    }
}
