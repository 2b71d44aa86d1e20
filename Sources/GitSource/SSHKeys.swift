import Crypto
import Foundation

/// known_hosts data given to an instance (never `$HOME/.ssh`): host patterns → SHA-256 key
/// fingerprints. Supports plain and `[host]:port` patterns, comma lists, and hashed (`|1|`) entries.
public struct KnownHosts: Sendable {
    struct Entry: Sendable {
        var patterns: [String]
        var hashed: (salt: [UInt8], hash: [UInt8])?
        var keyType: String
        var fingerprint: String
    }
    var entries: [Entry] = []

    public init(_ text: String) {
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix("@") { continue }
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 3, let blob = Data(base64Encoded: String(fields[2])) else { continue }
            let fingerprint = Self.fingerprint(ofKeyBlob: Array(blob))
            let hosts = String(fields[0])
            if hosts.hasPrefix("|1|") {
                let parts = hosts.dropFirst(3).split(separator: "|")
                guard parts.count == 2, let salt = Data(base64Encoded: String(parts[0])), let hash = Data(base64Encoded: String(parts[1])) else { continue }
                entries.append(Entry(patterns: [], hashed: (Array(salt), Array(hash)), keyType: String(fields[1]), fingerprint: fingerprint))
            } else {
                entries.append(Entry(patterns: hosts.split(separator: ",").map(String.init), hashed: nil, keyType: String(fields[1]), fingerprint: fingerprint))
            }
        }
    }

    /// `SHA256:…` (base64 without padding), as `ssh-keygen -l` prints it.
    public static func fingerprint(ofKeyBlob blob: [UInt8]) -> String {
        "SHA256:" + Data(SHA256.hash(data: blob)).base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    static func fingerprint(sha256 digest: [UInt8]) -> String {
        "SHA256:" + Data(digest).base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    /// The known_hosts name of a host: `host`, or `[host]:port` for a non-standard port.
    public static func name(host: String, port: Int?) -> String {
        guard let port, port != 22 else { return host }
        return "[\(host)]:\(port)"
    }

    /// The fingerprints known for a host.
    public func fingerprints(host: String, port: Int?) -> [String] {
        matching(host: host, port: port).map(\.fingerprint)
    }

    private func matching(host: String, port: Int?) -> [Entry] {
        let name = Self.name(host: host, port: port)
        return entries.filter { e in
            if let (salt, hash) = e.hashed {
                let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Array(name.utf8), using: SymmetricKey(data: salt))
                return Array(mac) == hash
            }
            return e.patterns.contains(name)
        }
    }

    /// The key types known for a host (`ssh-ed25519`, `ecdsa-sha2-nistp256`, …).
    func keyTypes(host: String, port: Int?) -> Set<String> {
        Set(matching(host: host, port: port).map(\.keyType))
    }

    /// Why a host key the server presented is refused, or nil when known_hosts has it: an unknown
    /// host names the fingerprint to add and the `ssh-keyscan` command; a different key is a
    /// mismatch. Both SSH transports (libgit2's callback, the pooled connections) report these.
    func refusal(of fingerprint: String, host: String, port: Int?) -> GitError? {
        let known = fingerprints(host: host, port: port)
        if known.contains(fingerprint) { return nil }
        let name = Self.name(host: host, port: port)
        if known.isEmpty {
            return GitError(.hostKeyUnknown, "host \(name) is not in known_hosts; its key fingerprint is \(fingerprint) — add the host's key to known_hosts (ssh-keyscan \(port.map { "-p \($0) " } ?? "")\(host))")
        }
        return GitError(.hostKeyMismatch, "host key of \(name) does not match known_hosts: the server presented \(fingerprint), known_hosts has \(known.joined(separator: ", ")) — the key changed or the connection is intercepted")
    }

    public var isEmpty: Bool { entries.isEmpty }
}

/// An SSH deploy key: OpenSSH private key text and the `ssh-ed25519 …` public line.
public struct DeployKey: Sendable, Equatable {
    public var privateKeyOpenSSH: String
    public var publicKey: String

