import Foundation
@testable import GitSource
import GitTesting
import Testing

/// The pooled SSH transport when things go wrong: the same errors as libgit2 for host keys and
/// refused keys, a restarted or silent server, timeouts, cancellation, idle connections; and which
/// keys and known_hosts choose it.
@Suite("SSH pooled polls: failures", .serialized)
struct SSHPoolFailureTests {
    @Test("an unknown host and a changed host key are refused with libgit2's very errors; nothing is kept")
    func hostKeys() async throws {
        let key = DeployKey.generateEd25519(comment: "t")
        let up = try UpstreamRepo()
        let sshd = try TestSSHD(authorizedKeys: [key.publicKey])
        defer { sshd.stop() }
        let other = tempDir("other")
        try sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other + "/k"])
        let wrongLine = "[127.0.0.1]:\(sshd.port) " + (try String(contentsOfFile: other + "/k.pub", encoding: .utf8)).split(separator: " ").prefix(2).joined(separator: " ")
        let fingerprint = try sh(["ssh-keygen", "-l", "-E", "sha256", "-f", sshd.dir + "/host_key.pub"]).split(separator: " ")[1]
        let pool = SSHConnections()
        for (knownHosts, kind) in [("", GitError.Kind.hostKeyUnknown), (wrongLine, .hostKeyMismatch)] {
            let pooledMirror = sshMirror(sshd.url(up.bare), key: key.privateKeyOpenSSH, knownHosts: knownHosts, pool: pool)
            #expect(pooledMirror.pollsOverPooledSSH)
            let pooled = await pollError(pooledMirror)
            let libgit2 = await pollError(sshMirror(sshd.url(up.bare), key: key.privateKeyOpenSSH, knownHosts: knownHosts, pool: nil))
            #expect(pooled?.kind == kind)
            #expect(pooled == libgit2, "pooled: \(String(describing: pooled)); libgit2: \(String(describing: libgit2))")
            #expect(pooled?.message.contains(String(fingerprint)) == true)
        }
        #expect(pool.count == 0)
    }

    @Test("a key not in authorized_keys is AuthenticationFailed, worded as libgit2 words it, and never in the message")
    func refusedKey() async throws {
        let allowed = DeployKey.generateEd25519(comment: "allowed"), stranger = DeployKey.generateEd25519(comment: "stranger")
        let up = try UpstreamRepo()
        let sshd = try TestSSHD(authorizedKeys: [allowed.publicKey])
        defer { sshd.stop() }
        let pool = SSHConnections()
        let pooled = await pollError(sshMirror(sshd.url(up.bare), key: stranger.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: pool))
        let libgit2 = await pollError(sshMirror(sshd.url(up.bare), key: stranger.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: nil))
        #expect(pooled?.kind == .authenticationFailed)
        #expect(pooled == libgit2, "pooled: \(String(describing: pooled)); libgit2: \(String(describing: libgit2))")
        #expect(pooled?.message.contains("PRIVATE KEY") == false)
        #expect(pool.count == 0)
        // Two repositories polled at once with that key share the (failing) handshake; each error
        // names its own repository.
        let other = try UpstreamRepo()
        let (m1, m2) = (sshMirror(sshd.url(up.bare), key: stranger.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: pool),
                        sshMirror(sshd.url(other.bare), key: stranger.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: pool))
        async let first = pollError(m1)
        async let second = pollError(m2)
        let (a, b) = await (first, second)
        #expect(a?.message.hasPrefix("list remote refs of \(sshd.url(up.bare)):") == true, "\(String(describing: a))")
        #expect(b?.message.hasPrefix("list remote refs of \(sshd.url(other.bare)):") == true, "\(String(describing: b))")
        #expect(a?.kind == .authenticationFailed && b?.kind == .authenticationFailed)
    }

    @Test("a missing repository fails with the server's words, classified as libgit2 classifies them")
    func missingRepository() async throws {
        let key = DeployKey.generateEd25519(comment: "t")
        let sshd = try TestSSHD(authorizedKeys: [key.publicKey])
        defer { sshd.stop() }
        let url = sshd.url("/nonexistent/repo.git")
        let pooled = await pollError(sshMirror(url, key: key.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: SSHConnections()))
        let libgit2 = await pollError(sshMirror(url, key: key.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: nil))
        #expect(pooled?.kind == libgit2?.kind)
        #expect(pooled?.message.contains("does not appear to be a git repository") == true, "\(String(describing: pooled))")
        #expect(pooled?.message.hasPrefix("list remote refs of \(url)") == true)
    }

    @Test("sshd killed and restarted on the same port: the next poll reconnects and succeeds")
    func serverRestart() async throws {
        let key = DeployKey.generateEd25519(comment: "t")
        let up = try UpstreamRepo()
        let sshd = try TestSSHD(authorizedKeys: [key.publicKey])
        defer { sshd.stop() }
        let pool = SSHConnections()
        let m = sshMirror(sshd.url(up.bare), key: key.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: pool)
        _ = try await m.remoteHeads()
        try sshd.restart()
        let head = try up.commit(["after.txt": "1"], message: "after the restart")
        #expect(try await m.remoteHeads().branch("main") == head)
        #expect(pool.handshakes == 2)
        #expect(sshd.openConnections == 1)
    }

    @Test("a pooled connection that stops answering is dropped, and the poll succeeds on a new one within its timeout")
    func silentConnection() async throws {
        let key = DeployKey.generateEd25519(comment: "t")
        let up = try UpstreamRepo()
        let sshd = try TestSSHD(authorizedKeys: [key.publicKey])
        defer { sshd.stop() }
        let pool = SSHConnections()
        let m = sshMirror(sshd.url(up.bare), key: key.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: pool, timeout: .seconds(6))
        _ = try await m.remoteHeads()
        let stopped = sshd.sessionProcesses()
        #expect(!stopped.isEmpty)
        for pid in stopped { kill(pid, SIGSTOP) }
        defer { for pid in stopped { kill(pid, SIGKILL) } }
        let clock = ContinuousClock()
        let started = clock.now
        #expect(try await m.remoteHeads().branch("main") == (try up.head()))
        let took = clock.now - started
        #expect(took >= .seconds(3) && took < .seconds(6), "retried after half the timeout: \(took)")
        #expect(pool.handshakes == 2)
    }

    @Test("a server that accepts and never answers times out; a cancelled poll ends at once")
    func timeoutAndCancellation() async throws {
        let silent = try SilentServer()
        let key = DeployKey.generateEd25519(comment: "t").privateKeyOpenSSH
        let pool = SSHConnections()
        let clock = ContinuousClock()
        var started = clock.now
        let error = await pollError(sshMirror("ssh://git@127.0.0.1:\(silent.port)/repo.git", key: key, knownHosts: "", pool: pool, timeout: .seconds(1)))
        #expect(error?.kind == .timeout, "\(String(describing: error))")
        #expect(clock.now - started < .seconds(5))
        let slow = sshMirror("ssh://git@127.0.0.1:\(silent.port)/repo.git", key: key, knownHosts: "", pool: pool, timeout: .seconds(60))
        started = clock.now
        let task = Task { await pollError(slow) }
        try await Task.sleep(for: .milliseconds(300))
        task.cancel()
        #expect(await task.value?.kind == .cancelled)
        #expect(clock.now - started < .seconds(5))
    }

    @Test("nothing listening: Unreachable, saying the connection was refused")
    func refusedConnection() async throws {
        let port = try freePort()
        let key = DeployKey.generateEd25519(comment: "t").privateKeyOpenSSH
        let error = await pollError(sshMirror("ssh://git@127.0.0.1:\(port)/repo.git", key: key, knownHosts: "", pool: SSHConnections()))
        #expect(error?.kind == .unreachable)
        #expect(error?.message == "list remote refs of ssh://git@127.0.0.1:\(port)/repo.git: failed to connect to 127.0.0.1: Connection refused")
    }

    @Test("a connection idle longer than idleTimeout is closed; the next poll opens a new one")
    func idleTimeout() async throws {
        let key = DeployKey.generateEd25519(comment: "t")
        let up = try UpstreamRepo()
        let sshd = try TestSSHD(authorizedKeys: [key.publicKey])
        defer { sshd.stop() }
        let pool = SSHConnections(options: .init(idleTimeout: .milliseconds(500)))
        let m = sshMirror(sshd.url(up.bare), key: key.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: pool)
        _ = try await m.remoteHeads()
        #expect(pool.count == 1)
        #expect(try await within(10) { pool.count == 0 && sshd.openConnections == 0 })
        _ = try await m.remoteHeads()
        #expect(pool.handshakes == 2)
    }

    @Test("ECDSA keys (OpenSSH and PEM) poll over the pool; RSA and passphrase-protected keys, and known_hosts pinning only other key types, keep libgit2")
    func whichKeys() async throws {
        let dir = tempDir("keys")
        var keys: [String: String] = [:]
        for (name, args) in [("p256", ["-t", "ecdsa", "-b", "256"]), ("p384", ["-t", "ecdsa", "-b", "384"]), ("p521", ["-t", "ecdsa", "-b", "521"]),
                             ("pem", ["-t", "ecdsa", "-b", "256", "-m", "PEM"]), ("rsa", ["-t", "rsa", "-b", "2048"]),
                             ("secret", ["-t", "ed25519", "-N", "passphrase"])] {
            try sh(["ssh-keygen", "-q"] + args + (args.contains("-N") ? [] : ["-N", ""]) + ["-f", "\(dir)/\(name)"])
            keys[name] = try String(contentsOfFile: "\(dir)/\(name)", encoding: .utf8)
        }
        let publics = try keys.keys.map { try String(contentsOfFile: "\(dir)/\($0).pub", encoding: .utf8) }
        let up = try UpstreamRepo()
        let sshd = try TestSSHD(authorizedKeys: publics)
        defer { sshd.stop() }
        let pool = SSHConnections()
        for name in ["p256", "p384", "p521", "pem"] {
            let m = sshMirror(sshd.url(up.bare), key: keys[name]!, knownHosts: sshd.hostKeyLine, pool: pool)
            #expect(m.pollsOverPooledSSH, "\(name)")
            #expect(try await m.remoteHeads().branch("main") == (try up.head()), "\(name)")
        }
        #expect(pool.handshakes == 4)
        for name in ["rsa", "secret"] {
            #expect(!sshMirror(sshd.url(up.bare), key: keys[name]!, knownHosts: sshd.hostKeyLine, pool: pool).pollsOverPooledSSH, "\(name)")
        }
        let ecdsaHostLine = "[127.0.0.1]:\(sshd.port) " + publics.first { $0.hasPrefix("ecdsa-sha2-nistp256") }!.split(separator: " ").prefix(2).joined(separator: " ")
        let p256 = keys["p256"]!
        #expect(!sshMirror(sshd.url(up.bare), key: p256, knownHosts: ecdsaHostLine, pool: pool).pollsOverPooledSSH)
        #expect(sshMirror(sshd.url(up.bare), key: p256, knownHosts: ecdsaHostLine + "\n" + sshd.hostKeyLine, pool: pool).pollsOverPooledSSH)
        #expect(sshMirror(sshd.url(up.bare), key: p256, knownHosts: "other.example " + ecdsaHostLine.split(separator: " ").dropFirst().joined(separator: " "), pool: pool).pollsOverPooledSSH)
        #expect(!sshMirror(sshd.url(up.bare), key: p256, knownHosts: sshd.hostKeyLine, pool: nil).pollsOverPooledSSH)
    }
}
