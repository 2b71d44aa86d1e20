@testable import GitSource
import Testing

/// The ref advertisement parser and the pieces of the pooled SSH transport that need no server.
@Suite("Ref advertisement (pkt-lines)")
struct RefAdvertisementTests {
    static let a = String(repeating: "a", count: 40)
    static let b = String(repeating: "b", count: 40)
    static let c = String(repeating: "c", count: 40)

    func pkt(_ text: String) -> String {
        let n = text.utf8.count + 4
        let hex = String(n, radix: 16)
        return String(repeating: "0", count: 4 - hex.count) + hex + text
    }

    func advertisement(_ lines: [String]) -> [UInt8] {
        Array((lines.map(pkt).joined() + "0000").utf8)
    }

    var sample: [UInt8] {
        advertisement([
            "\(Self.a) HEAD\0multi_ack thin-pack side-band symref=HEAD:refs/heads/main agent=git/2.39.5\n",
            "\(Self.a) refs/heads/main\n",
            "\(Self.b) refs/heads/feature\n",
            "\(Self.c) refs/tags/v1\n",
            "\(Self.a) refs/tags/v1^{}\n",
        ])
    }

    @Test("branches, a symbolic HEAD and a peeled tag become the refs and the default branch")
    func refs() throws {
        let heads = try RefAdvertisement.parse(sample)
        #expect(heads.refs == ["HEAD": Self.a, "refs/heads/main": Self.a, "refs/heads/feature": Self.b,
                               "refs/tags/v1": Self.c, "refs/tags/v1^{}": Self.a])
        #expect(heads.defaultBranch == "main")
        #expect(heads.branch("feature") == Self.b)
    }

    @Test("bytes fed one at a time give the same answer, once the flush packet has come")
    func incremental() throws {
        var parser = RefAdvertisement()
        var answer: RemoteHeads?
        for (i, byte) in sample.enumerated() {
            answer = try parser.consume([byte])
            #expect((answer == nil) == (i < sample.count - 1))
        }
        #expect(answer?.refs == (try RefAdvertisement.parse(sample)).refs)
        // What follows the flush (nothing does in v0, but a server may send more) is ignored.
        #expect(try parser.consume(Array("garbage".utf8))?.defaultBranch == "main")
    }

    @Test("an empty repository advertises only capabilities^{}: no refs, no default branch")
    func emptyRepository() throws {
        let zero = String(repeating: "0", count: 40)
        let heads = try RefAdvertisement.parse(advertisement(["\(zero) capabilities^{}\0report-status symref=HEAD:refs/heads/main\n"]))
        #expect(heads.refs.isEmpty)
        #expect(heads.defaultBranch == nil)
        #expect(try RefAdvertisement.parse(Array("0000".utf8)).refs.isEmpty)
    }

    @Test("HEAD's target counts only when HEAD is advertised; a version line and SHA-256 ids are read")
    func variants() throws {
        let noHead = try RefAdvertisement.parse(advertisement(["\(Self.a) refs/heads/main\0symref=HEAD:refs/heads/main\n"]))
        #expect(noHead.defaultBranch == nil)
        let long = String(repeating: "d", count: 64)
        let v1 = try RefAdvertisement.parse(advertisement(["version 1\n", "\(long) HEAD\0symref=HEAD:refs/heads/trunk\n", "\(long) refs/heads/trunk"]))
        #expect(v1.refs["refs/heads/trunk"] == long)
        #expect(v1.defaultBranch == "trunk")
    }

    @Test("an ERR line is the server's error, in its words")
    func errLine() {
        #expect(throws: GitError.self) { try RefAdvertisement.parse(Array(pkt("ERR access denied or repository not exported\n").utf8)) }
        do {
            _ = try RefAdvertisement.parse(Array(pkt("ERR no such repository").utf8))
        } catch {
            #expect(error.message == "remote error: no such repository")
        }
    }

    @Test("malformed input is refused, saying what was wrong", arguments: [
        ("zzzz", "bad pkt-line length zzzz"),
        ("0003", "bad pkt-line length 3"),
        ("0001", "bad pkt-line length 1"),
        ("ffff", "bad pkt-line length 65535"),
        ("003f\(String(repeating: "a", count: 40)) refs/heads/main", "ended early"),
        ("0010not a ref!!\n0000", "not a ref line: not a ref!!"),
        ("0032\(String(repeating: "x", count: 40)) HEAD\n0000", "not a ref line"),
    ])
    func malformed(input: String, says: String) {
        do {
            _ = try RefAdvertisement.parse(Array(input.utf8))
            Issue.record("accepted \(input)")
        } catch {
            #expect(error.message.contains("malformed ref advertisement"), "\(error.message)")
            #expect(error.message.contains(says), "\(error.message)")
        }
    }

    @Test("server text in an error is cut short and has no control characters")
    func printable() {
        #expect(RefAdvertisement.printable(Array("a\u{1b}[31mb\n".utf8)) == "a?[31mb?")
        #expect(RefAdvertisement.printable([UInt8](repeating: 65, count: 1000)).count == 200)
    }
}

