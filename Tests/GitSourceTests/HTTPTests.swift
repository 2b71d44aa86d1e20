import Foundation
import GitSource
import GitTesting
import Testing

/// git's smart HTTP (`git http-backend`) behind basic auth, on 127.0.0.1.
final class SmartHTTPServer {
    let process = Process()
    let port: Int

    init(projectRoot: String, user: String, password: String) throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/git-http-server.py").path
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script, projectRoot, user, password]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        guard let p = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw FixtureError("the smart HTTP server did not start")
        }
        port = p
    }

    func url(_ repo: String, userinfo: String = "") -> String { "http://\(userinfo)127.0.0.1:\(port)/\(repo)" }

    func stop() { kill(process.processIdentifier, SIGKILL) }
}

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
