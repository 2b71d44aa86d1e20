import Crypto
import Foundation
import KubeModel
import Primitives

/// Decrypts SOPS files after they are read and before they are parsed into manifests (plain files
/// and generator output alike), in memory: the data key is unwrapped by Debian's `age` (age
/// identities) or `gpg` (PGP private keys) in a fresh private directory removed right after, and
/// the values by `SopsDocument`. A file that cannot be decrypted fails the revision, naming the
/// file and the recipients it was encrypted for. Plaintext never reaches the disk.
public struct SopsDecryptor: Sendable, Equatable {
    /// age identities (`AGE-SECRET-KEY-1…` lines).
    public var ageIdentities: String
    /// Armored PGP private keys.
    public var pgpKeys: [String]
    /// Where the tools get their private directories (the instance's own).
    public var scratch: String

    public init(ageIdentities: String, pgpKeys: [String], scratch: String) {
        self.ageIdentities = ageIdentities
        self.pgpKeys = pgpKeys
        self.scratch = scratch
    }

    /// The keys of a decryption Secret's values: age identities under keys ending in `.agekey`,
    /// armored PGP private keys under `.asc`; nil when it holds neither.
    public init?(secretValues fields: [String: [UInt8]], scratch: String) {
        let text = { (key: String) in String(decoding: fields[key] ?? [], as: UTF8.self) }
        let age = fields.keys.sorted().filter { $0.hasSuffix(".agekey") }.map(text).joined(separator: "\n")
        let pgp = fields.keys.sorted().filter { $0.hasSuffix(".asc") }.map(text)
        guard !age.isEmpty || !pgp.isEmpty else { return nil }
        self.init(ageIdentities: age, pgpKeys: pgp, scratch: scratch)
    }

    /// A name for the keys that reveals nothing of them (a parse cache filled with other keys is
    /// dropped when it changes).
    public var fingerprint: String {
        let digest = SHA256.hash(data: Array((ageIdentities + "\u{0}" + pgpKeys.joined(separator: "\u{0}")).utf8))
        return digest.prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    /// True for bytes that hold a SOPS document (checked before parsing).
    public static func isEncrypted(_ bytes: [UInt8]) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self)
        return text.contains("ENC[AES256_GCM,") && text.contains("sops:")
    }

    /// `bytes` with every SOPS document decrypted (as JSON documents of a YAML stream); other
    /// documents of the file are kept.
    public func decrypt(_ bytes: [UInt8], source: String) async throws(RenderError) -> [UInt8] {
        let documents: [YAMLNode?]
        do { documents = try YAMLTree.documents(bytes) } catch {
            throw RenderError(.parse, "\(source): \(error)")
        }
        let hasComments = String(decoding: bytes, as: UTF8.self).contains("#ENC[AES256_GCM,")
        var out: [UInt8] = []
        for node in documents {
            guard let node else { continue }
            let value: JSONValue
            if var document = SopsDocument(node) {
                if hasComments { document.commentMarker = "#ENC[…]" }
                let key = try await dataKey(document, source: source)
                do { value = try document.decrypt(key: key) } catch {
                    throw RenderError(.decryption, "\(source): cannot decrypt: \(error)")
                }
            } else {
                value = Self.plain(node)
            }
            out += Array("---\n".utf8) + value.jsonBytes() + [10]
        }
        return out
    }

    /// The data key, from the first age or PGP stanza one of the keys opens.
    func dataKey(_ document: SopsDocument, source: String) async throws(RenderError) -> [UInt8] {
        let age = document.ageStanzas, pgp = document.pgpStanzas
        var problems: [String] = []
        if !ageIdentities.isEmpty {
            for stanza in age {
                if let key = try? await unwrap(age: stanza.enc) { return key }
            }
        }
        if !pgpKeys.isEmpty, !pgp.isEmpty {
            if let key = try? await unwrap(pgp: pgp.map(\.enc)) { return key }
        }
        if !age.isEmpty { problems.append("age recipients " + age.map(\.recipient).joined(separator: ", ")) }
        if !pgp.isEmpty { problems.append("PGP keys " + pgp.map(\.fingerprint).joined(separator: ", ")) }
        throw RenderError(.decryption, "\(source): no key in spec.decryption.secretRef opens its data key; it is encrypted for "
                          + (problems.isEmpty ? "no age or PGP recipient (other key services are not supported)" : problems.joined(separator: " and ")))
    }

    static let limits = Subprocess.Limits(timeout: .seconds(20), maxStdout: 4096)

    /// A private directory for one unwrap, removed after `body`.
    func withPrivateDirectory<T>(_ body: (String, [String: String]) async throws -> T) async throws -> T {
        let dir = scratch + "/sops-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        return try await body(dir, ["PATH": "/usr/bin:/bin", "HOME": dir, "LC_ALL": "C"])
    }

    static func write(_ path: String, _ text: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw RenderError(.decryption, "cannot write in the decryption directory")
        }
    }

    struct Unwrap: Error {}

    func unwrap(age enc: String) async throws -> [UInt8] {
        try await withPrivateDirectory { dir, env in
            try Self.write(dir + "/identities", ageIdentities)
            try Self.write(dir + "/key.age", enc)
            let out = try await Subprocess.run(["/usr/bin/age", "--decrypt", "-i", dir + "/identities", dir + "/key.age"], environment: env, limits: Self.limits)
            guard out.outcome == .exited(0), out.stdout.count == 32 else { throw Unwrap() }
            return out.stdout
        }
    }

    func unwrap(pgp encs: [String]) async throws -> [UInt8] {
        try await withPrivateDirectory { dir, env in
            let home = dir + "/gnupg"
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try Self.write(dir + "/keys.asc", pgpKeys.joined(separator: "\n"))
            let gpg = ["/usr/bin/gpg", "--batch", "--homedir", home, "--pinentry-mode", "loopback", "--passphrase", ""]
            var key: [UInt8]?
            if (try await Subprocess.run(gpg + ["--import", dir + "/keys.asc"], environment: env, limits: Self.limits)).outcome == .exited(0) {
                for (i, enc) in encs.enumerated() where key == nil {
                    try Self.write(dir + "/key-\(i).asc", enc)
                    let out = try await Subprocess.run(gpg + ["--decrypt", dir + "/key-\(i).asc"], environment: env, limits: Self.limits)
                    if out.outcome == .exited(0), out.stdout.count == 32 { key = out.stdout }
                }
            }
            // gpg started an agent for the secret key: it goes before the directory does.
            _ = try? await Subprocess.run(["/usr/bin/gpgconf", "--homedir", home, "--kill", "gpg-agent"], environment: env, limits: Self.limits)
            guard let key else { throw Unwrap() }
            return key
        }
    }

    /// A document without SOPS metadata, typed as the YAML decoder types it.
    static func plain(_ node: YAMLNode) -> JSONValue {
        switch node {
        case .mapping(let pairs):
            var object: [String: JSONValue] = [:]
            for (key, value) in pairs { if let key = key?.value { object[key] = plain(value) } }
            return .object(object)
        case .sequence(let items): return .array(items.map(plain))
        case .scalar(let s): return s.style == .plain ? YAML.resolvePlainScalar(s.value) : .string(s.value)
        case .alias: return .null
        }
    }
}