@Suite("SSH remotes and client keys")
struct SSHRemoteTests {
    @Test("the path git-upload-pack is given, from each URL form", arguments: [
        ("ssh://git@example.com/org/repo.git", "example.com", nil, "git", "/org/repo.git"),
        ("ssh://example.com:2222/srv/git/r", "example.com", 2222, "git", "/srv/git/r"),
        ("ssh://deploy@example.com/~deploy/r.git", "example.com", nil, "deploy", "~deploy/r.git"),
        ("git+ssh://git@example.com/r", "example.com", nil, "git", "/r"),
        ("git@github.com:org/repo.git", "github.com", nil, "git", "org/repo.git"),
        ("example.com:repo", "example.com", nil, "git", "repo"),
    ] as [(String, String, Int?, String, String)])
    func remote(url: String, host: String, port: Int?, user: String, path: String) throws {
        let remote = try #require(SSHRemote(url: url))
        #expect(remote.host == host)
        #expect(remote.port == port)
        #expect(remote.connectPort == (port ?? 22))
        #expect(remote.user == user)
        #expect(remote.path == path)
    }

    @Test("other schemes are not SSH remotes")
    func notSSH() {
        for url in ["https://example.com/r.git", "file:///tmp/r.git", "/tmp/r.git", "ssh://example.com"] {
            #expect(SSHRemote(url: url) == nil, "\(url)")
        }
    }

    @Test("the path is quoted as git quotes it: ' and ! closed, escaped and reopened")
    func quoting() {
        #expect(SSHRemote.quoted("/srv/r.git") == "'/srv/r.git'")
        #expect(SSHRemote.quoted("/it's!") == "'/it'\\''s'\\!''")
        #expect(SSHRemote(url: "ssh://h/a b;rm -rf")?.uploadPackCommand == "git-upload-pack '/a b;rm -rf'")
    }

    @Test("an OpenSSH ed25519 key is usable; its digest depends on the passphrase too; other text is not a key")
    func clientKeys() throws {
        let key = DeployKey.generateEd25519(comment: "k")
        let parsed = try #require(SSHClientKey(privateKey: key.privateKeyOpenSSH, passphrase: nil))
        #expect(parsed.publicKey == key.publicKey.split(separator: " ").prefix(2).joined(separator: " "))
        let withPassphrase = try #require(SSHClientKey(privateKey: key.privateKeyOpenSSH, passphrase: "x"))
        #expect(parsed.digest != withPassphrase.digest)
        #expect(SSHClientKey(privateKey: "not a key", passphrase: nil) == nil)
        #expect(SSHClientKey(privateKey: "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n", passphrase: nil) == nil)
    }

    @Test("mpint scalars are padded or stripped to the curve's size")
    func scalars() {
        #expect(SSHClientKey.scalar([0, 0x80, 1], size: 3) == [0, 0x80, 1])
        #expect(SSHClientKey.scalar([0, 0xff, 1, 2], size: 3) == [0xff, 1, 2])
        #expect(SSHClientKey.scalar([1, 2, 3, 4], size: 3) == nil)
    }
}
