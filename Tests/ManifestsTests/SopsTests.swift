import Foundation
import GitTesting
import KubeModel
import Logging
@testable import Manifests
import Testing

/// SOPS files made by encoders other than Flotilla's (an independent age encoder following the
/// published format; PyPI's original Python sops with PGP) decrypted in memory, and every way one
/// can be wrong.
@Suite("SOPS decryption", .serialized)
struct SopsTests {
    static let secret = """
        apiVersion: v1
        kind: Secret
        metadata:
          name: db
        type: Opaque
        data:
          password: aHVudGVyMg==
        stringData:
          user: admin
          port: 5432
          tls: true
        """

    func decryptor(age: AgeKey? = nil, pgp: [String] = []) -> SopsDecryptor {
        SopsDecryptor(ageIdentities: age?.identity ?? "", pgpKeys: pgp, scratch: tempDir("sops-scratch"))
    }

    func documents(_ bytes: [UInt8]) throws -> [JSONValue] {
        try YAML.decodeAll(String(decoding: bytes, as: UTF8.self))
    }

    @Test("age with encrypted_regex: data and stringData decrypt to their types, the rest stays clear, the MAC matches")
    func age() async throws {
        let key = try AgeKey()
        let encrypted = try key.sopsEncrypt(Self.secret, encryptedRegex: "^(data|stringData)$")
        #expect(!encrypted.contains("hunter2") && !encrypted.contains("admin") && encrypted.contains("ENC[AES256_GCM,"))
        #expect(SopsDecryptor.isEncrypted(Array(encrypted.utf8)))
        let plain = try documents(try await decryptor(age: key).decrypt(Array(encrypted.utf8), source: "db.yaml"))
        #expect(plain.count == 1)
        let doc = try #require(plain.first)
        #expect(doc["data"]?["password"] == "aHVudGVyMg==")
        #expect(doc["stringData"]?["user"] == "admin" && doc["stringData"]?["port"] == .int(5432) && doc["stringData"]?["tls"] == .bool(true))
        #expect(doc["metadata"]?["name"] == "db" && doc["kind"] == "Secret")
        #expect(doc["sops"] == nil, "the metadata is not part of the object")
    }

    @Test("PyPI sops 1.18 with PGP, the whole document encrypted: decrypted with the private key")
    func pythonSopsPGP() async throws {
        let gpg = try GPGKey("SOPS Test <sops@example.com>", encrypting: true)
        let encrypted = try pythonSopsEncrypt(Self.secret, fingerprint: gpg.fingerprint, gnupgHome: gpg.home)
        #expect(!encrypted.contains("kind: Secret"), "everything is encrypted, apiVersion and kind too")
        let doc = try #require(try documents(try await decryptor(pgp: [try gpg.secretKey()]).decrypt(Array(encrypted.utf8), source: "db.yaml")).first)
        #expect(doc["kind"] == "Secret" && doc["data"]?["password"] == "aHVudGVyMg==" && doc["stringData"]?["tls"] == .bool(true))
    }

    @Test("tampering: a value moved to another key, a changed clear value, a changed MAC; a wrong key and no key name the recipients; encrypted comments are refused")
    func failures() async throws {
        let key = try AgeKey(), other = try AgeKey()
        let encrypted = try key.sopsEncrypt(Self.secret, encryptedRegex: "^(data|stringData)$")
        let d = decryptor(age: key)
        func error(_ text: String, _ decryptor: SopsDecryptor) async -> RenderError? {
            await #expect(throws: RenderError.self) { try await decryptor.decrypt(Array(text.utf8), source: "db.yaml") }
        }
        // Swap two encrypted values: each is authenticated with its own path.
        let lines = encrypted.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let user = try #require(lines.firstIndex { $0.hasPrefix("  user: ENC[") }), port = try #require(lines.firstIndex { $0.hasPrefix("  port: ENC[") })
        var swapped = lines
        swapped[user] = "  user: " + lines[port].dropFirst("  port: ".count)
        swapped[port] = "  port: " + lines[user].dropFirst("  user: ".count)
        let moved = await error(swapped.joined(separator: "\n"), d)
        #expect(moved?.kind == .decryption && moved?.message.contains("stringData.user does not decrypt") == true, "\(moved?.message ?? "")")
        let renamed = await error(encrypted.replacingOccurrences(of: "  name: db", with: "  name: other"), d)
        #expect(renamed?.message.contains("MAC does not match") == true, "a clear value is covered by the MAC: \(renamed?.message ?? "")")
        let wrong = await error(encrypted, decryptor(age: other))
        #expect(wrong?.message.contains("no key in spec.decryption.secretRef") == true && wrong?.message.contains(key.recipient) == true, "\(wrong?.message ?? "")")
        let commented = await error(encrypted.replacingOccurrences(of: "stringData:\n", with: "stringData:\n  #ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:comment]\n"), d)
        #expect(commented?.message.contains("encrypted comments") == true, "\(commented?.message ?? "")")
    }

    @Test("the renderer decrypts files and generator output in memory; without spec.decryption an encrypted file fails the revision naming it")
    func renderer() async throws {
        let key = try AgeKey()
        let encrypted = try key.sopsEncrypt(Self.secret, encryptedRegex: "^(data|stringData)$")
        let fixture = try RenderFixture(["apps/db.yaml": encrypted, "apps/cm.yaml": cm("plain"), "gen/.flux.yaml": "version: 1\ncommandUpdated:\n  generators:\n  - command: cat secret.enc\n",
                                         "gen/secret.enc": encrypted.replacingOccurrences(of: "name: db", with: "name: db")])
        var options = RenderOptions(paths: ["apps"])
        let missing = try await fixture.renderError(options)
        #expect(missing?.kind == .decryption && missing?.message.contains("apps/db.yaml is encrypted with SOPS") == true, "\(missing?.message ?? "")")
        options.decryptor = decryptor(age: key)
        let set = try await fixture.render(options)
        let db = try #require(set.manifests.first { $0.object["kind"] == "Secret" })
        #expect(db.object["stringData"]?["user"] == "admin" && db.source == "apps/db.yaml")
        var generation = RenderOptions(paths: ["gen"], manifestGeneration: true)
        generation.decryptor = options.decryptor
        let generated = try await fixture.render(generation)
        #expect(generated.manifests.first?.object["data"]?["password"] == "aHVudGVyMg==", "generator output is decrypted too")
        // Nothing decrypted was written under the work directory.
        let written = try FileManager.default.subpathsOfDirectory(atPath: fixture.renderer.workDirectory).compactMap { try? String(contentsOfFile: fixture.renderer.workDirectory + "/" + $0, encoding: .utf8) }
        #expect(!written.contains { $0.contains("stringData:\n  user: admin") || $0.contains("\"user\":\"admin\"") })
    }
}
