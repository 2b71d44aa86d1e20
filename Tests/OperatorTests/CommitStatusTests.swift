import FlotillaAPI
import Foundation
import GitSource
import GitTesting
import KubeClient
import KubeModel
import KubeTesting
@testable import Operator
import Testing

/// Commit statuses as each host's API documents them, and from a real sync to a loopback API.
@Suite("Commit status", .serialized)
struct CommitStatusTests {
    func request(_ p: CommitStatusProvider, _ state: CommitState, address: String? = nil, url: String = "git@github.com:Org/App.git") throws -> (CommitStatusRequest, JSONValue) {
        let r = try #require(CommitStatusRequest.make(p, address: address ?? CommitStatusRequest.defaultAddress(p, host: GitURL.parse(url)?.host ?? ""),
                                                      repository: url, sha: "abc123", state: state, context: "flotilla/team-a/apps",
                                                      description: "applied", link: "https://dash.example/apps", token: "tkn"))
        return (r, try JSONValue.parse(r.body))
    }

    @Test("GitHub, Gitea, GitLab and Bitbucket Cloud: each API's path, auth header and states")
    func shapes() throws {
        let (gh, ghBody) = try request(.github, .pending)
        #expect(gh.url == "https://api.github.com/repos/org/app/statuses/abc123" && gh.headers["Authorization"] == "Bearer tkn")
        #expect(ghBody == ["state": "pending", "context": "flotilla/team-a/apps", "description": "applied", "target_url": "https://dash.example/apps"])
        let (ghe, _) = try request(.github, .success, url: "https://git.corp.example/org/app.git")
        #expect(ghe.url == "https://git.corp.example/api/v3/repos/org/app/statuses/abc123", "GitHub Enterprise's API")
        let (gitea, giteaBody) = try request(.gitea, .failure, url: "https://gitea.example/org/app")
        #expect(gitea.url == "https://gitea.example/api/v1/repos/org/app/statuses/abc123" && gitea.headers["Authorization"] == "token tkn")
        #expect(giteaBody["state"] == "failure")
        let (gitlab, gitlabBody) = try request(.gitlab, .pending, url: "git@gitlab.com:group/sub/app.git")
        #expect(gitlab.url == "https://gitlab.com/api/v4/projects/group%2Fsub%2Fapp/statuses/abc123" && gitlab.headers["PRIVATE-TOKEN"] == "tkn")
        #expect(gitlabBody["state"] == "running" && gitlabBody["name"] == "flotilla/team-a/apps")
        let (bb, bbBody) = try request(.bitbucket, .success, url: "git@bitbucket.org:team/app.git")
        #expect(bb.url == "https://api.bitbucket.org/2.0/repositories/team/app/commit/abc123/statuses/build")
        #expect(bbBody["state"] == "SUCCESSFUL" && bbBody["key"] == "flotilla/team-a/apps" && bbBody["url"] == "https://dash.example/apps")
        #expect(CommitStatusRequest.make(.github, address: "https://api.github.com", repository: "https://github.com/app", sha: "a", state: .pending,
                                         context: "c", description: "d", link: nil, token: "t") == nil, "no owner: no status")
    }

    @Test("a sync reports pending, then success, then failure for a broken revision, to the API with the Secret's token")
    func fromASync() async throws {
        let api = try WebhookSink()
        defer { api.stop() }
        let up = try UpstreamRepo(files: ["a.yaml": cm("a")])
        let key = DeployKey.generateEd25519(comment: "status")
        let sshd = try TestSSHD(authorizedKeys: [key.publicKey])
        defer { sshd.stop() }
        let url = sshd.url(up.bare)
        let path = String(GitURL.repository(url).drop { $0 != "/" }.dropFirst())
        try await withOperator(namespaces: ["team-a"], configure: { $0.notifications = NotificationDispatcher(allowPrivateNetworks: true) }) { f in
            _ = try await f.client.create(.secrets, ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "git", "namespace": "team-a"],
                                                     "stringData": ["identity": .string(key.privateKeyOpenSSH), "known_hosts": .string(sshd.hostKeyLine)]])
            _ = try await f.client.create(.secrets, ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "api", "namespace": "team-a"],
                                                     "stringData": ["token": "ghp-test-token"]])
            try await f.apply("apps", namespace: "team-a", spec: ["git": gitSpec(url, ["secretRef": ["name": "git"]]),
                                                                   "commitStatus": ["provider": "github", "secretRef": ["name": "api"], "address": .string(api.server.url),
                                                                                    "link": "https://dash.example/team-a/apps"]])
            let first = try up.head()
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: first)
            func states(_ sha: String) -> [String] {
                api.requests().filter { $0.path == "/repos/\(path)/statuses/\(sha)" }.compactMap { r -> String? in
                    guard let json = try? JSONValue.parse(Array(r.body.utf8)), r.headers["Authorization"] == "Bearer ghp-test-token" else { return nil }
                    return json["state"]?.stringValue
                }
            }
            #expect(try await eventually { states(first) == ["pending", "success"] }, "\(api.requests().map(\.body))")
            let log = try String(contentsOfFile: api.log, encoding: .utf8)
            #expect(log.contains("flotilla/team-a/apps") && log.contains("https://dash.example/team-a/apps"))
            let broken = try up.commit(["a.yaml": "kind: [unclosed"], message: "broken")
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "ParseFailed")
            #expect(try await eventually { states(broken) == ["pending", "failure"] }, "\(api.requests().map(\.path))")
            #expect(api.requests().allSatisfy { !$0.body.contains("ghp-test-token") }, "the token is a header, never in a body")
        }
    }
}