    /// A fresh ed25519 key in OpenSSH's `openssh-key-v1` format.
    public static func generateEd25519(comment: String) -> DeployKey {
        let key = Curve25519.Signing.PrivateKey()
        let publicRaw = Array(key.publicKey.rawRepresentation)
        let seed = Array(key.rawRepresentation)
        var publicBlob: [UInt8] = []
        publicBlob.appendSSHString(Array("ssh-ed25519".utf8))
        publicBlob.appendSSHString(publicRaw)
        var check = [UInt8](repeating: 0, count: 4)
        for i in 0..<4 { check[i] = UInt8.random(in: 0...255) }
        var privateSection: [UInt8] = check + check
        privateSection.appendSSHString(Array("ssh-ed25519".utf8))
        privateSection.appendSSHString(publicRaw)
        privateSection.appendSSHString(seed + publicRaw)
        privateSection.appendSSHString(Array(comment.utf8))
        var pad: UInt8 = 1
        while privateSection.count % 8 != 0 { privateSection.append(pad); pad += 1 }
        var body: [UInt8] = Array("openssh-key-v1".utf8) + [0]
        body.appendSSHString(Array("none".utf8))
        body.appendSSHString(Array("none".utf8))
        body.appendSSHString([])
        body.appendUInt32(1)
        body.appendSSHString(publicBlob)
        body.appendSSHString(privateSection)
        let b64 = Data(body).base64EncodedString()
        var lines = ["-----BEGIN OPENSSH PRIVATE KEY-----"]
        var i = b64.startIndex
        while i < b64.endIndex {
            let j = b64.index(i, offsetBy: 70, limitedBy: b64.endIndex) ?? b64.endIndex
            lines.append(String(b64[i..<j]))
            i = j
        }
        lines.append("-----END OPENSSH PRIVATE KEY-----")
        return DeployKey(privateKeyOpenSSH: lines.joined(separator: "\n") + "\n",
                         publicKey: "ssh-ed25519 \(Data(publicBlob).base64EncodedString()) \(comment)")
    }

    /// The public line of an OpenSSH private key (unencrypted `openssh-key-v1`), or nil.
    public static func publicKey(ofPrivateKey text: String) -> String? {
        let b64 = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        guard let data = Data(base64Encoded: b64) else { return nil }
        var reader = SSHReader(bytes: Array(data))
        guard reader.take(15) == Array("openssh-key-v1".utf8) + [0],
              reader.string() != nil, reader.string() != nil, reader.string() != nil, reader.uint32() == 1,
              let blob = reader.string() else { return nil }
        var blobReader = SSHReader(bytes: blob)
        guard let type = blobReader.string() else { return nil }
        return "\(String(decoding: type, as: UTF8.self)) \(Data(blob).base64EncodedString())"
    }

    /// The key type of an OpenSSH or PEM private key: `ssh-ed25519`, `ecdsa-sha2-…`, `ssh-rsa`.
    public static func keyType(ofPrivateKey text: String) -> String? {
        if text.contains("BEGIN RSA PRIVATE KEY") { return "ssh-rsa" }
        if text.contains("BEGIN EC PRIVATE KEY") { return "ecdsa-sha2-nistp256" }
        return publicKey(ofPrivateKey: text)?.split(separator: " ").first.map(String.init)
    }
}

struct SSHReader {
    var bytes: [UInt8]
    var index = 0

    mutating func take(_ n: Int) -> [UInt8]? {
        guard index + n <= bytes.count else { return nil }
        defer { index += n }
        return Array(bytes[index..<index + n])
    }

    mutating func uint32() -> UInt32? {
        guard let b = take(4) else { return nil }
        return b.reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func string() -> [UInt8]? {
        guard let n = uint32() else { return nil }
        return take(Int(n))
    }
}

extension Array where Element == UInt8 {
    mutating func appendUInt32(_ v: UInt32) {
        append(contentsOf: [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)])
    }

    mutating func appendSSHString(_ s: [UInt8]) {
        appendUInt32(UInt32(s.count))
        append(contentsOf: s)
    }
}
