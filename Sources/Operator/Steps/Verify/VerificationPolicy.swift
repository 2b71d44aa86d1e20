import FlotillaAPI
import GitSource

/// What `spec.git.verify` asks, and how a commit's signature is judged: no I/O, tested on its own
/// (VerificationPolicyTests). `SignatureVerifier` runs the tools; the verify step applies this.
public struct VerificationPolicy: Sendable, Equatable {
    public enum Mode: String, Sendable, Equatable {
        case none, head, all
        case firstParent = "first-parent"
    }

    public var mode: Mode
    /// The Secret of trusted keys, in the instance's namespace.
    public var secretName: String

    public static func resolve(_ spec: VerifySpec?) throws(InvalidSpec) -> VerificationPolicy? {
        guard let spec else { return nil }
        guard let mode = Mode(rawValue: spec.mode ?? "all") else {
            throw InvalidSpec("spec.git.verify.mode: \"\(spec.mode ?? "")\" is not none, head, all or first-parent")
        }
        return mode == .none ? nil : VerificationPolicy(mode: mode, secretName: spec.secretRef.name)
    }

    /// Which commits to check before applying `head`: the head alone when nothing was verified
    /// before (or in `head` mode), else the commits since the last verified revision.
    func range(lastVerified: String?) -> (from: String?, range: GitMirror.SignatureRange) {
        switch mode {
        case .none, .head: return (nil, .head)
        case .all: return (lastVerified, lastVerified == nil ? .head : .all)
        case .firstParent: return (lastVerified, lastVerified == nil ? .head : .firstParent)
        }
    }

    /// Which tool a signature is for, from its armor line.
    enum SignatureKind: Equatable {
        case gpg, ssh, unknown
        init(_ armored: String) {
            if armored.hasPrefix("-----BEGIN PGP SIGNATURE-----") { self = .gpg }
            else if armored.hasPrefix("-----BEGIN SSH SIGNATURE-----") { self = .ssh }
            else { self = .unknown }
        }
    }
}

/// The trusted keys of a verify Secret: armored GPG public keys (data keys ending in `.asc` or
/// `.gpg`) and an SSH `allowed_signers` file.
struct TrustedKeys: Sendable, Equatable {
    var gpg: [String]
    var allowedSigners: String?

    init(fields: [String: [UInt8]]) {
        gpg = fields.keys.sorted().filter { $0.hasSuffix(".asc") || $0.hasSuffix(".gpg") }.map { String(decoding: fields[$0]!, as: UTF8.self) }
        allowedSigners = fields["allowed_signers"].map { String(decoding: $0, as: UTF8.self) }
    }

    var isEmpty: Bool { gpg.isEmpty && (allowedSigners ?? "").isEmpty }
}

/// A commit that may not be applied: which, who signed it (nil: unsigned, or the key is unknown),
/// and why.
struct VerificationFailure: Error, CustomStringConvertible, Equatable {
    /// The branch head that was refused.
    var head: String
    var commit: String
    var summary: String
    var signer: String?
    var reason: String

    var description: String {
        "commit \(commit.prefix(7)) (\"\(summary.prefix(60))\") \(signer.map { "signed by \($0)" } ?? "unsigned or signed by an unknown key"): \(reason); nothing of it is applied"
    }
}
