import FlotillaAPI
import Foundation
import GitSource
import KubeClient
import KubeModel
import KubeRuntime
import Logging
import Sync

/// The verify step (`spec.git.verify`): before a revision is applied, every commit the mode names
/// (since the last verified revision) must carry a signature by a trusted key. A failure applies
/// nothing and names the commit, its signer and the reason, in the status and an Event.
extension InstanceReconciler {
    func verify(head: String, mirror: GitMirror) async throws {
        guard let policy = settings.verify else {
            verification = nil
            return
        }
        if verification?.revision == head && verification?.mode == policy.mode.rawValue { return }
        let keys = try await trustedKeys(policy.secretName)
        let (from, range) = policy.range(lastVerified: verification?.revision)
        let commits = try await mirror.signatures(from: from, to: head, range: range)
        let directory = workDirectory + "/verify"
        let verifier = SignatureVerifier(keys: keys, directory: directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await verifier.prepare()
        var headSigner = ""
        for commit in commits.reversed() {  // oldest first: the first bad commit is the one named
            switch try await verifier.verify(commit) {
            case .good(let signer):
                if commit.id == head { headSigner = signer }
            case .bad(let signer, let reason):
                let failure = VerificationFailure(head: head, commit: commit.id, summary: commit.summary, signer: signer, reason: reason)
                if reportedVerificationFailure != failure {
                    reportedVerificationFailure = failure
                    await env.events.record(await instanceObject(), type: .warning, reason: ConditionReason.verificationFailed, message: failure.description)
                }
                throw failure
            }
        }
        reportedVerificationFailure = nil
        verification = VerificationStatus(revision: head, signer: headSigner, mode: policy.mode.rawValue)
        logger.info("revision verified", metadata: ["commits": "\(commits.count)", "signer": "\(headSigner)", "mode": "\(policy.mode.rawValue)"])
    }

    /// The trusted keys of the verify Secret (read as the operator, in the instance's namespace).
    func trustedKeys(_ name: String) async throws -> TrustedKeys {
        let keys = TrustedKeys(fields: Self.fields(of: try await namedSecret(name, field: "spec.git.verify.secretRef")))
        if keys.isEmpty {
            throw InvalidSpec("Secret \(settings.ref.namespace)/\(name) (spec.git.verify.secretRef) has no trusted key: give armored GPG public keys (keys ending in .asc) or an allowed_signers file")
        }
        return keys
    }
}
