import Foundation
@testable import GitSource
import GitTesting
import Testing

/// A mirror polling `url` with `key`; `pool` nil polls through libgit2 (the reference).
func sshMirror(_ url: String, key: String, knownHosts: String, pool: SSHConnections?, timeout: Duration = .seconds(20)) -> GitMirror {
    var o = GitMirror.Options(url: url, directory: tempDir("mirror"))
    o.credentials = .sshKey(privateKey: key)
    o.knownHosts = knownHosts
    o.timeout = timeout
    o.sshConnections = pool
    return GitMirror(o)
}

/// The error a poll fails with, or nil when it succeeds.
func pollError(_ mirror: GitMirror) async -> GitError? {
    do {
        _ = try await mirror.remoteHeads()
        return nil
    } catch {
        return error
    }
}

/// Waits up to `seconds` for `condition`.
func within(_ seconds: Double, _ condition: () -> Bool) async throws -> Bool {
    let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < end {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return condition()
}

@Suite("SSH polls over pooled connections", .serialized)
struct SSHPoolTests {
    @Test("polls over a pooled connection see what libgit2 sees: branches, an annotated tag and its peeled id, HEAD's branch, an empty repository")
    func sameAsLibgit2() async throws {
        let key = DeployKey.generateEd25519(comment: "t")
        let up = try UpstreamRepo()
        try up.addTaggedFeatureBranch()
        let empty = tempDir("empty") + "/empty.git"
        try sh(["git", "init", "-q", "--bare", empty])
        let sshd = try TestSSHD(authorizedKeys: [key.publicKey])
        defer { sshd.stop() }
        let pool = SSHConnections()
        for path in [up.bare, empty] {
            let pooledMirror = sshMirror(sshd.url(path), key: key.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: pool)
            #expect(pooledMirror.pollsOverPooledSSH)
            let pooled = try await pooledMirror.remoteHeads()
            let libgit2 = try await sshMirror(sshd.url(path), key: key.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: nil).remoteHeads()
            #expect(pooled.refs == libgit2.refs)
            #expect(pooled.defaultBranch == libgit2.defaultBranch)
        }
        let heads = try await sshMirror(sshd.url(up.bare), key: key.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: pool).remoteHeads()
        let feature = try sh(["git", "--git-dir", up.bare, "rev-parse", "feature"])
        #expect(heads.defaultBranch == "feature")
        #expect(heads.refs["HEAD"] == feature)
        #expect(heads.refs["refs/tags/v1^{}"] == feature, "the annotated tag's peeled id, as git_remote_ls lists it")
        #expect(heads.refs["refs/tags/v1"] == (try sh(["git", "--git-dir", up.bare, "rev-parse", "v1"])))
        #expect(heads.refs["refs/tags/light^{}"] == nil)
        #expect(pool.handshakes == 1, "three polls, two repositories, one connection")
    }

    @Test("a second poll reuses the connection: one handshake, one connection at sshd, also for another repository on the host")
    func reuse() async throws {
        let key = DeployKey.generateEd25519(comment: "t")
        let up = try UpstreamRepo(), other = try UpstreamRepo()
        let sshd = try TestSSHD(authorizedKeys: [key.publicKey])
        defer { sshd.stop() }
        let pool = SSHConnections()
        let m = sshMirror(sshd.url(up.bare), key: key.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: pool)
        #expect(try await m.remoteHeads().branch("main") == (try up.head()))
        let next = try up.commit(["x.txt": "x"], message: "moved")
        #expect(try await m.remoteHeads().branch("main") == next, "the second poll sees the new commit")
        let second = sshMirror(sshd.url(other.bare), key: key.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: pool)
        #expect(try await second.remoteHeads().branch("main") == (try other.head()))
        #expect(pool.handshakes == 1)
        #expect(pool.count == 1)
        #expect(sshd.openConnections == 1)
        // The mirror still fetches through libgit2 (its own connection), then polls on the pool.
        #expect(try await m.fetch()["main"] == next)
        #expect(try await m.remoteHeads().branch("main") == next)
        #expect(pool.handshakes == 1)
    }

    @Test("with one connection per key, twenty polls at once share it: at most eight channels, the rest wait their turn")
    func concurrentPolls() async throws {
        let key = DeployKey.generateEd25519(comment: "t")
        let repos = try (0..<4).map { _ in try UpstreamRepo() }
        let sshd = try TestSSHD(authorizedKeys: [key.publicKey])
        defer { sshd.stop() }
        let pool = SSHConnections(options: .init(connectionsPerKey: 1))
        let mirrors = (0..<20).map { i in sshMirror(sshd.url(repos[i % 4].bare), key: key.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: pool) }
        // One poll first, so that the twenty open channels on an established connection.
        _ = try await mirrors[0].remoteHeads()
        let heads = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
            for (i, m) in mirrors.enumerated() { group.addTask { (i, try await m.remoteHeads().branch("main")) } }
            var out: [Int: String?] = [:]
            for try await (i, head) in group { out[i] = head }
            return out
        }
        for i in 0..<20 { #expect(heads[i] == (try repos[i % 4].head())) }
        // sshd's MaxSessions (10) would have refused channels beyond it, and a refusal would
        // have been retried on a second connection.
        #expect(pool.handshakes == 1)
        #expect(sshd.openConnections == 1)
    }

    @Test("a command that would wait for a channel on every open connection of its key opens another, up to connectionsPerKey; then the least busy one queues it")
    func spreads() async throws {
        let key = DeployKey.generateEd25519(comment: "t")
        let up = try UpstreamRepo()
        let sshd = try TestSSHD(authorizedKeys: [key.publicKey])
        defer { sshd.stop() }
        let pool = SSHConnections(options: .init(channelsPerConnection: 2, connectionsPerKey: 2))
        var options = GitMirror.Options(url: sshd.url(up.bare), directory: tempDir("mirror"))
        options.credentials = .sshKey(privateKey: key.privateKeyOpenSSH)
        options.knownHosts = sshd.hostKeyLine
        let settings = try #require(GitMirror.pooledSSH(options, knownHosts: KnownHosts(options.knownHosts)))
        // Open channels (upload-pack waiting for its client) hold their slots until closed.
        var pipes: [SSHPipe] = []
        for _ in 0..<4 {
            pipes.append(try pool.openPipe(settings.remote.uploadPackCommand, program: "git-upload-pack", settings, prefix: "test", timeout: .seconds(20)))
        }
        #expect(pool.handshakes == 2, "two channels on the first connection, then a second connection")
        #expect(pool.count == 2)
        #expect(sshd.openConnections == 2)
        // With both full, a fifth queues on one of them (no third connection): one channel closed
        // on each (the first two went to the first connection) makes room wherever it waits.
        pipes[0].close()
        pipes[2].close()
        pipes.append(try pool.openPipe(settings.remote.uploadPackCommand, program: "git-upload-pack", settings, prefix: "test", timeout: .seconds(20)))
        #expect(pool.handshakes == 2)
        for pipe in pipes { pipe.close() }
    }

    @Test("two mirrors with different keys to the same host do not share a connection")
    func keysDoNotShare() async throws {
        let a = DeployKey.generateEd25519(comment: "a"), b = DeployKey.generateEd25519(comment: "b")
        let up = try UpstreamRepo()
        let sshd = try TestSSHD(authorizedKeys: [a.publicKey, b.publicKey])
        defer { sshd.stop() }
        let pool = SSHConnections()
        let ma = sshMirror(sshd.url(up.bare), key: a.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: pool)
        let mb = sshMirror(sshd.url(up.bare), key: b.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: pool)
        for _ in 0..<2 {
            _ = try await ma.remoteHeads()
            _ = try await mb.remoteHeads()
        }
        #expect(pool.handshakes == 2)
        #expect(pool.count == 2)
        #expect(sshd.openConnections == 2)
        // The same key with other known_hosts text is another connection too.
        let mc = sshMirror(sshd.url(up.bare), key: a.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine + "\n", pool: pool)
        _ = try await mc.remoteHeads()
        #expect(pool.handshakes == 3)
    }

    @Test("a tenant whose key the server refuses cannot ride on another tenant's authenticated connection")
    func noRidingOnAnotherKey() async throws {
        let allowed = DeployKey.generateEd25519(comment: "allowed"), attacker = DeployKey.generateEd25519(comment: "attacker")
        let up = try UpstreamRepo()
        let sshd = try TestSSHD(authorizedKeys: [allowed.publicKey])
        defer { sshd.stop() }
        let pool = SSHConnections()
        let victim = sshMirror(sshd.url(up.bare), key: allowed.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: pool)
        _ = try await victim.remoteHeads()
        #expect(pool.count == 1)
        let intruder = sshMirror(sshd.url(up.bare), key: attacker.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: pool)
        for _ in 0..<2 {
            let error = await pollError(intruder)
            #expect(error?.kind == .authenticationFailed, "\(String(describing: error))")
        }
        #expect(pool.handshakes == 3, "each of the intruder's polls made (and failed) a handshake of its own")
        #expect(pool.count == 1, "no connection kept for the refused key")
        #expect(try await victim.remoteHeads().branch("main") == (try up.head()))
    }
}
