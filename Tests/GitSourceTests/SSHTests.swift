import Foundation
import GitSource
import GitTesting
import Synchronization
import Testing

@Suite("GitMirror over SSH", .serialized)
struct SSHTests {
    func mirror(_ url: String, key: String, knownHosts: String, timeout: Duration = .seconds(20)) -> GitMirror {
        var o = GitMirror.Options(url: url, directory: tempDir("mirror"))
        o.credentials = .sshKey(privateKey: key)
        o.knownHosts = knownHosts
        o.timeout = timeout
        return GitMirror(o)
    }

    @Test("a generated ed25519 deploy key is valid OpenSSH and clones, fetches and pushes over ssh")
    func roundTrip() async throws {
        let key = DeployKey.generateEd25519(comment: "flotilla@test")
        let dir = tempDir("key")
        try key.privateKeyOpenSSH.write(toFile: dir + "/id", atomically: true, encoding: .utf8)
        chmod(dir + "/id", 0o600)
        #expect(try sh(["ssh-keygen", "-y", "-f", dir + "/id"]).split(separator: " ").prefix(2) == key.publicKey.split(separator: " ").prefix(2))
        #expect(DeployKey.publicKey(ofPrivateKey: key.privateKeyOpenSSH) == key.publicKey.split(separator: " ").prefix(2).joined(separator: " "))
        let up = try UpstreamRepo()
        let sshd = try TestSSHD(authorizedKeys: [key.publicKey])
        defer { sshd.stop() }
        let m = mirror(sshd.url(up.bare), key: key.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine)
        #expect(try await m.fetch()["main"] == (try up.head()))
        #expect(try await m.remoteHeads().branch("main") == (try up.head()))
        let pushed = try await m.commitAndPush(branch: "main", message: "over ssh") { _ in ["ssh.txt": Array("yes".utf8)] }
        #expect(try up.head() == pushed?.id)
    }

