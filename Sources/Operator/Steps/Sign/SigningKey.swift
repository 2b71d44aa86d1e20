import Foundation
import GitSource
import KubeClient
import KubeModel
import Manifests
import Primitives
import Sync

/// The key of `spec.git.signingKeySecretRef` the instance signs its commits with (image
/// automation, the CLI's requests): an armored GPG private key (`git.asc`, with `passphrase` when
/// it has one) or an OpenSSH private key (`identity`), used by Debian's gpg or `ssh-keygen -Y sign`
/// in git's namespace, so that `git verify-commit` accepts the commits.
struct SigningKey: Sendable, Equatable {
    enum Material: Sendable, Equatable {
        case gpg(armored: String, passphrase: String)
        case ssh(privateKey: String)
    }
    var material: Material

    static func from(fields: [String: [UInt8]], secret: String) throws(InvalidSpec) -> SigningKey {
        let text = { (key: String) in fields[key].map { String(decoding: $0, as: UTF8.self) } }
        if let armored = text("git.asc") {
            return SigningKey(material: .gpg(armored: armored, passphrase: text("passphrase") ?? ""))
        }
        if let key = text("identity") { return SigningKey(material: .ssh(privateKey: key)) }
        throw InvalidSpec("Secret \(secret) (spec.git.signingKeySecretRef) has neither `git.asc` (a GPG private key) nor `identity` (an SSH private key)")
    }

    struct SigningFailed: Error, CustomStringConvertible {
        var description: String
    }

    static let limits = Subprocess.Limits(timeout: .seconds(30), maxStdout: 1 << 20)

    /// The signer the git mirror calls. Each signature is made in a fresh private directory
    /// (short, under the temporary directory: gpg's agent socket lives there) that is removed with
    /// the key material right after.
    var signer: CommitSigner {
        let (material, limits) = (material, Self.limits)
        return { object in
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flotilla-sign-" + UUID().uuidString.prefix(8)).path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let env = ["PATH": "/usr/bin:/bin", "HOME": dir, "LC_ALL": "C"]
            func write(_ name: String, _ bytes: [UInt8]) throws -> String {
                let path = dir + "/" + name
                guard FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600]) else {
                    throw SigningFailed(description: "cannot write \(name) in the signing directory")
                }
                return path
            }
            let data = try write("commit", object)
            let result: SubprocessResult
            switch material {
            case .gpg(let armored, let passphrase):
                let key = try write("key.asc", Array(armored.utf8)), pass = try write("passphrase", Array(passphrase.utf8))
                let home = dir + "/gnupg"
                try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                defer { _ = try? Subprocess.runSync(["/usr/bin/gpgconf", "--homedir", home, "--kill", "gpg-agent"], environment: env, limits: limits) }
                let gpg = ["/usr/bin/gpg", "--batch", "--homedir", home, "--pinentry-mode", "loopback", "--passphrase-file", pass]
                let imported = try Subprocess.runSync(gpg + ["--import", key], environment: env, limits: limits)
                guard imported.outcome == .exited(0) else {
                    throw SigningFailed(description: "gpg could not import the signing key: \(imported.stderrTail.suffix(200))")
                }
                result = try Subprocess.runSync(["/bin/sh", "-c", "exec \"$@\" < \"$0\"", data] + gpg + ["--armor", "--detach-sign"], environment: env, limits: limits)
            case .ssh(let privateKey):
                let key = try write("key", Array((privateKey.hasSuffix("\n") ? privateKey : privateKey + "\n").utf8))
                result = try Subprocess.runSync(["/bin/sh", "-c", "exec ssh-keygen -Y sign -f \"$1\" -n git < \"$2\"", "sh", key, data], environment: env, limits: limits)
            }
            guard result.outcome == .exited(0), !result.stdout.isEmpty else {
                throw SigningFailed(description: "the signature could not be made: \(result.stderrTail.suffix(200))")
            }
            return String(decoding: result.stdout, as: UTF8.self)
        }
    }
}

extension InstanceReconciler {
    /// The signing key of `spec.git.signingKeySecretRef` (nil: commits are not signed).
    func signingKey() async throws -> SigningKey? {
        guard let name = settings.source.signingSecretName else { return nil }
        let secret = try await namedSecret(name, field: "spec.git.signingKeySecretRef")
        return try SigningKey.from(fields: Self.fields(of: secret), secret: "\(settings.ref.namespace)/\(name)")
    }
}
