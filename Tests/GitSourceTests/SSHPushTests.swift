import Foundation
import NIOCore
@testable import GitSource
import GitTesting
import Testing

@Suite("The sync tag pushed on the pooled SSH connection", .serialized)
struct SSHPushTests {
    let tagRef = "refs/tags/flux-sync"

    /// A pkt-line ref advertisement of `refs` (the first line carries `capabilities`), ending with a flush.
    func advertisement(_ refs: [(String, String)], capabilities: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for (index, (name, id)) in refs.enumerated() {
            bytes += ReceivePack.pktLine(index == 0 ? "\(id) \(name)\0\(capabilities)\n" : "\(id) \(name)\n")
        }
        return bytes + Array("0000".utf8)
    }

    func feed(_ exchange: inout ReceivePackExchange, _ bytes: [UInt8], chunk: Int = 7) throws(GitError) -> [SSHExchangeStep<Bool>] {
        var steps: [SSHExchangeStep<Bool>] = []
        var at = 0
        while at < bytes.count {
            let piece = ByteBuffer(bytes: bytes[at..<min(at + chunk, bytes.count)])
            at += chunk
            let step = try exchange.consume(piece.readableBytesView)
            if case .more = step { continue }
            steps.append(step)
        }
        return steps
    }

    @Test("the exchange, fed in pieces: the update and pack after the advertisement, then the report; a flush alone when the tag is there; a refusal with its reason")
    func exchange() throws {
        let main = String(repeating: "1", count: 40), old = String(repeating: "a", count: 40), new = String(repeating: "b", count: 40)
        let pack = Array("PACK…".utf8)
        let advertised = advertisement([("refs/heads/main", main), (tagRef, old)], capabilities: "report-status delete-refs")
        var moving = ReceivePackExchange(ref: tagRef, new: new, pack: pack)
        let steps = try feed(&moving, advertised)
        guard steps.count == 1, case .send(let request) = steps[0] else { Issue.record("\(steps)"); return }
        #expect(request == ReceivePack.pktLine("\(old) \(new) \(tagRef)\0report-status agent=flotilla\n") + Array("0000".utf8) + pack)
        #expect(moving.stage == "before reporting on \(tagRef)")
        let report = ReceivePack.pktLine("unpack ok\n") + ReceivePack.pktLine("ok \(tagRef)\n") + Array("0000".utf8)
        let reported = try feed(&moving, report, chunk: 5)
        guard reported.count == 1, case .done(true, let reply) = reported[0] else { Issue.record("\(reported)"); return }
        #expect(reply.isEmpty)

        var there = ReceivePackExchange(ref: tagRef, new: old, pack: pack)
        let same = try feed(&there, advertised)
        guard same.count == 1, case .done(false, let flush) = same[0] else { Issue.record("\(same)"); return }
        #expect(flush == Array("0000".utf8))

        var refused = ReceivePackExchange(ref: tagRef, new: new, pack: pack)
        _ = try feed(&refused, advertised)
        let ng = ReceivePack.pktLine("unpack ok\n") + ReceivePack.pktLine("ng \(tagRef) pre-receive hook declined\n") + Array("0000".utf8)
        #expect(throws: GitError(.pushRejected, "\(tagRef) was refused: pre-receive hook declined")) { _ = try feed(&refused, ng) }
    }

