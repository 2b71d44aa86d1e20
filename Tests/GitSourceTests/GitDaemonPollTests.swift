import Foundation
@testable import GitSource
import GitTesting
import Testing

/// A mirror of `url`; `direct` false polls through libgit2 (the reference).
func daemonMirror(_ url: String, direct: Bool = true, timeout: Duration = .seconds(20)) -> GitMirror {
    var o = GitMirror.Options(url: url, directory: tempDir("mirror"))
    o.timeout = timeout
    o.gitDaemonPollsDirect = direct
    return GitMirror(o)
}

/// Client sockets of this network namespace connected to 127.0.0.1:`port` and still ESTABLISHED
/// (/proc/net/tcp: state 01), i.e. polls that still hold their connection.
func establishedConnections(to port: Int) throws -> Int {
    let remote = String(format: "0100007F:%04X", port)
    // Read to the end: /proc files report a size of 0, and one read returns a page at most.
    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/net/tcp"))
    defer { try? handle.close() }
    let table = try handle.readToEnd() ?? Data()
    return String(decoding: table, as: UTF8.self).split(separator: "\n").dropFirst().filter { line in
        let fields = line.split(separator: " ")
        return fields.count > 3 && fields[2] == remote && fields[3] == "01"
    }.count
}

@Suite("git:// polls with deadlines", .serialized)
struct GitDaemonPollTests {
    @Test("the request line and which URLs it takes: the path as git sends it, host and port, IPv6 in brackets; userinfo and escapes stay with libgit2")
    func remotes() throws {
        let plain = try #require(GitDaemonRemote(url: "git://git.example.com/org/app.git"))
        #expect(plain.path == "/org/app.git" && plain.connectPort == 9418)
        #expect(String(decoding: plain.request, as: UTF8.self) == "0036git-upload-pack /org/app.git\0host=git.example.com\0")
        let ported = try #require(GitDaemonRemote(url: "git://127.0.0.1:9999/srv/repo.git"))
        #expect(String(decoding: ported.request, as: UTF8.self) == "0036git-upload-pack /srv/repo.git\0host=127.0.0.1:9999\0")
        #expect(GitDaemonRemote(url: "git://host/~alice/repo.git")?.path == "~alice/repo.git")
        let v6 = try #require(GitDaemonRemote(url: "git://[::1]:9418/r.git"))
        #expect(v6.host == "::1" && String(decoding: v6.request, as: UTF8.self).hasSuffix("host=[::1]:9418\0"))
        for url in ["git://user@host/r.git", "git://host/a%20b.git", "git://host", "git://host/", "https://host/r.git", "ssh://host/r.git", "/srv/r.git"] {
            #expect(GitDaemonRemote(url: url) == nil, "\(url)")
        }
        #expect(daemonMirror("git://127.0.0.1:1/r.git").pollsGitDaemonDirectly)
        #expect(!daemonMirror("git://127.0.0.1:1/r.git", direct: false).pollsGitDaemonDirectly)
        #expect(!daemonMirror("file:///srv/r.git").pollsGitDaemonDirectly)
    }

    @Test("direct polls see what libgit2 sees: branches, an annotated tag and its peeled id, HEAD's branch, an empty repository, a new commit")
    func sameAsLibgit2() async throws {
        let up = try UpstreamRepo()
        try up.addTaggedFeatureBranch()
        let empty = up.root + "/empty.git"
        try sh(["git", "init", "-q", "--bare", empty])
        let daemon = try TestGitDaemon(root: up.root)
        defer { daemon.stop() }
        for path in [up.bare, empty] {
            let nio = daemonMirror(daemon.url(path))
            #expect(nio.pollsGitDaemonDirectly)
            let polled = try await nio.remoteHeads()
            let reference = try await daemonMirror(daemon.url(path), direct: false).remoteHeads()
            #expect(polled.refs == reference.refs)
            #expect(polled.defaultBranch == reference.defaultBranch)
            if path == up.bare {
                #expect(polled.refs["refs/tags/v1^{}"] == polled.branch("feature"))
                #expect(polled.refs["refs/tags/v1"] != nil && polled.refs["refs/tags/v1"] != polled.branch("feature"))
                #expect(polled.defaultBranch == "feature")
            } else {
                #expect(polled.refs.isEmpty)
            }
        }
        // The mirror fetches over git:// (libgit2) and its next poll sees a new commit.
        let mirror = daemonMirror(daemon.url(up.bare))
        #expect(try await mirror.fetch()["main"] == (try up.head()))
        let next = try up.commit(["deploy/app.yaml": "kind: ConfigMap\nmetadata: {name: b}\n"], message: "b")
        #expect(try await mirror.remoteHeads().branch("main") == next)
    }

