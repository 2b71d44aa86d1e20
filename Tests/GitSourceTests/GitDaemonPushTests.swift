import Foundation
@testable import GitSource
import GitTesting
import Testing

@Suite("The sync tag pushed over git:// without libgit2", .serialized)
struct GitDaemonPushTests {
    let tagRef = "refs/tags/flux-sync"
    let new = String(repeating: "b", count: 40)

    func heads(_ refs: [String: String]) -> RemoteHeads { RemoteHeads(refs: refs, defaultBranch: nil) }

    @Test("the request: old and new ids, the ref, report-status, a flush and the pack; a flush alone when the ref is already there; no report-status is an error")
    func request() throws {
        let pack = Array("PACK…".utf8)
        let created = try ReceivePack.request(ref: tagRef, new: new, advertised: heads([:]), capabilities: ["report-status", "delete-refs"], pack: pack)
        let line = "\(ReceivePack.zeroID) \(new) \(tagRef)\0report-status agent=flotilla\n"
        #expect(created.updates)
        #expect(created.bytes == ReceivePack.pktLine(line) + Array("0000".utf8) + pack)
        #expect(String(decoding: ReceivePack.pktLine(line).prefix(4), as: UTF8.self) == String(format: "%04x", line.utf8.count + 4))
        let old = String(repeating: "a", count: 40)
        let moved = try ReceivePack.request(ref: tagRef, new: new, advertised: heads([tagRef: old]), capabilities: ["report-status"], pack: pack)
        #expect(String(decoding: moved.bytes, as: UTF8.self).hasPrefix("00\(String(format: "%02x", line.utf8.count + 4))\(old) \(new) "))
        let same = try ReceivePack.request(ref: tagRef, new: new, advertised: heads([tagRef: new]), capabilities: [], pack: pack)
        #expect(!same.updates && same.bytes == Array("0000".utf8))
        #expect(throws: GitError.self) { try ReceivePack.request(ref: tagRef, new: new, advertised: heads([:]), capabilities: ["delete-refs"], pack: pack) }
    }

    @Test("the report, fed in pieces: ok; a refused ref with its reason; an unpack failure; no word on the ref; garbage; one without end")
    func report() throws {
        func outcome(_ text: String, chunk: Int = 3) throws -> ReceivePack.Outcome? {
            var report = ReceivePack.Report()
            let bytes = Array(text.utf8)
            var at = 0
            while at < bytes.count {
                let piece = bytes[at..<min(at + chunk, bytes.count)]
                at += chunk
                if let done = try report.consume(piece, ref: tagRef) { return done }
            }
            return nil
        }
        let ok = ReceivePack.pktLine("unpack ok\n") + ReceivePack.pktLine("ok \(tagRef)\n")
        #expect(try outcome(String(decoding: ok, as: UTF8.self) + "0000") == .updated)
        #expect(try outcome(String(decoding: ok, as: UTF8.self)) == nil, "no flush yet: more is needed")
        let refused = String(decoding: ReceivePack.pktLine("unpack ok\n") + ReceivePack.pktLine("ng \(tagRef) pre-receive hook declined\n"), as: UTF8.self) + "0000"
        #expect(try outcome(refused) == .refused("pre-receive hook declined"))
        let unpack = String(decoding: ReceivePack.pktLine("unpack index-pack abnormal exit\n") + ReceivePack.pktLine("ng \(tagRef) unpacker error\n"), as: UTF8.self) + "0000"
        #expect(try outcome(unpack) == .refused("the server could not unpack: index-pack abnormal exit"))
        let silent = String(decoding: ReceivePack.pktLine("unpack ok\n"), as: UTF8.self) + "0000"
        #expect(try outcome(silent) == .refused("the server did not report on \(tagRef)"))
        #expect(throws: GitError.self) { try outcome("zzzz") }
        #expect(throws: GitError.self) { try outcome(String(decoding: ReceivePack.pktLine("hello\n"), as: UTF8.self) + "0000") }
        // A hostile server that reports without end is cut off at 1 MiB, not kept in memory.
        let endless = String(repeating: String(decoding: ReceivePack.pktLine("unpack ok\n"), as: UTF8.self), count: 80_000)
        #expect(throws: GitError.self) { try outcome(endless, chunk: 65_536) }
    }