    @Test("created and moved on the connection polls use (no handshake of its own), as libgit2 would, and the repository stays sound")
    func pushes() async throws {
        let key = DeployKey.generateEd25519(comment: "t")
        let up = try UpstreamRepo()
        let sshd = try TestSSHD(authorizedKeys: [key.publicKey])
        defer { sshd.stop() }
        let pool = SSHConnections()
        let m = sshMirror(sshd.url(up.bare), key: key.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: pool)
        let first = try await m.fetch()["main"]!
        _ = try await m.remoteHeads()
        #expect(pool.handshakes == 1)
        let logins = sshd.logins
        #expect(logins == 1, "the clone and the poll on one connection")
        try await m.moveTag("flux-sync", to: first, message: "Sync pointer")
        #expect(sshd.logins == logins, "the push logged in no more")
        #expect(try sh(["git", "--git-dir", up.bare, "cat-file", "-t", "flux-sync"]) == "tag")
        #expect(try sh(["git", "--git-dir", up.bare, "rev-parse", "flux-sync^{commit}"]) == first)
        let tagID = try sh(["git", "--git-dir", up.bare, "rev-parse", "flux-sync"])
        #expect((try? sh(["git", "--git-dir", m.path, "cat-file", "-t", tagID])) == nil, "made in memory: the mirror does not keep it")

        let next = try up.commit(["x.txt": "x"], message: "moved")
        _ = try await m.fetch()
        #expect(try sh(["git", "--git-dir", m.path, "rev-parse", "refs/tags/flux-sync"]) == tagID, "the fetch brought the tag")
        try await m.moveTag("flux-sync", to: next, message: "Sync pointer")
        #expect(try sh(["git", "--git-dir", up.bare, "rev-parse", "flux-sync^{commit}"]) == next)
        #expect(pool.handshakes == 1, "both pushes rode the polls' connection")
        #expect(sshd.logins == logins, "the second fetch and the pushes made no login of their own")
        _ = try sh(["git", "--git-dir", up.bare, "fsck", "--strict"])
    }

    @Test("a refused update is PushRejected with the server's reason; a repository the server does not have is named with its words")
    func refused() async throws {
        let key = DeployKey.generateEd25519(comment: "t")
        let up = try UpstreamRepo()
        let hook = up.bare + "/hooks/pre-receive"
        FileManager.default.createFile(atPath: hook, contents: Data("#!/bin/sh\necho 'tags are frozen' >&2\nexit 1\n".utf8), attributes: [.posixPermissions: 0o755])
        let sshd = try TestSSHD(authorizedKeys: [key.publicKey])
        defer { sshd.stop() }
        let pool = SSHConnections()
        var options = GitMirror.Options(url: sshd.url(up.bare), directory: tempDir("mirror"))
        options.credentials = .sshKey(privateKey: key.privateKeyOpenSSH)
        options.knownHosts = sshd.hostKeyLine
        options.sshConnections = pool
        let head = try await GitMirror(options).fetch()["main"]!
        do {
            try await GitMirror(options).moveTag("flux-sync", to: head, message: "Sync pointer")
            Issue.record("the refused push succeeded")
        } catch {
            #expect(error == GitError(.pushRejected, "push tag flux-sync to \(sshd.url(up.bare)): \(tagRef) was refused: pre-receive hook declined"))
        }
        #expect((try? sh(["git", "--git-dir", up.bare, "rev-parse", "--verify", "-q", "flux-sync"])) == nil)

        options.url = sshd.url(up.root + "/missing.git")
        do {
            try await GitMirror(options).moveTag("flux-sync", to: head, message: "Sync pointer")
            Issue.record("a push to a missing repository succeeded")
        } catch {
            #expect(error.message.hasPrefix("push tag flux-sync to \(options.url): fatal: '\(up.root)/missing.git' does not appear to be a git repository"), "\(error.message)")
        }
        #expect(pool.handshakes == 1)
    }

    @Test("attacker: a mirror whose deploy key the server refuses cannot push on another tenant's open connection to the same host")
    func othersConnection() async throws {
        let allowed = DeployKey.generateEd25519(comment: "allowed"), refused = DeployKey.generateEd25519(comment: "refused")
        let up = try UpstreamRepo()
        let sshd = try TestSSHD(authorizedKeys: [allowed.publicKey])
        defer { sshd.stop() }
        let pool = SSHConnections()
        let owner = sshMirror(sshd.url(up.bare), key: allowed.privateKeyOpenSSH, knownHosts: sshd.hostKeyLine, pool: pool)
        let head = try await owner.fetch()["main"]!
        _ = try await owner.remoteHeads()
        #expect(pool.count == 1)
        // The attacker's mirror shares the directory (it has the commit to tag) but not the key.
        var options = owner.options
        options.credentials = .sshKey(privateKey: refused.privateKeyOpenSSH)
        do {
            try await GitMirror(options).moveTag("flux-sync", to: head, message: "Sync pointer")
            Issue.record("a push with a refused key succeeded")
        } catch {
            #expect(error.kind == .authenticationFailed, "\(error)")
        }
        #expect(pool.handshakes == 2, "the refused key made its own handshake")
        #expect((try? sh(["git", "--git-dir", up.bare, "rev-parse", "--verify", "-q", "flux-sync"])) == nil)
    }
}
