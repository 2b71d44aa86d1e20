import FlotillaAPI
import Foundation
import GitTesting
import KubeClient
import KubeModel
import KubeTesting
import Testing

/// The decrypt step: SOPS files decrypted in memory with the keys of spec.decryption.
@Suite("Decrypt step: SOPS", .serialized)
struct DecryptStepTests {
    static let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hunter2\n"

    @Test("the instance's age key decrypts and applies the Secret; a file for another key, or no spec.decryption, is DecryptionFailed naming the file and applies nothing of the revision")
    func decrypt() async throws {
        let key = try AgeKey(), other = try AgeKey()
        let mine = try key.sopsEncrypt(Self.secret, encryptedRegex: "^(data|stringData)$")
        let theirs = try other.sopsEncrypt(Self.secret, encryptedRegex: "^(data|stringData)$")
        let up = try UpstreamRepo(files: ["ok/db.yaml": mine, "ok/cm.yaml": cm("ok"), "bad/db.yaml": theirs, "bad/cm.yaml": cm("bad"),
                                          "none/db.yaml": mine, "none/cm.yaml": cm("none")])
        try await withOperator(namespaces: ["team-a", "team-b", "team-c"]) { f in
            for ns in ["team-a", "team-b"] {
                _ = try await f.client.create(.secrets, ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "sops", "namespace": .string(ns)],
                                                         "stringData": ["team.agekey": .string(key.identity)]])
            }
            let decryption: JSONValue = ["provider": "sops", "secretRef": ["name": "sops"]]
            try await f.apply("apps", namespace: "team-a", spec: ["git": gitSpec(up.url, ["paths": ["ok"]]), "decryption": decryption])
            try await f.apply("apps", namespace: "team-b", spec: ["git": gitSpec(up.url, ["paths": ["bad"]]), "decryption": decryption])
            try await f.apply("apps", namespace: "team-c", spec: ["git": gitSpec(up.url, ["paths": ["none"]])])
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: try up.head())
            let applied = try await f.client.get(Secret.self, name: "db", namespace: "team-a")
            #expect(applied.value("password").map { String(decoding: $0, as: UTF8.self) } == "hunter2")
            let bad = try await f.waitFor("apps", namespace: "team-b", reason: "DecryptionFailed")
            #expect(bad?.status?.lastError?.contains("bad/db.yaml") == true && bad?.status?.lastError?.contains(other.recipient) == true,
                    "\(bad?.status?.lastError ?? "")")
            let none = try await f.waitFor("apps", namespace: "team-c", reason: "DecryptionFailed")
            #expect(none?.status?.lastError?.contains("none/db.yaml is encrypted with SOPS: set spec.decryption") == true)
            let badCM = try await f.configMap("bad", namespace: "team-b"), noneCM = try await f.configMap("none", namespace: "team-c")
            #expect(badCM == nil && noneCM == nil, "nothing of a revision that does not decrypt is applied")
            let status = try await f.client.list(FluxInstance.resourceType).items.map { $0.jsonString() }.joined()
            #expect(!status.contains("hunter2") && !status.contains("AGE-SECRET-KEY"))
        }
    }
}