    @Test("an unknown host fails with its SHA-256 fingerprint; a changed host key fails as a mismatch")
    func hostKeys() async throws {
        let key = DeployKey.generateEd25519(comment: "t")
        let up = try UpstreamRepo()
        let sshd = try TestSSHD(authorizedKeys: [key.publicKey])
        defer { sshd.stop() }
        let fingerprint = try sh(["ssh-keygen", "-l", "-E", "sha256", "-f", sshd.dir + "/host_key.pub"]).split(separator: " ")[1]
        do {
            try await mirror(sshd.url(up.bare), key: key.privateKeyOpenSSH, knownHosts: "").fetch()
            Issue.record("unknown host accepted")
        } catch {
            #expect(error.kind == .hostKeyUnknown)
            #expect(error.message.contains("[127.0.0.1]:\(sshd.port)"))
            #expect(error.message.contains(String(fingerprint)), "\(error.message)")
        }
        let other = tempDir("other")
        try sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other + "/k"])
        let wrongLine = "[127.0.0.1]:\(sshd.port) " + (try String(contentsOfFile: other + "/k.pub", encoding: .utf8)).split(separator: " ").prefix(2).joined(separator: " ")
        do {
            try await mirror(sshd.url(up.bare), key: key.privateKeyOpenSSH, knownHosts: wrongLine).fetch()
            Issue.record("wrong host key accepted")
        } catch {
            #expect(error.kind == .hostKeyMismatch)
            #expect(error.message.contains(String(fingerprint)))
        }
        // Hashed known_hosts entries (ssh-keygen -H) are understood.
        try (sshd.hostKeyLine + "\n").write(toFile: other + "/known", atomically: true, encoding: .utf8)
        try sh(["ssh-keygen", "-q", "-H", "-f", other + "/known"])
        let hashed = try String(contentsOfFile: other + "/known", encoding: .utf8)
        #expect(hashed.hasPrefix("|1|"))
        #expect(try await mirror(sshd.url(up.bare), key: key.privateKeyOpenSSH, knownHosts: hashed).fetch()["main"] != nil)
    }

    @Test("a wrong deploy key fails as AuthenticationFailed, without looping; an RSA key gets a clear explanation")
    func wrongKeys() async throws {
        let allowed = DeployKey.generateEd25519(comment: "allowed")
        let stranger = DeployKey.generateEd25519(comment: "stranger")
        let up = try UpstreamRepo()
        let sshd = try TestSSHD(authorizedKeys: [allowed.publicKey])
        defer { sshd.stop() }
        do {
            try await mirror(sshd.url(up.bare), key: stranger.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine).fetch()
            Issue.record("a stranger's key was accepted")
        } catch {
            #expect(error.kind == .authenticationFailed, "\(error)")
            #expect(!error.message.contains("PRIVATE KEY"))
        }
        let dir = tempDir("rsa")
        try sh(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f", dir + "/rsa"])
        let rsaPublic = try String(contentsOfFile: dir + "/rsa.pub", encoding: .utf8)
        let rsaServer = try TestSSHD(authorizedKeys: [rsaPublic])
        defer { rsaServer.stop() }
        let rsaKey = try String(contentsOfFile: dir + "/rsa", encoding: .utf8)
        do {
            try await mirror(rsaServer.url(up.bare), key: rsaKey, knownHosts: rsaServer.hostKeyLine).fetch()
            Issue.record("expected the RSA key to be refused by a modern OpenSSH")
        } catch {
            #expect(error.kind == .authenticationFailed)
            #expect(error.message.contains("RSA"), "\(error.message)")
        }
    }

    @Test("two writers racing over ssh: the loser's push is refused and it re-applies its change on the new head")
    func racingWriters() async throws {
        let key = DeployKey.generateEd25519(comment: "t")
        let up = try UpstreamRepo()
        let sshd = try TestSSHD(authorizedKeys: [key.publicKey])
        defer { sshd.stop() }
        let writers = (0..<3).map { _ in mirror(sshd.url(up.bare), key: key.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine) }
        // Each writer's first edit waits until all three have fetched, so they all commit on the
        // same head and two of them lose (their fetches share one pooled connection, and without
        // this one could finish before another began).
        let barrier = Barrier(parties: writers.count)
        let results = try await withThrowingTaskGroup(of: PushedCommit?.self) { group in
            for (i, w) in writers.enumerated() {
                let first = Barrier(parties: 1)
                group.addTask {
                    try await w.commitAndPush(branch: "main", message: "w\(i)", maxAttempts: 5) { _ in
                        if first.arrived.add(1, ordering: .relaxed).newValue == 1 { barrier.arriveAndWait() }
                        return ["w\(i).txt": Array("\(i)".utf8)]
                    }
                }
            }
            var out: [PushedCommit?] = []
            for try await r in group { out.append(r) }
            return out
        }
        for i in 0..<3 { #expect(try up.show("main:w\(i).txt") == "\(i)", "writer \(i)'s change survived") }
        #expect(results.compactMap { $0?.attempts }.contains { $0 > 1 }, "at least one writer lost a race and retried")
    }

    @Test("a push the server refuses is reported (libgit2 only says so in a callback)")
    func rejectedPush() async throws {
        let key = DeployKey.generateEd25519(comment: "t")
        let up = try UpstreamRepo()
        try "#!/bin/sh\necho 'protected branch' >&2\nexit 1\n".write(toFile: up.bare + "/hooks/pre-receive", atomically: true, encoding: .utf8)
        chmod(up.bare + "/hooks/pre-receive", 0o755)
        let sshd = try TestSSHD(authorizedKeys: [key.publicKey])
        defer { sshd.stop() }
        let before = try up.head()
        do {
            _ = try await mirror(sshd.url(up.bare), key: key.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine)
                .commitAndPush(branch: "main", message: "x", maxAttempts: 2) { _ in ["x": Array("1".utf8)] }
            Issue.record("a refused push was reported as a success")
        } catch {
            #expect(error.kind == .pushRejected, "\(error)")
        }
        #expect(try up.head() == before)
    }
}

@Suite("Isolation")
struct IsolationTests {
    @Test("ten mirrors fetch in parallel while one remote hangs: the nine finish on time")
    func hungRemote() async throws {
        let hung = try SilentServer()
        let upstreams = try (0..<9).map { _ in try UpstreamRepo() }
        var hungOptions = GitMirror.Options(url: "ssh://git@127.0.0.1:\(hung.port)/repo.git", directory: tempDir("hung"))
        hungOptions.credentials = .sshKey(privateKey: DeployKey.generateEd25519(comment: "x").privateKeyOpenSSH)
        hungOptions.timeout = .seconds(3)
        let hungMirror = GitMirror(hungOptions)
        let clock = ContinuousClock()
        let start = clock.now
        try await withThrowingTaskGroup(of: (Bool, Duration).self) { group in
            group.addTask {
                do { try await hungMirror.fetch(); return (true, clock.now - start) } catch { return (false, clock.now - start) }
            }
            for up in upstreams {
                group.addTask {
                    try await GitMirror(GitMirror.Options(url: up.url, directory: tempDir("m"))).fetch()
                    return (true, clock.now - start)
                }
            }
            var finished: [(Bool, Duration)] = []
            for try await r in group { finished.append(r) }
            let ok = finished.filter(\.0)
            #expect(ok.count == 9)
            #expect(ok.allSatisfy { $0.1 < .seconds(3) }, "the healthy fetches did not wait for the hung one")
            // Timed out after its 3 s, not much later (the bound leaves room for 2 loaded cores).
            #expect(finished.contains { !$0.0 && $0.1 >= .seconds(3) && $0.1 < .seconds(12) }, "the hung fetch timed out: \(finished)")
        }
    }
}

/// Blocks each caller of `arriveAndWait` until `parties` have arrived (10 s at most).
private final class Barrier: Sendable {
    let parties: Int
    let arrived = Atomic<Int>(0)
    init(parties: Int) { self.parties = parties }
    func arriveAndWait() {
        arrived.add(1, ordering: .relaxed)
        for _ in 0..<200 where arrived.load(ordering: .relaxed) < parties { usleep(50_000) }
    }
}
