import Foundation
import GitSource
import GitTesting
import Testing

@Suite("GitMirror over smart HTTP", .serialized)
struct HTTPTests {
    @Test("basic auth: fetch and push with a username and password; wrong or missing credentials fail cleanly")
    func basicAuth() async throws {
        let up = try UpstreamRepo()
        let server = try SmartHTTPServer(projectRoot: up.root, user: "flux", password: "s3cret-token")
        defer { server.stop() }
        var options = GitMirror.Options(url: server.url("upstream.git"), directory: tempDir("http"))
        options.credentials = .userPassword(username: "flux", password: "s3cret-token")
        let mirror = GitMirror(options)
        #expect(try await mirror.fetch()["main"] == (try up.head()))
        #expect(try await mirror.remoteHeads().branch("main") == (try up.head()))
        let pushed = try await mirror.commitAndPush(branch: "main", message: "over http") { _ in ["http.txt": Array("yes".utf8)] }
        #expect(try up.head() == pushed?.id)

        var wrong = GitMirror.Options(url: server.url("upstream.git", userinfo: "flux:wrong-password@"), directory: tempDir("http"))
        wrong.credentials = .userPassword(username: "flux", password: "wrong-password")
        do {
            try await GitMirror(wrong).fetch()
            Issue.record("a wrong password was accepted")
        } catch {
            #expect(error.kind == .authenticationFailed, "\(error)")
            #expect(!error.message.contains("wrong-password"), "no secret in the error: \(error.message)")
        }
        do {
            try await GitMirror(GitMirror.Options(url: server.url("upstream.git"), directory: tempDir("http"))).fetch()
            Issue.record("no credentials was accepted")
        } catch {
            #expect(error.kind == .authenticationFailed)
            #expect(error.message.contains("none are configured"), "\(error.message)")
        }
    }
}
