import Foundation

/// A GPG key made by Debian's gpg in a keyring of its own (no passphrase unless given), as a
/// developer would sign commits with it.
public struct GPGKey: Sendable {
    public let home: String
    public let fingerprint: String
    public let uid: String

    /// `encrypting`: with an encryption subkey too (for SOPS's PGP recipients).
    public init(_ uid: String, passphrase: String = "", encrypting: Bool = false) throws {
        home = tempDir("gnupg")
        chmod(home, 0o700)
        self.uid = uid
        try sh(["gpg", "--batch", "--homedir", home, "--pinentry-mode", "loopback", "--passphrase", passphrase,
                "--quick-gen-key", uid, "ed25519", "sign", "never"])
        let colons = try sh(["gpg", "--batch", "--homedir", home, "--with-colons", "--list-secret-keys"])
        guard let fpr = colons.split(separator: "\n").first(where: { $0.hasPrefix("fpr:") })?.split(separator: ":", omittingEmptySubsequences: false).dropFirst(9).first else {
            throw FixtureError("no fingerprint for the new key")
        }
        fingerprint = String(fpr)
        if encrypting {
            try sh(["gpg", "--batch", "--homedir", home, "--pinentry-mode", "loopback", "--passphrase", passphrase,
                    "--quick-add-key", fingerprint, "cv25519", "encr", "never"])
        }
    }

    public func publicKey() throws -> String { try sh(["gpg", "--batch", "--homedir", home, "--armor", "--export", fingerprint]) + "\n" }

    public func secretKey(passphrase: String = "") throws -> String {
        try sh(["gpg", "--batch", "--homedir", home, "--pinentry-mode", "loopback", "--passphrase", passphrase, "--armor", "--export-secret-keys", fingerprint]) + "\n"
    }

    /// `git commit` settings and flags that sign with this key.
    public var gitConfig: [String: String] { ["user.signingkey": fingerprint, "gpg.program": "gpg"] }
    public var gitEnvironment: [String: String] { ["GNUPGHOME": home] }
}

/// An SSH key made by ssh-keygen for signing commits (`gpg.format=ssh`).
public struct SSHSigningKey: Sendable {
    public let path: String
    public let publicKey: String

    public init(comment: String) throws {
        path = tempDir("sshsign") + "/key"
        try sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path])
        publicKey = try String(contentsOfFile: path + ".pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public var privateKey: String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
    public var gitConfig: [String: String] { ["gpg.format": "ssh", "user.signingkey": path] }
    /// An allowed_signers line trusting this key for `principal`.
    public func allowedSigner(_ principal: String) -> String { "\(principal) namespaces=\"git\" \(publicKey)\n" }
}
