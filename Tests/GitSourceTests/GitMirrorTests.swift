import Foundation
import GitSource
import GitTesting
import Testing

@Suite("GitMirror over file://", .serialized)
struct FileTransportTests {
    func mirror(_ upstream: UpstreamRepo, readOnly: Bool = false, suffix: String? = nil) -> GitMirror {
        var o = GitMirror.Options(url: upstream.url, directory: tempDir("mirror"))
        o.readOnly = readOnly
        o.commitMessageSuffix = suffix
        o.committer = GitSignature(name: "Flotilla", email: "flotilla@example.com")
        return GitMirror(o)
    }

    @Test("clone, then fetch; the remote ref check sees a new commit without fetching")
    func cloneFetchPoll() async throws {
        let up = try UpstreamRepo()
        let m = mirror(up)
        let branches = try await m.fetch()
        #expect(branches["main"] == (try up.head()))
        let heads = try await m.remoteHeads()
        #expect(heads.branch("main") == (try up.head()))
        #expect(heads.defaultBranch == "main")
        let next = try up.commit(["deploy/more.yaml": "kind: Secret\n"], message: "more")
        #expect(try await m.remoteHeads().branch("main") == next, "the poll sees the new commit")
        #expect(try await m.revision(branch: "main") != next, "nothing fetched yet")
        try await m.fetch()
        #expect(try await m.revision(branch: "main") == next)
    }

    @Test("polls of one remote with the same credentials share a recent result; other credentials, maxAge 0 and a push ask again")
    func sharedPolls() async throws {
        let up = try UpstreamRepo()
        let polls = SharedPolls()
        func mirror(_ credentials: GitCredentials = .none) -> GitMirror {
            var o = GitMirror.Options(url: up.url, directory: tempDir("mirror"))
            o.credentials = credentials
            o.polls = polls
            return GitMirror(o)
        }
        let (a, b, other) = (mirror(), mirror(), mirror(.userPassword(username: "u", password: "p")))
        let head = try up.head()
        #expect(try await a.remoteHeads(maxAge: .seconds(60)).branch("main") == head)
        #expect(try await b.remoteHeads(maxAge: .seconds(60)).branch("main") == head)
        #expect(polls.reused == 1, "b reused a's answer")
        _ = try await other.remoteHeads(maxAge: .seconds(60))
        #expect(polls.reused == 1, "other credentials never see a's answer")

        let next = try up.commit(["x.yaml": "a: 1\n"], message: "outside")
        #expect(try await b.remoteHeads(maxAge: .seconds(60)).branch("main") == head, "within maxAge the shared answer stands")
        #expect(try await b.remoteHeads().branch("main") == next, "maxAge 0 asks the remote")

        try await a.fetch()
        let pushed = try await a.commitAndPush(branch: "main", message: "edit") { _ in ["y.yaml": Array("b: 2\n".utf8)] }
        #expect(try await b.remoteHeads(maxAge: .seconds(60)).branch("main") == pushed?.id, "a push forgets the shared answer")

    }

    @Test("a fetch reports the remote's heads as a poll lists them (HEAD's branch, tags, peeled ids), and other mirrors may reuse them like a poll's")
    func fetchReportsHeads() async throws {
        let up = try UpstreamRepo()
        try up.addTaggedFeatureBranch()
        let polls = SharedPolls()
        func mirror() -> GitMirror {
            var o = GitMirror.Options(url: up.url, directory: tempDir("mirror"))
            o.polls = polls
            return GitMirror(o)
        }
        let (fetcher, poller) = (mirror(), mirror())
        let (branches, heads) = try await fetcher.fetchReportingHeads()
        let listed = try await poller.remoteHeads()
        #expect(heads.refs == listed.refs && heads.defaultBranch == "feature" && listed.defaultBranch == "feature")
        #expect(heads.refs["refs/tags/v1^{}"] == branches["feature"])
        #expect(branches["main"] == (try up.head()))
        let reused = polls.reused
        let next = try up.commit(["x.yaml": "a: 1\n"], message: "later")
        let again = try await fetcher.fetchReportingHeads()
        #expect(again.heads.branch("main") == next && again.branches["main"] == next)
        #expect(try await poller.remoteHeads(maxAge: .seconds(60)).branch("main") == next, "the fetch's answer is the shared one")
        #expect(polls.reused == reused + 1)
    }

