import Foundation
@testable import GitSource
import GitTesting
import Testing

@Suite("libgit2's SSH fetches and pushes on the pooled connection", .serialized)
struct SSHTransportTests {
    @Test("a clone, fetches and a branch push ride the polls' connection: one login in all, and what they bring is what libssh2's brings")
    func rides() async throws {
        let key = DeployKey.generateEd25519(comment: "t")
        let up = try UpstreamRepo()
        let sshd = try TestSSHD(authorizedKeys: [key.publicKey])
        defer { sshd.stop() }
        let pool = SSHConnections()
        let m = sshMirror(sshd.url(up.bare), key: key.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: pool)
        #expect(try await m.fetch()["main"] == (try up.head()), "the clone")
        _ = try await m.remoteHeads()
        let next = try up.commit(["x.txt": "x"], message: "moved")
        #expect(try await m.fetch()["main"] == next)
        let pushed = try await m.commitAndPush(branch: "main", message: "edit") { _ in ["y.yaml": Array("b: 2\n".utf8)] }
        #expect(try up.head() == pushed?.id)
        #expect(try await m.files(at: try up.head()).contains { $0.path == "y.yaml" })
        #expect(sshd.logins == 1, "clone, poll, fetch and push: one connection")
        #expect(pool.handshakes == 1)
        _ = try sh(["git", "--git-dir", up.bare, "fsck", "--strict"])

        // The same through libssh2 (no pool): a login per operation, the same heads.
        let libssh2 = sshMirror(sshd.url(up.bare), key: key.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: nil)
        #expect(try await libssh2.fetch() == (try await m.fetch()))
        #expect(sshd.logins == 2)
    }

    @Test("errors keep their words: a missing repository, an unknown host key; a key the server refuses fails on its own connection, whoever else is connected (attacker)")
    func errors() async throws {
        let key = DeployKey.generateEd25519(comment: "t"), stranger = DeployKey.generateEd25519(comment: "stranger")
        let up = try UpstreamRepo()
        let sshd = try TestSSHD(authorizedKeys: [key.publicKey])
        defer { sshd.stop() }
        let pool = SSHConnections()
        let m = sshMirror(sshd.url(up.bare), key: key.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: pool)
        _ = try await m.fetch()

        let missing = sshMirror(sshd.url(up.root + "/missing.git"), key: key.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: pool)
        await #expect { _ = try await missing.fetch() } throws: { error in
            let message = (error as? GitError)?.message ?? ""
            return message.hasPrefix("fetch \(sshd.url(up.root + "/missing.git")): fatal: '\(up.root)/missing.git' does not appear to be a git repository")
        }
        let unknown = sshMirror(sshd.url(up.bare), key: key.privateKeyOpenSSH, knownHosts: "", pool: pool)
        await #expect { _ = try await unknown.fetch() } throws: { ($0 as? GitError)?.kind == .hostKeyUnknown }

        let attacker = sshMirror(sshd.url(up.bare), key: stranger.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: pool)
        await #expect { _ = try await attacker.fetch() } throws: { ($0 as? GitError)?.kind == .authenticationFailed }
        #expect(pool.count == 1, "only the allowed key's connection is open")
    }

    @Test("mirrors the pool does not serve (an encrypted key) keep libssh2: a login per fetch")
    func encryptedKeyKeepsLibssh2() async throws {
        let dir = tempDir("ecdsa")
        try sh(["ssh-keygen", "-q", "-t", "ecdsa", "-N", "secret", "-f", dir + "/key"])
        let up = try UpstreamRepo()
        let sshd = try TestSSHD(authorizedKeys: [try String(contentsOfFile: dir + "/key.pub", encoding: .utf8)])
        defer { sshd.stop() }
        let pool = SSHConnections()
        var options = GitMirror.Options(url: sshd.url(up.bare), directory: tempDir("mirror"))
        options.credentials = .sshKey(privateKey: try String(contentsOfFile: dir + "/key", encoding: .utf8), passphrase: "secret")
        options.knownHosts = sshd.hostKeyLine
        options.sshConnections = pool
        let m = GitMirror(options)
        #expect(!m.pollsOverPooledSSH)
        _ = try await m.fetch()
        _ = try up.commit(["x.txt": "x"], message: "moved")
        #expect(try await m.fetch()["main"] == (try up.head()))
        #expect(sshd.logins == 2)
        #expect(pool.handshakes == 0)
    }
}