    @Test("over git daemon: the tag is created and moved as libgit2 would, in one receive-pack each, and the repository stays sound")
    func pushes() async throws {
        let up = try UpstreamRepo()
        let daemon = try TestGitDaemon(root: up.root)
        defer { daemon.stop() }
        let m = daemonMirror(daemon.url(up.bare))
        let first = try await m.fetch()["main"]!
        try await m.moveTag("flux-sync", to: first, message: "Sync pointer")
        #expect(try sh(["git", "--git-dir", up.bare, "rev-parse", "flux-sync^{commit}"]) == first)
        #expect(try sh(["git", "--git-dir", up.bare, "cat-file", "-t", "flux-sync"]) == "tag")
        #expect(try sh(["git", "--git-dir", up.bare, "cat-file", "tag", "flux-sync"]).contains("Sync pointer"))
        // Made in memory: the mirror got neither the tag object nor its ref (a loose object and a
        // ref file per move, kept until a fold); its next fetch brings both from the remote.
        let tagID = try sh(["git", "--git-dir", up.bare, "rev-parse", "flux-sync"])
        #expect(!FileManager.default.fileExists(atPath: "\(m.path)/objects/\(tagID.prefix(2))/\(tagID.dropFirst(2))"))
        #expect(!FileManager.default.fileExists(atPath: m.path + "/refs/tags/flux-sync"))
        #expect((try? sh(["git", "--git-dir", m.path, "cat-file", "-t", tagID])) == nil)
        let next = try up.commit(["x": "1"], message: "next")
        try await m.fetch()
        #expect(try sh(["git", "--git-dir", m.path, "rev-parse", "refs/tags/flux-sync"]) == tagID)
        try await m.moveTag("flux-sync", to: next, message: "Sync pointer")
        #expect(try sh(["git", "--git-dir", up.bare, "rev-parse", "flux-sync^{commit}"]) == next)
        #expect(daemon.requests("receive-pack") == 2)
        _ = try sh(["git", "--git-dir", up.bare, "fsck", "--full", "--strict"])

        // libgit2's push (the reference) moves it back, and ours moves it on again.
        let reference = daemonMirror(daemon.url(up.bare), direct: false)
        _ = try await reference.fetch()
        try await reference.moveTag("flux-sync", to: first, message: "Sync pointer")
        #expect(try sh(["git", "--git-dir", up.bare, "rev-parse", "flux-sync^{commit}"]) == first)
        try await m.moveTag("flux-sync", to: next, message: "Sync pointer")
        #expect(try sh(["git", "--git-dir", up.bare, "rev-parse", "flux-sync^{commit}"]) == next)
    }

    @Test("a refused update is PushRejected with the server's reason")
    func refused() async throws {
        let up = try UpstreamRepo()
        let hook = up.bare + "/hooks/pre-receive"
        FileManager.default.createFile(atPath: hook, contents: Data("#!/bin/sh\necho 'tags are frozen' >&2\nexit 1\n".utf8), attributes: [.posixPermissions: 0o755])
        let daemon = try TestGitDaemon(root: up.root)
        defer { daemon.stop() }
        let m = daemonMirror(daemon.url(up.bare))
        let head = try await m.fetch()["main"]!
        do {
            try await m.moveTag("flux-sync", to: head, message: "Sync pointer")
            Issue.record("the refused push succeeded")
        } catch {
            #expect(error.kind == .pushRejected)
            #expect(error.message == "push tag flux-sync to \(daemon.url(up.bare)): refs/tags/flux-sync was refused: pre-receive hook declined", "\(error.message)")
        }
        #expect((try? sh(["git", "--git-dir", up.bare, "rev-parse", "--verify", "-q", "flux-sync"])) == nil)
    }

    @Test("a server that accepts and never answers: the push times out and its connection is closed")
    func silentServer() async throws {
        let up = try UpstreamRepo()
        let daemon = try TestGitDaemon(root: up.root)
        defer { daemon.stop() }
        // One mirror directory, fetched from the daemon, then pushing to a server that never answers.
        let directory = tempDir("mirror")
        var options = GitMirror.Options(url: daemon.url(up.bare), directory: directory)
        let head = try await GitMirror(options).fetch()["main"]!
        let silent = try SilentServer()
        options.url = "git://127.0.0.1:\(silent.port)/r.git"
        options.timeout = .milliseconds(500)
        let started = ContinuousClock.now
        do {
            try await GitMirror(options).moveTag("flux-sync", to: head, message: "Sync pointer")
            Issue.record("a push to a silent server succeeded")
        } catch {
            #expect(error.kind == .timeout, "\(error)")
        }
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(try await within(5) { (try? establishedConnections(to: silent.port)) == 0 }, "the push's socket is closed")
    }
}