    @Test("fetches use an in-memory remote: deleted branches are pruned, nothing is written to the mirror's config")
    func fetchWithoutConfig() async throws {
        let up = try UpstreamRepo()
        _ = try sh(["git", "--git-dir", up.bare, "branch", "feature", "main"])
        let m = mirror(up)
        #expect(try await m.fetch().keys.sorted() == ["feature", "main"])
        _ = try sh(["git", "--git-dir", up.bare, "branch", "-D", "feature"])
        #expect(try await m.fetch().keys.sorted() == ["main"], "a branch deleted upstream is pruned")
        // libgit2 1.5 leaks PCRE2 match data on every config lookup a named remote makes.
        let config = try String(contentsOfFile: m.options.directory + "/mirror.git/config", encoding: .utf8)
        #expect(!config.contains("[remote"), "no remote in the mirror's config:\n\(config)")
    }

    @Test("files under paths are read from the object database; a bad path is an error")
    func readTree() async throws {
        let up = try UpstreamRepo(files: ["deploy/a.yaml": "a: 1\n", "deploy/sub/b.yml": "b: 2\n", "other/c.yaml": "c: 3\n", "README.md": "x"])
        let m = mirror(up)
        let head = try await m.fetch()["main"]!
        let files = try await m.files(at: head, paths: ["deploy"])
        #expect(files.map(\.path).sorted() == ["deploy/a.yaml", "deploy/sub/b.yml"])
        let blobs = try await m.blobs(files.map(\.blobID))
        #expect(blobs[files.first { $0.path == "deploy/a.yaml" }!.blobID] == Array("a: 1\n".utf8))
        #expect(try await m.files(at: head).count == 4)
        await #expect(throws: GitError.self) { try await m.files(at: head, paths: ["missing"]) }
        do {
            _ = try await m.files(at: head, paths: ["../etc"])
            Issue.record("escaping path accepted")
        } catch {
            #expect(error.message.contains("escapes the repository"))
        }
    }

    @Test("changed paths and commits between revisions, limited to paths")
    func history() async throws {
        let up = try UpstreamRepo()
        let first = try up.head()
        try up.commit(["deploy/app.yaml": "kind: ConfigMap\ndata: {}\n"], message: "change app")
        try up.commit(["README.md": "changed\n"], message: "docs only")
        let m = mirror(up)
        let head = try await m.fetch()["main"]!
        #expect(try await m.changedPaths(from: first, to: head) == ["README.md", "deploy/app.yaml"])
        #expect(try await m.changedPaths(from: first, to: head, paths: ["deploy"]) == ["deploy/app.yaml"])
        let commits = try await m.commits(from: first, to: head, paths: ["deploy"])
        #expect(commits.map(\.summary) == ["change app"], "BEHIND counts only commits touching the paths")
        #expect(try await m.commits(from: first, to: head).count == 2)
    }

