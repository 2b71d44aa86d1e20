import Crypto
import Foundation
import NIOSSH

/// A deploy key the pooled SSH transport can sign with: an unencrypted OpenSSH (`openssh-key-v1`)
/// ed25519 or ECDSA (P-256/384/521) key, or a PEM/PKCS#8 ECDSA key. Anything else (RSA, an
/// encrypted key) gives nil and stays on libgit2: swift-nio-ssh has no RSA user authentication,
/// and no key decryption.
struct SSHClientKey: Sendable {
    let privateKey: NIOSSHPrivateKey
    /// SHA-256 of the key text and passphrase: part of a pooled connection's identity, so only a
    /// mirror holding the same key can use a connection that key authenticated.
    let digest: [UInt8]

    init?(privateKey text: String, passphrase: String?) {
        guard let key = Self.openSSH(text) ?? Self.pem(text) else { return nil }
        privateKey = key
        var material = Array(text.utf8)
        material.append(0)
        material.append(contentsOf: Array((passphrase ?? "").utf8))
        digest = Array(SHA256.hash(data: material))
    }

    /// The public key, as an OpenSSH line without a comment (`ssh-ed25519 AAAA…`).
    var publicKey: String { String(openSSHPublicKey: privateKey.publicKey) }

    /// An unencrypted `openssh-key-v1` ed25519 or ECDSA key.
    static func openSSH(_ text: String) -> NIOSSHPrivateKey? {
        guard text.contains("BEGIN OPENSSH PRIVATE KEY") else { return nil }
        let b64 = text.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("-----") }.joined()
        guard let data = Data(base64Encoded: b64) else { return nil }
        var reader = SSHReader(bytes: Array(data))
        guard reader.take(15) == Array("openssh-key-v1".utf8) + [0],
              reader.string() == Array("none".utf8),  // cipher: an encrypted key stays on libgit2
              reader.string() == Array("none".utf8),  // kdf
              reader.string() != nil, reader.uint32() == 1,
              reader.string() != nil,  // the public key blob, repeated in the private section
              let section = reader.string() else { return nil }
        var p = SSHReader(bytes: section)
        guard let check1 = p.uint32(), check1 == p.uint32(), let type = p.string() else { return nil }
        switch String(decoding: type, as: UTF8.self) {
        case "ssh-ed25519":
            guard p.string()?.count == 32, let secret = p.string(), secret.count == 64,
                  let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: secret.prefix(32)) else { return nil }
            return NIOSSHPrivateKey(ed25519Key: key)
        case "ecdsa-sha2-nistp256":
            guard p.string() == Array("nistp256".utf8), p.string() != nil, let d = p.string().flatMap({ scalar($0, size: 32) }),
                  let key = try? P256.Signing.PrivateKey(rawRepresentation: d) else { return nil }
            return NIOSSHPrivateKey(p256Key: key)
        case "ecdsa-sha2-nistp384":
            guard p.string() == Array("nistp384".utf8), p.string() != nil, let d = p.string().flatMap({ scalar($0, size: 48) }),
                  let key = try? P384.Signing.PrivateKey(rawRepresentation: d) else { return nil }
            return NIOSSHPrivateKey(p384Key: key)
        case "ecdsa-sha2-nistp521":
            guard p.string() == Array("nistp521".utf8), p.string() != nil, let d = p.string().flatMap({ scalar($0, size: 66) }),
                  let key = try? P521.Signing.PrivateKey(rawRepresentation: d) else { return nil }
            return NIOSSHPrivateKey(p521Key: key)
        default:
            return nil
        }
    }

    /// An unencrypted PEM (`EC PRIVATE KEY`) or PKCS#8 (`PRIVATE KEY`) ECDSA key.
    static func pem(_ text: String) -> NIOSSHPrivateKey? {
        guard text.contains("BEGIN EC PRIVATE KEY") || text.contains("BEGIN PRIVATE KEY"), !text.contains("ENCRYPTED") else { return nil }
        if let key = try? P256.Signing.PrivateKey(pemRepresentation: text) { return NIOSSHPrivateKey(p256Key: key) }
        if let key = try? P384.Signing.PrivateKey(pemRepresentation: text) { return NIOSSHPrivateKey(p384Key: key) }
        if let key = try? P521.Signing.PrivateKey(pemRepresentation: text) { return NIOSSHPrivateKey(p521Key: key) }
        return nil
    }

    /// An SSH mpint as a big-endian scalar of exactly `size` bytes (the sign byte dropped).
    static func scalar(_ mpint: [UInt8], size: Int) -> [UInt8]? {
        let digits = mpint.drop { $0 == 0 }
        guard digits.count <= size else { return nil }
        return [UInt8](repeating: 0, count: size - digits.count) + digits
    }
}
