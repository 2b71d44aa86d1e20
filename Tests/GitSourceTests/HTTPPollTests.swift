import Foundation
@testable import GitSource
import GitTesting
import Testing

@Suite("Smart HTTP polls over kept connections", .serialized)
struct HTTPPollTests {
    @Test("which URLs poll directly: http(s) without userinfo, query, fragment or escapes; the discovery URL; basic auth from a username and password")
    func remotes() throws {
        let plain = try #require(SmartHTTPRemote(url: "https://github.com/org/app.git/", credentials: .none))
        #expect(plain.infoRefs == "https://github.com/org/app.git/info/refs?service=git-upload-pack" && plain.authorization == nil)
        let authed = try #require(SmartHTTPRemote(url: "http://127.0.0.1:8080/app", credentials: .userPassword(username: "flux", password: "s3cret")))
        #expect(authed.infoRefs == "http://127.0.0.1:8080/app/info/refs?service=git-upload-pack")
        #expect(authed.authorization == "Basic " + Data("flux:s3cret".utf8).base64EncodedString())
        #expect(SmartHTTPRemote(url: "https://github.com/org/app.git", credentials: .sshKey(privateKey: "k"))?.authorization == nil)
        for url in ["https://user:pw@github.com/org/app.git", "https://github.com/org/app.git?x=1", "https://github.com/org/a%20b.git",
                    "https://github.com/org/app.git#main", "ssh://git@github.com/org/app.git", "git://github.com/org/app.git",
                    "https:///nohost", "https://github.com/org/a b.git"] {
            #expect(SmartHTTPRemote(url: url, credentials: .none) == nil, "\(url) stays with libgit2")
        }
    }

    @Test("a discovery body: the service announcement, a flush, then the v0 advertisement; a dumb server's answer is refused")
    func discoveryBodies() throws {
        func pkt(_ s: String) -> String { String(format: "%04x", s.utf8.count + 4) + s }
        let id = String(repeating: "a", count: 40)
        let body = pkt("# service=git-upload-pack\n") + "0000" + pkt("\(id) HEAD\0multi_ack symref=HEAD:refs/heads/main\n") + pkt("\(id) refs/heads/main\n") + "0000"
        let heads = try SmartHTTPRemote.heads(Array(body.utf8))
        #expect(heads.branch("main") == id && heads.defaultBranch == "main")
        #expect(throws: GitError.self) { try SmartHTTPRemote.heads(Array("\(id)\trefs/heads/main\n".utf8)) }
        #expect(throws: GitError.self) { try SmartHTTPRemote.heads(Array((pkt("# service=git-receive-pack\n") + "0000").utf8)) }
        #expect(throws: GitError.self, "no flush after the advertisement") { try SmartHTTPRemote.heads(Array((pkt("# service=git-upload-pack\n") + "0000" + pkt("\(id) refs/heads/main\n")).utf8)) }
    }

    func mirror(_ url: String, polls: SmartHTTPPolls?, credentials: GitCredentials = .userPassword(username: "flux", password: "s3cret-token"),
                timeout: Duration = .seconds(20)) -> GitMirror {
        var o = GitMirror.Options(url: url, directory: tempDir("http-poll"))
        o.credentials = credentials
        o.httpPolls = polls
        o.polls = SharedPolls()
        o.timeout = timeout
        return GitMirror(o)
    }

    @Test("polls list what libgit2 lists (HEAD's branch, peeled tags) and reuse one connection")
    func sameAsLibgit2() async throws {
        let up = try UpstreamRepo()
        try up.addTaggedFeatureBranch()
        let server = try SmartHTTPServer(projectRoot: up.root, user: "flux", password: "s3cret-token")
        defer { server.stop() }
        let polls = SmartHTTPPolls()
        let direct = mirror(server.url("upstream.git"), polls: polls)
        let viaLibgit2 = mirror(server.url("upstream.git"), polls: nil)
        #expect(direct.pollsOverHTTPDirectly && !viaLibgit2.pollsOverHTTPDirectly)
        let expected = try await viaLibgit2.remoteHeads()
        for _ in 0..<5 {
            let heads = try await direct.remoteHeads()
            #expect(heads.refs == expected.refs && heads.defaultBranch == "feature")
        }
        #expect(expected.refs["refs/tags/v1^{}"] != nil)
        #expect(polls.answered == 5 && polls.fellBack == 0)
        #expect(try establishedConnections(to: server.port) == 1, "five polls, one kept connection")
        let next = try up.commit(["x.yaml": "a: 1\n"], message: "later")
        #expect(try await direct.remoteHeads().branch("main") == next)
    }