    @Test("commit and push: the change lands upstream with the identity and [ci skip]")
    func commitAndPush() async throws {
        let up = try UpstreamRepo()
        let m = mirror(up, suffix: "[ci skip]")
        let pushed = try await m.commitAndPush(branch: "main", message: "Update image", author: GitSignature(name: "Alice", email: "alice@example.com")) { tree in
            var app = try tree.read("deploy/app.yaml") ?? []
            app += Array("data: {image: v2}\n".utf8)
            return ["deploy/app.yaml": app, "deploy/new/extra.yaml": Array("x: 1\n".utf8), "README.md": nil]
        }
        #expect(pushed?.attempts == 1)
        #expect(try up.head() == pushed?.id)
        let log = try sh(["git", "--git-dir", up.bare, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%B"])
        #expect(log.hasPrefix("Alice <alice@example.com>|Flotilla <flotilla@example.com>|Update image"))
        #expect(log.hasSuffix("Update image\n\n[ci skip]"), "\(log)")
        #expect(try up.show("main:deploy/app.yaml") == "kind: ConfigMap\ndata: {image: v2}")
        #expect(try up.show("main:deploy/new/extra.yaml") == "x: 1")
        #expect((try? up.show("main:README.md")) == nil, "deleted")
        let nothing = try await m.commitAndPush(branch: "main", message: "noop") { _ in ["deploy/new/extra.yaml": Array("x: 1\n".utf8)] }
        #expect(nothing == nil, "an edit that changes nothing makes no commit")
    }

    @Test("a writer whose head moved re-applies its change on the new head")
    func staleHead() async throws {
        let up = try UpstreamRepo()
        let c = mirror(up)
        try await c.fetch()
        try up.commit(["upstream.txt": "moved"], message: "someone else")
        let pc = try await c.commitAndPush(branch: "main", message: "c") { tree in
            ["c.txt": try tree.read("upstream.txt")]
        }
        #expect(pc?.attempts == 1, "the fetch inside the push already saw the new head")
        #expect(try up.show("main:c.txt") == "moved")
        #expect(try up.show("main:upstream.txt") == "moved")
    }

    @Test("the sync tag is created and moved as an annotated tag")
    func syncTag() async throws {
        let up = try UpstreamRepo()
        let m = mirror(up)
        let first = try await m.fetch()["main"]!
        try await m.moveTag("flux-sync", to: first, message: "Sync pointer")
        #expect(try sh(["git", "--git-dir", up.bare, "rev-parse", "flux-sync^{commit}"]) == first)
        #expect(try sh(["git", "--git-dir", up.bare, "cat-file", "-t", "flux-sync"]) == "tag")
        let next = try up.commit(["x": "1"], message: "next")
        try await m.fetch()
        try await m.moveTag("flux-sync", to: next, message: "Sync pointer")
        #expect(try sh(["git", "--git-dir", up.bare, "rev-parse", "flux-sync^{commit}"]) == next)
    }

    @Test("a read-only mirror refuses every write")
    func readOnly() async throws {
        let up = try UpstreamRepo()
        let m = mirror(up, readOnly: true)
        let head = try await m.fetch()["main"]!
        do {
            _ = try await m.commitAndPush(branch: "main", message: "x") { _ in ["x": []] }
            Issue.record("read-only mirror pushed")
        } catch {
            #expect(error.kind == .readOnly)
        }
        await #expect(throws: GitError.self) { try await m.moveTag("flux-sync", to: head, message: "x") }
        #expect(try up.head() == head)
    }

    @Test("URLs shown to users carry no credentials")
    func redaction() {
        #expect(GitURL.redacted("https://user:s3cret@example.com/org/repo") == "https://example.com/org/repo")
        #expect(GitURL.redacted("ssh://git:pw@example.com:22/org/repo") == "ssh://git@example.com:22/org/repo")
        #expect(GitURL.redacted("git@github.com:org/repo") == "git@github.com:org/repo")
        // The userinfo ends at the authority's last "@" (as git reads it); a query (token) is dropped.
        #expect(GitURL.redacted("https://bot:pa@ss@example.com/x.git") == "https://example.com/x.git")
        #expect(GitURL.redacted("https://example.com/x.git?private_token=abc") == "https://example.com/x.git")
        #expect(GitURL.redacted("https://example.com/a@b/x.git") == "https://example.com/a@b/x.git")
        #expect(GitURL.parse("git@github.com:org/repo") == GitURL.Parts(scheme: "ssh", user: "git", host: "github.com", port: nil))
        #expect(GitURL.parse("ssh://root@127.0.0.1:2222/x")?.port == 2222)
    }
}
