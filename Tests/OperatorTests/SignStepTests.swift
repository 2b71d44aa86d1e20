import FlotillaAPI
import Foundation
import GitTesting
import KubeClient
import KubeModel
import KubeTesting
import Testing

/// Signing the commits Flotilla makes, checked by real git (`git verify-commit`).
@Suite("Sign step: signed commits", .serialized)
struct SignStepTests {
    func secret(_ f: OperatorFixture, _ name: String, _ data: [String: String]) async throws {
        _ = try await f.client.create(.secrets, ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": .string(name), "namespace": "team-a"],
                                                 "stringData": .object(data.mapValues { .string($0) })])
    }

    func lock(_ f: OperatorFixture, _ instance: String, id: String) async throws -> RequestResult? {
        try await f.request(instance, namespace: "team-a", id: id, #"{"action":"policy","workloads":["team-a:deployment/web"],"lock":true}"#)
        return try await f.answer(instance, namespace: "team-a", id: id)
    }

    @Test("a GPG key with a passphrase signs the request's commit; git verify-commit accepts it; the instance's own verification applies it")
    func gpg() async throws {
        let bot = try GPGKey("Flotilla Bot <bot@example.com>", passphrase: "s3cret")
        let up = try UpstreamRepo(files: ["apps/web.yaml": RequestsStepTests.web])
        let initial = try up.head()
        try await withOperator(namespaces: ["team-a"]) { f in
            try await secret(f, "signing", ["git.asc": try bot.secretKey(passphrase: "s3cret"), "passphrase": "s3cret"])
            try await secret(f, "trusted", ["bot.asc": try bot.publicKey()])
            try await f.apply("apps", namespace: "team-a", spec: ["git": gitSpec(up.url, ["paths": ["apps"], "signingKeySecretRef": ["name": "signing"],
                                                                                          "verify": ["mode": "head", "secretRef": ["name": "trusted"]]])])
            // The initial commit is unsigned: verification refuses it; the instance still answers requests.
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "VerificationFailed")
            let answer = try await lock(f, "apps", id: "lock")
            #expect(answer?.state == "Succeeded", "\(String(describing: answer))")
            let head = try up.head()
            #expect(head != initial && answer?.revision == head)
            _ = try sh(["git", "--git-dir", up.bare, "verify-commit", head], env: bot.gitEnvironment)  // throws unless a good signature
            #expect(try sh(["git", "--git-dir", up.bare, "cat-file", "commit", head]).contains("-----BEGIN PGP SIGNATURE-----"))
            let synced = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: head)
            #expect(synced?.status?.verification?.signer.contains("Flotilla Bot") == true, "its own signed commit passes its verification")
        }
    }

    @Test("an SSH key signs; git verify-commit with allowed signers accepts it; a Secret without a key is InvalidSpec naming it")
    func ssh() async throws {
        let key = try SSHSigningKey(comment: "flotilla")
        let up = try UpstreamRepo(files: ["apps/web.yaml": RequestsStepTests.web])
        let allowed = tempDir("allowed") + "/allowed_signers"
        try key.allowedSigner("flotilla@example.com").write(toFile: allowed, atomically: true, encoding: .utf8)
        try await withOperator(namespaces: ["team-a"]) { f in
            try await secret(f, "signing", ["identity": key.privateKey])
            try await secret(f, "nokey", ["unrelated": "x"])
            try await f.apply("apps", namespace: "team-a", spec: ["git": gitSpec(up.url, ["paths": ["apps"], "signingKeySecretRef": ["name": "signing"]])])
            try await f.apply("broken", namespace: "team-a", spec: ["git": gitSpec(up.url, ["paths": ["other"], "signingKeySecretRef": ["name": "nokey"]])])
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: try up.head())
            let answer = try await lock(f, "apps", id: "lock")
            #expect(answer?.state == "Succeeded", "\(String(describing: answer))")
            let head = try up.head()
            #expect(try sh(["git", "--git-dir", up.bare, "cat-file", "commit", head]).contains("-----BEGIN SSH SIGNATURE-----"))
            _ = try sh(["git", "--git-dir", up.bare, "-c", "gpg.ssh.allowedSignersFile=\(allowed)", "verify-commit", head])  // throws unless good
            let broken = try await f.waitFor("broken", namespace: "team-a", reason: "InvalidSpec")
            #expect(broken?.status?.lastError?.contains("team-a/nokey") == true && broken?.status?.lastError?.contains("git.asc") == true)
        }
    }
}
