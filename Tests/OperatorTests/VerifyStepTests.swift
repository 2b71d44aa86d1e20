import FlotillaAPI
import Foundation
import GitTesting
import KubeClient
import KubeModel
import KubeTesting
import Testing

/// The verify step against commits signed by real git with gpg and ssh keys.
@Suite("Verify step: commit signatures", .serialized)
struct VerifyStepTests {
    func trusted(_ f: OperatorFixture, _ name: String, _ data: [String: String]) async throws {
        _ = try await f.client.create(.secrets, ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": .string(name), "namespace": "team-a"],
                                                 "stringData": .object(data.mapValues { .string($0) })])
    }

    func verifySpec(_ url: String, mode: String, secret: String = "trusted") -> JSONValue {
        ["git": gitSpec(url, ["verify": ["mode": .string(mode), "secretRef": ["name": .string(secret)]]])]
    }

    func ready(_ f: OperatorFixture, _ name: String) async throws -> Condition? {
        f.ready(try await f.instance(name, namespace: "team-a"))
    }

    @Test("mode all: GPG- and SSH-signed commits apply and the status names the verified revision and signer; an unsigned or untrusted commit applies nothing, is named, and stays refused until the history is rewritten")
    func all() async throws {
        let alice = try GPGKey("Alice <alice@example.com>")
        let bob = try SSHSigningKey(comment: "bob")
        let mallory = try GPGKey("Mallory <mallory@example.com>")
        let up = try UpstreamRepo(files: ["a.yaml": cm("a")])
        let signed = try up.commit(["a.yaml": cm("a", value: "alice")], message: "by alice", config: alice.gitConfig, signingArguments: ["-S"], environment: alice.gitEnvironment)
        try await withOperator(namespaces: ["team-a"]) { f in
            try await trusted(f, "trusted", ["alice.asc": try alice.publicKey(), "allowed_signers": bob.allowedSigner("bob@example.com")])
            try await f.apply("apps", namespace: "team-a", spec: verifySpec(up.url, mode: "all"))
            let first = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: signed)
            #expect(first?.status?.verification?.revision == signed)
            #expect(first?.status?.verification?.signer.contains("Alice <alice@example.com>") == true, "\(String(describing: first?.status?.verification))")

            let bobs = try up.commit(["a.yaml": cm("a", value: "bob")], message: "by bob", config: bob.gitConfig, signingArguments: ["-S"])
            let second = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: bobs)
            #expect(second?.status?.verification?.signer == "bob@example.com (SSH)")

            let unsigned = try up.commit(["a.yaml": cm("a", value: "unsigned")], message: "sneaky change")
            let refused = try await f.waitFor("apps", namespace: "team-a", reason: "VerificationFailed")
            #expect(refused?.status?.lastError?.contains("commit \(unsigned.prefix(7))") == true && refused?.status?.lastError?.contains("not signed") == true,
                    "\(refused?.status?.lastError ?? "")")
            #expect(refused?.status?.lastAppliedRevision == bobs && refused?.status?.verification?.revision == bobs)
            #expect(try await f.configMap("a", namespace: "team-a")?["data"]?["k"] == "bob", "nothing of the unsigned commit applied")
            let events = try await f.client.list(.events, namespace: "team-a")
            #expect(events.items.contains { $0["reason"] == "VerificationFailed" && $0["message"]?.stringValue?.contains(String(unsigned.prefix(7))) == true })

            // A signed commit on top does not launder the unsigned one below it.
            let onTop = try up.commit(["a.yaml": cm("a", value: "on top")], message: "on top", config: alice.gitConfig, signingArguments: ["-S"], environment: alice.gitEnvironment)
            #expect(try await eventually { try await f.instance("apps", namespace: "team-a")?.status?.headRevision == onTop }, "the failure names the head it refused")
            #expect(try await ready(f, "apps")?.message?.contains(String(unsigned.prefix(7))) == true)
            #expect(try await f.configMap("a", namespace: "team-a")?["data"]?["k"] == "bob")

            // Rewritten without it, but by an untrusted key: named with its key.
            try sh(["git", "reset", "-q", "--hard", bobs], cwd: up.work)
            let forged = try up.commit(["a.yaml": cm("a", value: "mallory")], message: "by mallory", config: mallory.gitConfig, signingArguments: ["-S"], environment: mallory.gitEnvironment, force: true)
            var last = ""
            #expect(try await eventually(timeout: .seconds(30)) {
                last = try await ready(f, "apps")?.message ?? ""
                return last.contains("commit \(forged.prefix(7))") && last.contains("not trusted")
            }, "\(last)")

            // Rewritten with a trusted signature: applied.
            try sh(["git", "reset", "-q", "--hard", bobs], cwd: up.work)
            let good = try up.commit(["a.yaml": cm("a", value: "good")], message: "good", config: alice.gitConfig, signingArguments: ["-S"],
                                     environment: alice.gitEnvironment, force: true)
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: good)
        }
    }

    @Test("first-parent accepts an unsigned commit merged in by a signed merge; all refuses it; head checks the head alone")
    func firstParent() async throws {
        let alice = try GPGKey("Alice <alice@example.com>")
        let modes = [("fp", "first-parent"), ("all", "all"), ("head", "head")]
        let up = try UpstreamRepo(files: Dictionary(uniqueKeysWithValues: modes.map { ("\($0.0)/a.yaml", cm("a-\($0.0)")) }))
        let base = try up.commit(Dictionary(uniqueKeysWithValues: modes.map { ("\($0.0)/a.yaml", cm("a-\($0.0)", value: "base")) }), message: "base",
                                 config: alice.gitConfig, signingArguments: ["-S"], environment: alice.gitEnvironment)
        try await withOperator(namespaces: ["team-a"]) { f in
            try await trusted(f, "trusted", ["alice.asc": try alice.publicKey()])
            for (name, mode) in modes {
                try await f.apply(name, namespace: "team-a", spec: verifySpec(up.url, mode: mode).merging(path: ["git", "paths"], .array([.string(name)])))
            }
            for name in ["fp", "all", "head"] { _ = try await f.waitFor(name, namespace: "team-a", reason: "Synced", revision: base) }
            try sh(["git", "checkout", "-q", "-b", "feature"], cwd: up.work)
            for name in ["fp", "all", "head"] { try cm("b-\(name)").write(toFile: "\(up.work)/\(name)/b.yaml", atomically: true, encoding: .utf8) }
            try sh(["git", "add", "-A"], cwd: up.work)
            try sh(["git", "commit", "-q", "-m", "unsigned feature work"], cwd: up.work)
            let feature = try sh(["git", "rev-parse", "HEAD"], cwd: up.work)
            try sh(["git", "checkout", "-q", "main"], cwd: up.work)
            try sh(["git", "-c", "user.signingkey=\(alice.fingerprint)", "merge", "-q", "--no-ff", "-S", "-m", "merge feature", "feature"], cwd: up.work, env: alice.gitEnvironment)
            try sh(["git", "push", "-q", "origin", "main"], cwd: up.work)
            let merge = try up.head()
            _ = try await f.waitFor("fp", namespace: "team-a", reason: "Synced", revision: merge)
            _ = try await f.waitFor("head", namespace: "team-a", reason: "Synced", revision: merge)
            let all = try await f.waitFor("all", namespace: "team-a", reason: "VerificationFailed")
            #expect(all?.status?.lastError?.contains("commit \(feature.prefix(7))") == true, "the unsigned second-parent commit is named: \(all?.status?.lastError ?? "")")

            // An unsigned merge commit is on the first-parent chain: refused in first-parent mode.
            try sh(["git", "checkout", "-q", "feature"], cwd: up.work)
            try cm("c-fp").write(toFile: "\(up.work)/fp/c.yaml", atomically: true, encoding: .utf8)
            try sh(["git", "add", "-A"], cwd: up.work)
            try sh(["git", "-c", "user.signingkey=\(alice.fingerprint)", "commit", "-q", "-S", "-m", "signed feature work"], cwd: up.work, env: alice.gitEnvironment)
            try sh(["git", "checkout", "-q", "main"], cwd: up.work)
            try sh(["git", "merge", "-q", "--no-ff", "-m", "unsigned merge", "feature"], cwd: up.work)
            try sh(["git", "push", "-q", "origin", "main"], cwd: up.work)
            let unsignedMerge = try up.head()
            let fp = try await f.waitFor("fp", namespace: "team-a", reason: "VerificationFailed")
            #expect(fp?.status?.lastError?.contains("commit \(unsignedMerge.prefix(7))") == true && fp?.status?.lastAppliedRevision == merge,
                    "\(fp?.status?.lastError ?? "")")
        }
    }

    @Test("a tampered commit (its signed message changed) is a bad signature; a missing or empty Secret is InvalidSpec")
    func tamperedAndBadSecrets() async throws {
        let alice = try GPGKey("Alice <alice@example.com>")
        let up = try UpstreamRepo(files: ["a.yaml": cm("a")])
        let signed = try up.commit(["a.yaml": cm("a", value: "signed")], message: "pay alice 10", config: alice.gitConfig, signingArguments: ["-S"], environment: alice.gitEnvironment)
        // The same commit object, signature kept, message changed: what a tampering remote serves.
        let raw = try sh(["git", "--git-dir", up.bare, "cat-file", "commit", signed]).replacingOccurrences(of: "pay alice 10", with: "pay mallory 1000")
        let file = tempDir("tamper") + "/commit"
        try (raw + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let tampered = try sh(["git", "--git-dir", up.bare, "hash-object", "-t", "commit", "-w", file])
        try sh(["git", "--git-dir", up.bare, "update-ref", "refs/heads/main", tampered])
        try await withOperator(namespaces: ["team-a"]) { f in
            try await trusted(f, "trusted", ["alice.asc": try alice.publicKey()])
            try await trusted(f, "empty", ["unrelated": "x"])
            try await f.apply("apps", namespace: "team-a", spec: verifySpec(up.url, mode: "head"))
            try await f.apply("nosecret", namespace: "team-a", spec: verifySpec(up.url, mode: "head", secret: "missing"))
            try await f.apply("nokeys", namespace: "team-a", spec: verifySpec(up.url, mode: "head", secret: "empty"))
            let bad = try await f.waitFor("apps", namespace: "team-a", reason: "VerificationFailed")
            #expect(bad?.status?.lastError?.contains("bad GPG signature") == true && bad?.status?.lastError?.contains(String(tampered.prefix(7))) == true,
                    "\(bad?.status?.lastError ?? "")")
            #expect(try await f.configMap("a", namespace: "team-a") == nil, "nothing applied")
            #expect(try await f.waitFor("nosecret", namespace: "team-a", reason: "InvalidSpec")?.status?.lastError?.contains("team-a/missing") == true)
            #expect(try await f.waitFor("nokeys", namespace: "team-a", reason: "InvalidSpec")?.status?.lastError?.contains("no trusted key") == true)
        }
    }
}

extension JSONValue {
    /// A copy with `value` at `path` (objects made on the way).
    func merging(path: [String], _ value: JSONValue) -> JSONValue {
        guard let key = path.first else { return value }
        var object = self.objectValue ?? [:]
        object[key] = (object[key] ?? .object([:])).merging(path: Array(path.dropFirst()), value)
        return .object(object)
    }
}
