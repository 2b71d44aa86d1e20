import Foundation

/// An age key pair made by Debian's age-keygen.
public struct AgeKey: Sendable {
    public let identity: String
    public let recipient: String

    public init() throws {
        let dir = tempDir("age")
        try sh(["age-keygen", "-o", dir + "/key.txt"])
        identity = try String(contentsOfFile: dir + "/key.txt", encoding: .utf8)
        guard let line = identity.split(separator: "\n").first(where: { $0.hasPrefix("# public key: ") }) else {
            throw FixtureError("age-keygen wrote no public key")
        }
        recipient = String(line.dropFirst("# public key: ".count))
    }

    /// `plain` encrypted for this key by hack/testing/sops-age-encrypt.py (an encoder independent
    /// of Flotilla's decoder), optionally only the values under keys matching `encryptedRegex`.
    public func sopsEncrypt(_ plain: String, encryptedRegex: String? = nil) throws -> String {
        let dir = tempDir("sops")
        try plain.write(toFile: dir + "/plain.yaml", atomically: true, encoding: .utf8)
        let args = [LocalRegistry.hackPath("sops-age-encrypt.py"), recipient] + (encryptedRegex.map { ["--encrypted-regex", $0] } ?? [])
        return try sh(["sh", "-c", "python3 \"$@\" < \"$0\"", dir + "/plain.yaml"] + args) + "\n"
    }
}

/// PyPI's `sops` 1.18 (the original Python implementation, installed into `.venv` by hack/test):
/// `plain` encrypted whole for the PGP key `fingerprint` of the keyring `gnupgHome`.
public func pythonSopsEncrypt(_ plain: String, fingerprint: String, gnupgHome: String) throws -> String {
    let sops = URL(fileURLWithPath: LocalRegistry.hackPath("")).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".venv/bin/sops").path
    guard FileManager.default.isExecutableFile(atPath: sops) else { throw FixtureError("\(sops) is missing: hack/test installs PyPI sops into .venv") }
    let dir = tempDir("pysops")
    try plain.write(toFile: dir + "/plain.yaml", atomically: true, encoding: .utf8)
    return try sh([sops, "--pgp", fingerprint, "-e", dir + "/plain.yaml"], env: ["GNUPGHOME": gnupgHome]) + "\n"
}
