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