    @Test("over https with a local CA: polls over a kept connection list what libgit2 lists, and libgit2 fetches; a client that does not trust the CA leaves the poll to libgit2")
    func overTLS() async throws {
        let up = try UpstreamRepo()
        let pki = try localhostCertificate(in: tempDir("pki"))
        try LibGit2.trustOnly(certificateAuthorities: pki.ca)
        let server = try SmartHTTPServer(projectRoot: up.root, user: "flux", password: "s3cret-token", tls: (pki.certificate, pki.key))
        defer { server.stop() }
        #expect(server.url("upstream.git").hasPrefix("https://localhost:"))
        let polls = SmartHTTPPolls(certificateAuthorities: pki.ca)
        let direct = mirror(server.url("upstream.git"), polls: polls)
        #expect(try await direct.fetch()["main"] == (try up.head()), "libgit2 over TLS")
        for _ in 0..<3 { #expect(try await direct.remoteHeads().branch("main") == (try up.head())) }
        #expect(polls.answered == 3 && polls.fellBack == 0)
        let systemRoots = SmartHTTPPolls()
        #expect(try await mirror(server.url("upstream.git"), polls: systemRoots).remoteHeads().branch("main") == (try up.head()))
        #expect(systemRoots.answered == 0 && systemRoots.fellBack == 1, "the handshake failed; libgit2 decided")
    }

    @Test("a refusal or a redirect is left to libgit2: a wrong password is AuthenticationFailed without the secret; a moved repository is followed")
    func fallsBack() async throws {
        let up = try UpstreamRepo()
        let server = try SmartHTTPServer(projectRoot: up.root, user: "flux", password: "s3cret-token")
        defer { server.stop() }
        let polls = SmartHTTPPolls()
        let wrong = mirror(server.url("upstream.git"), polls: polls, credentials: .userPassword(username: "flux", password: "wrong-password"))
        do {
            _ = try await wrong.remoteHeads()
            Issue.record("a wrong password was accepted")
        } catch {
            #expect(error.kind == .authenticationFailed, "\(error)")
            #expect(!error.message.contains("wrong-password"))
        }
        #expect(polls.fellBack == 1 && polls.answered == 0)
        let moved = mirror(server.url("moved/upstream.git"), polls: polls)
        #expect(try await moved.remoteHeads().branch("main") == (try up.head()))
        #expect(polls.fellBack == 2 && polls.answered == 0)
    }

    @Test("attacker: a tenant with a wrong password, or none, gets nothing from the connection or the answer another tenant's right password got")
    func noRideOnAnotherTenantsConnection() async throws {
        let up = try UpstreamRepo()
        let server = try SmartHTTPServer(projectRoot: up.root, user: "flux", password: "s3cret-token")
        defer { server.stop() }
        let polls = SmartHTTPPolls()
        let shared = SharedPolls()
        func tenant(_ credentials: GitCredentials) -> GitMirror {
            var o = GitMirror.Options(url: server.url("upstream.git"), directory: tempDir("tenant"))
            o.credentials = credentials
            o.httpPolls = polls
            o.polls = shared
            return GitMirror(o)
        }
        let owner = tenant(.userPassword(username: "flux", password: "s3cret-token"))
        #expect(try await owner.remoteHeads(maxAge: .seconds(60)).branch("main") == (try up.head()))
        #expect(try establishedConnections(to: server.port) == 1, "the owner's connection is kept")
        for credentials in [GitCredentials.userPassword(username: "flux", password: "guess"), .none] {
            do {
                _ = try await tenant(credentials).remoteHeads(maxAge: .seconds(60))
                Issue.record("\(credentials) got the refs")
            } catch {
                #expect(error.kind == .authenticationFailed, "\(error)")
            }
        }
        #expect(polls.answered == 1 && polls.fellBack == 2, "both refused by the server, then by libgit2")
        #expect(shared.reused == 0, "no shared answer across credentials")
        #expect(try await owner.remoteHeads().branch("main") == (try up.head()))
    }

    @Test("a server that accepts and never answers, or stalls in the body: the poll times out at the mirror's timeout and is not retried through libgit2")
    func deadlines() async throws {
        let silent = try SilentServer()
        let polls = SmartHTTPPolls()
        let clock = ContinuousClock()
        for url in ["http://127.0.0.1:\(silent.port)/repo.git"] {
            let m = mirror(url, polls: polls, credentials: .none, timeout: .seconds(1))
            let started = clock.now
            do {
                _ = try await m.remoteHeads()
                Issue.record("a silent server answered")
            } catch {
                #expect(error.kind == .timeout, "\(error)")
            }
            #expect(clock.now - started < .seconds(4))
        }
        let up = try UpstreamRepo()
        let server = try SmartHTTPServer(projectRoot: up.root, user: "flux", password: "s3cret-token")
        defer { server.stop() }
        let stalled = mirror(server.url("stall/upstream.git"), polls: polls, timeout: .seconds(1))
        let started = clock.now
        do {
            _ = try await stalled.remoteHeads()
            Issue.record("a stalled body answered")
        } catch {
            #expect(error.kind == .timeout, "\(error)")
        }
        #expect(clock.now - started < .seconds(4))
        #expect(polls.fellBack == 0 && polls.answered == 0)
    }
}