    @Test("a repository the daemon does not serve fails with the daemon's words, as libgit2's does; a server that hangs up is NotFound; a closed port is Unreachable like libgit2's")
    func refusals() async throws {
        let up = try UpstreamRepo()
        let quiet = try TestGitDaemon(root: up.root)
        defer { quiet.stop() }
        let missing = await pollError(daemonMirror(quiet.url("nope.git")))
        let reference = await pollError(daemonMirror(quiet.url("nope.git"), direct: false))
        #expect(missing?.message == "list remote refs of \(quiet.url("nope.git")): remote error: access denied or repository not exported: /nope.git")
        #expect(missing == reference, "libgit2: \(String(describing: reference))")

        let hangUp = try HangUpServer()
        let hungUp = await pollError(daemonMirror("git://127.0.0.1:\(hangUp.port)/r.git"))
        #expect(hungUp?.kind == .notFound, "\(String(describing: hungUp))")
        #expect(hungUp?.message == "list remote refs of git://127.0.0.1:\(hangUp.port)/r.git: the server closed the connection without listing refs (no such repository, or it is not exported)")

        let informative = try TestGitDaemon(root: up.root, informativeErrors: true)
        defer { informative.stop() }
        let told = await pollError(daemonMirror(informative.url("nope.git")))
        #expect(told?.message == "list remote refs of \(informative.url("nope.git")): remote error: no such repository: /nope.git", "\(String(describing: told))")

        let closed = try freePort()
        let refused = await pollError(daemonMirror("git://127.0.0.1:\(closed)/r.git"))
        let libgit2 = await pollError(daemonMirror("git://127.0.0.1:\(closed)/r.git", direct: false))
        #expect(refused?.kind == .unreachable && libgit2?.kind == .unreachable, "\(String(describing: refused)) / \(String(describing: libgit2))")
        #expect(refused?.message == "list remote refs of git://127.0.0.1:\(closed)/r.git: failed to connect to 127.0.0.1:\(closed): Connection refused")
    }

    @Test("a server that accepts and never answers: the poll times out, and its connection is closed")
    func silentServer() async throws {
        let silent = try SilentServer()
        let url = "git://127.0.0.1:\(silent.port)/r.git"
        let started = ContinuousClock.now
        let errors = await withTaskGroup(of: GitError?.self) { group in
            for _ in 0..<4 { group.addTask { await pollError(daemonMirror(url, timeout: .milliseconds(500))) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(errors.allSatisfy { $0?.kind == .timeout }, "\(errors)")
        #expect(errors.first??.message == "list remote refs of \(url) timed out after 0.5 seconds")
        #expect(try await within(5) { (try? establishedConnections(to: silent.port)) == 0 }, "every poll's socket is closed")
    }

    @Test("a cancelled poll ends at once and closes its connection")
    func cancelled() async throws {
        let silent = try SilentServer()
        let mirror = daemonMirror("git://127.0.0.1:\(silent.port)/r.git")
        let task = Task { await pollError(mirror) }
        #expect(try await within(5) { (try? establishedConnections(to: silent.port)) == 1 })
        let started = ContinuousClock.now
        task.cancel()
        let error = await task.value
        #expect(error?.kind == .cancelled, "\(String(describing: error))")
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(try await within(5) { (try? establishedConnections(to: silent.port)) == 0 })
    }
}

/// Accepts connections on 127.0.0.1, reads the request and closes each without a word (what
/// `git daemon` without `--informative-errors` did for a repository it does not serve).
final class HangUpServer: Sendable {
    let fd: Int32
    let port: Int

    init() throws {
        let (fd, port) = try loopbackListener()
        (self.fd, self.port) = (fd, port)
        Thread.detachNewThread {
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                var request = [UInt8](repeating: 0, count: 4096)
                _ = read(client, &request, request.count)
                close(client)
            }
        }
    }

    deinit { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
}
