import Crypto
import Foundation
import GitSource
@testable import Operator
import Testing

/// Push webhooks as each git host sends them, verified and parsed without I/O.
@Suite("Webhook deliveries")
struct WebhookDeliveryTests {
    let token = "s3cret-token"

    func hmac(_ body: String, _ key: String? = nil) -> String {
        HMAC<SHA256>.authenticationCode(for: Array(body.utf8), using: SymmetricKey(data: Array((key ?? token).utf8))).map { String(format: "%02x", $0) }.joined()
    }

    func delivery(_ headers: [String: String], _ body: String) -> WebhookDelivery { WebhookDelivery(headers: headers, body: Array(body.utf8)) }

    static let github = #"{"ref":"refs/heads/main","repository":{"clone_url":"https://github.com/Org/App.git","ssh_url":"git@github.com:Org/App.git"}}"#

    @Test("GitHub: the signature decides before anything else; a push names its repository and branch; ping and other events wake nobody")
    func github() {
        let push = delivery(["X-GitHub-Event": "push", "X-GitHub-Delivery": "d1", "X-Hub-Signature-256": "sha256=" + hmac(Self.github)], Self.github)
        #expect(push.verdict(.github, token: token) == .push(PushEvent(repositories: ["github.com/org/app"], branch: "main"), delivery: "d1"))
        let forged = delivery(["X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + hmac(Self.github, "guess")], Self.github)
        #expect(forged.verdict(.github, token: token) == .rejected(status: 401, reason: "the signature or token does not match the receiver's Secret"))
        #expect(delivery(["X-GitHub-Event": "push"], Self.github).verdict(.github, token: token) == WebhookDelivery.badSignature, "unsigned")
        let tampered = delivery(["X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + hmac(Self.github)], Self.github.replacingOccurrences(of: "main", with: "prod"))
        #expect(tampered.verdict(.github, token: token) == WebhookDelivery.badSignature)
        #expect(push.verdict(.github, token: "") == .rejected(status: 401, reason: "the receiver's Secret has no token"))
        let ping = delivery(["X-GitHub-Event": "ping", "X-Hub-Signature-256": "sha256=" + hmac("{}")], "{}")
        #expect(ping.verdict(.github, token: token) == .ignored("ping"))
        let issue = delivery(["X-GitHub-Event": "issues", "X-Hub-Signature-256": "sha256=" + hmac("{}")], "{}")
        #expect(issue.verdict(.github, token: token) == .ignored("event issues is not a push"))
        let garbage = delivery(["X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + hmac("not json")], "not json")
        #expect(garbage.verdict(.github, token: token) == .rejected(status: 400, reason: "the push names no repository"))
    }

    @Test("GitLab's token, Gitea's signature, Bitbucket Server and Cloud, and the generic HMAC receiver")
    func otherHosts() {
        let gitlab = #"{"ref":"refs/heads/dev","project":{"git_http_url":"https://gitlab.com/team/app.git","git_ssh_url":"git@gitlab.com:team/app.git"}}"#
        #expect(delivery(["X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": token], gitlab).verdict(.gitlab, token: token)
                == .push(PushEvent(repositories: ["gitlab.com/team/app"], branch: "dev"), delivery: nil))
        #expect(delivery(["X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "nope"], gitlab).verdict(.gitlab, token: token) == WebhookDelivery.badSignature)
        let gitea = #"{"ref":"refs/heads/main","repository":{"clone_url":"https://gitea.example/org/app.git"}}"#
        #expect(delivery(["X-Gitea-Event": "push", "X-Gitea-Signature": hmac(gitea), "X-Gitea-Delivery": "g1"], gitea).verdict(.gitea, token: token)
                == .push(PushEvent(repositories: ["gitea.example/org/app"], branch: "main"), delivery: "g1"))
        let server = #"{"changes":[{"refId":"refs/heads/main"}],"repository":{"links":{"clone":[{"href":"ssh://git@bitbucket.example:7999/prj/app.git"},{"href":"https://bitbucket.example/scm/prj/app.git"}]}}}"#
        let serverEvent = delivery(["X-Event-Key": "repo:refs_changed", "X-Hub-Signature": "sha256=" + hmac(server), "X-Request-Id": "b1"], server).verdict(.bitbucket, token: token)
        #expect(serverEvent == .push(PushEvent(repositories: ["bitbucket.example/prj/app", "bitbucket.example/scm/prj/app"], branch: "main"), delivery: "b1"))
        let cloud = #"{"push":{"changes":[{"new":{"type":"branch","name":"main"}}]},"repository":{"links":{"html":{"href":"https://bitbucket.org/team/app"}}}}"#
        #expect(delivery(["X-Event-Key": "repo:push", "X-Hub-Signature": "sha256=" + hmac(cloud)], cloud).verdict(.bitbucket, token: token)
                == .push(PushEvent(repositories: ["bitbucket.org/team/app"], branch: "main"), delivery: nil))
        #expect(delivery(["X-Signature": "sha256=" + hmac("")], "").verdict(.generic, token: token) == .push(PushEvent(repositories: [], branch: nil), delivery: nil))
        #expect(delivery(["X-Signature": "sha256=00"], "").verdict(.generic, token: token) == WebhookDelivery.badSignature)
    }

    @Test("one repository in every URL form; a push wakes the instances of its repository and branch (any branch for one that follows the default)")
    func routing() {
        for url in ["https://github.com/org/app.git", "https://github.com/Org/App", "ssh://git@github.com:22/org/app.git", "git@github.com:org/app.git",
                    "https://user@github.com/org/app/"] {
            #expect(GitURL.repository(url) == "github.com/org/app", "\(url)")
        }
        #expect(GitURL.repository("file:///srv/git/app.git") == "/srv/git/app")
        #expect(GitURL.repository("https://github.com/org/app2") != GitURL.repository("https://github.com/org/app"))
    }

    @Test("a replayed delivery is recognised; a burst beyond the bucket is limited, and the bucket refills")
    func guardAdmission() {
        let g = ReceiverGuard(rate: 1, burst: 2, remember: 2)
        let t0 = ContinuousClock.now
        #expect(g.admit("ns/hook", delivery: "a", now: t0) == .admitted)
        #expect(g.admit("ns/hook", delivery: "a", now: t0) == .replay)
        #expect(g.admit("ns/hook", delivery: "b", now: t0) == .admitted)
        #expect(g.admit("ns/hook", delivery: "c", now: t0) == .rateLimited)
        #expect(g.admit("other/hook", delivery: "c", now: t0) == .admitted, "buckets are per receiver")
        #expect(g.admit("ns/hook", delivery: "c", now: t0 + .seconds(1)) == .admitted)
        #expect(g.admit("ns/hook", delivery: "a", now: t0 + .seconds(5)) == .admitted, "only the last ids are remembered")
    }
}

/// Registry webhooks, each checked the way its registry can be.
@Suite("Registry webhook deliveries")
struct RegistryDeliveryTests {
    @Test("Docker Hub and Quay carry the token in the URL, Harbor in Authorization, generic signs; each names the pushed image")
    func registries() {
        let hub = WebhookDelivery(headers: [:], body: Array(#"{"push_data":{"tag":"1.1"},"repository":{"repo_name":"team/app"}}"#.utf8), query: ["token": "t0k"])
        #expect(hub.registryVerdict(.dockerhub, token: "t0k").images == ["docker.io/team/app"])
        #expect(hub.registryVerdict(.dockerhub, token: "other").rejected?.status == 401)
        let harbor = #"{"type":"PUSH_ARTIFACT","event_data":{"resources":[{"resource_url":"harbor.example/library/app:1.0"}]}}"#
        #expect(WebhookDelivery(headers: ["Authorization": "t0k"], body: Array(harbor.utf8)).registryVerdict(.harbor, token: "t0k").images == ["harbor.example/library/app"])
        #expect(WebhookDelivery(headers: [:], body: Array(harbor.utf8)).registryVerdict(.harbor, token: "t0k").rejected?.status == 401)
        let deleted = WebhookDelivery(headers: ["Authorization": "t0k"], body: Array(#"{"type":"DELETE_ARTIFACT"}"#.utf8))
        #expect(deleted.registryVerdict(.harbor, token: "t0k").images == [], "not a push: nothing to scan")
        let quay = WebhookDelivery(headers: [:], body: Array(#"{"docker_url":"quay.io/org/app","updated_tags":["2"]}"#.utf8), query: ["token": "t0k"])
        #expect(quay.registryVerdict(.quay, token: "t0k").images == ["quay.io/org/app"])
        let body = #"{"image":"ghcr.io/org/app"}"#
        let mac = HMAC<SHA256>.authenticationCode(for: Array(body.utf8), using: SymmetricKey(data: Array("t0k".utf8))).map { String(format: "%02x", $0) }.joined()
        #expect(WebhookDelivery(headers: ["X-Signature": "sha256=" + mac], body: Array(body.utf8)).registryVerdict(.generic, token: "t0k").images == ["ghcr.io/org/app"])
        #expect(WebhookDelivery(headers: ["X-Signature": "sha256=00"], body: Array(body.utf8)).registryVerdict(.generic, token: "t0k").rejected?.status == 401)
    }
}
