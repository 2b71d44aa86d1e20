import Foundation
import GitSource
import Manifests
import Primitives

/// Verifies commit signatures with the platform's tools: `gpgv` against a keyring of the trusted
/// GPG keys (made with `gpg --dearmor`), `ssh-keygen -Y verify` against the `allowed_signers` file
/// in git's namespace. Signatures are never parsed here: the tools decide, and their status output
/// names the signer. Works in `directory` (the instance's own), which it empties first.
struct SignatureVerifier: Sendable {
    let keys: TrustedKeys
    let directory: String

    enum Verdict: Equatable {
        case good(signer: String)
        case bad(signer: String?, reason: String)
    }

    static let limits = Subprocess.Limits(timeout: .seconds(20), maxStdout: 1 << 20)
    var environment: [String: String] { ["PATH": "/usr/bin:/bin", "HOME": directory, "LC_ALL": "C"] }

    /// Writes the keyring and allowed signers; an error names the key that could not be read.
    func prepare() async throws {
        let fm = FileManager.default
        try? fm.removeItem(atPath: directory)
        try fm.createDirectory(atPath: directory + "/gnupg", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var keyring: [UInt8] = []
        for (i, key) in keys.gpg.enumerated() {
            let file = "\(directory)/key-\(i).asc"
            try Data(key.utf8).write(to: URL(fileURLWithPath: file))
            let out = try await Subprocess.run(["/bin/sh", "-c", "exec gpg --batch --homedir \"$1\" --dearmor < \"$2\"", "sh", directory + "/gnupg", file],
                                               environment: environment, limits: Self.limits)
            guard out.outcome == .exited(0), !out.stdout.isEmpty else {
                throw InvalidSpec("trusted GPG key #\(i + 1) of the verify Secret is not an armored public key: \(out.stderrTail.prefix(200))")
            }
            keyring += out.stdout
        }
        try Data(keyring).write(to: URL(fileURLWithPath: directory + "/trusted.gpg"))
        try Data((keys.allowedSigners ?? "").utf8).write(to: URL(fileURLWithPath: directory + "/allowed_signers"))
    }

    func verify(_ commit: CommitSignature) async throws -> Verdict {
        guard let signature = commit.signature else { return .bad(signer: nil, reason: "the commit is not signed") }
        let sig = "\(directory)/\(commit.id).sig", data = "\(directory)/\(commit.id).data"
        try Data(signature.utf8).write(to: URL(fileURLWithPath: sig))
        try Data(commit.signedData).write(to: URL(fileURLWithPath: data))
        defer {
            try? FileManager.default.removeItem(atPath: sig)
            try? FileManager.default.removeItem(atPath: data)
        }
        switch VerificationPolicy.SignatureKind(signature) {
        case .gpg: return try await gpg(sig: sig, data: data)
        case .ssh: return try await ssh(sig: sig, data: data)
        case .unknown: return .bad(signer: nil, reason: "the signature is neither OpenPGP nor SSH")
        }
    }

    /// `gpgv --status-fd 1`: GOODSIG and VALIDSIG with exit 0 is a good signature.
    func gpg(sig: String, data: String) async throws -> Verdict {
        guard !keys.gpg.isEmpty else { return .bad(signer: nil, reason: "a GPG signature, and the verify Secret has no GPG key") }
        let out = try await Subprocess.run(["/usr/bin/gpgv", "--homedir", directory + "/gnupg", "--status-fd", "1",
                                            "--keyring", directory + "/trusted.gpg", sig, data], environment: environment, limits: Self.limits)
        let status = String(decoding: out.stdout, as: UTF8.self).split(separator: "\n").map { $0.split(separator: " ", maxSplits: 3).map(String.init) }
        func line(_ keyword: String) -> [String]? { status.first { $0.count >= 2 && $0[0] == "[GNUPG:]" && $0[1] == keyword } }
        if out.outcome == .exited(0), let good = line("GOODSIG"), line("VALIDSIG") != nil {
            return .good(signer: good.count > 3 ? "\(good[3]) (GPG key \(good[2]))" : "GPG key \(good[2])")
        }
        if let bad = line("BADSIG") { return .bad(signer: bad.count > 3 ? bad[3] : bad[2], reason: "bad GPG signature: the commit was changed after it was signed") }
        if let key = line("NO_PUBKEY") ?? line("ERRSIG") { return .bad(signer: "GPG key \(key.count > 2 ? key[2] : "?")", reason: "the key is not trusted (not in the verify Secret)") }
        for (keyword, why) in [("EXPKEYSIG", "the key has expired"), ("REVKEYSIG", "the key is revoked"), ("EXPSIG", "the signature has expired")] {
            if let l = line(keyword) { return .bad(signer: l.count > 3 ? l[3] : "GPG key \(l[2])", reason: why) }
        }
        return .bad(signer: nil, reason: "gpgv did not accept the signature: \(out.stderrTail.suffix(200))")
    }

    /// `ssh-keygen -Y find-principals` names the signer in `allowed_signers`; `-Y verify` checks
    /// the signature in git's namespace for that principal.
    func ssh(sig: String, data: String) async throws -> Verdict {
        let allowed = directory + "/allowed_signers"
        let find = try await Subprocess.run(["/usr/bin/ssh-keygen", "-Y", "find-principals", "-s", sig, "-f", allowed], environment: environment, limits: Self.limits)
        let principals = String(decoding: find.stdout, as: UTF8.self).split(whereSeparator: \.isNewline).map(String.init)
        guard find.outcome == .exited(0), let principal = principals.first else {
            let check = try await Subprocess.run(["/bin/sh", "-c", "exec ssh-keygen -Y check-novalidate -n git -s \"$1\" < \"$2\"", "sh", sig, data],
                                                 environment: environment, limits: Self.limits)
            let key = (String(decoding: check.stdout, as: UTF8.self) + check.stderrTail).split(separator: " ").first { $0.hasPrefix("SHA256:") }
            return .bad(signer: key.map { "SSH key \($0.trimmingCharacters(in: .whitespacesAndNewlines))" },
                        reason: "the key is not trusted (not in the verify Secret's allowed_signers)")
        }
        let verify = try await Subprocess.run(["/bin/sh", "-c", "exec ssh-keygen -Y verify -f \"$1\" -I \"$2\" -n git -s \"$3\" < \"$4\"", "sh", allowed, principal, sig, data],
                                              environment: environment, limits: Self.limits)
        guard verify.outcome == .exited(0) else {
            return .bad(signer: principal, reason: "bad SSH signature: the commit was changed after it was signed")
        }
        return .good(signer: "\(principal) (SSH)")
    }
}
