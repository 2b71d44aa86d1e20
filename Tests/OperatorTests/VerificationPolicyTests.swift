import FlotillaAPI
import GitSource
@testable import Operator
import Testing

/// What spec.git.verify asks, without git or the tools.
@Suite("Verification policy")
struct VerificationPolicyTests {
    @Test("modes: all by default, none turns it off, anything else is InvalidSpec")
    func resolve() throws {
        let ref = SecretReference(name: "trusted")
        #expect(try VerificationPolicy.resolve(nil) == nil)
        #expect(try VerificationPolicy.resolve(VerifySpec(secretRef: ref)) == VerificationPolicy(mode: .all, secretName: "trusted"))
        #expect(try VerificationPolicy.resolve(VerifySpec(mode: "none", secretRef: ref)) == nil)
        #expect(try VerificationPolicy.resolve(VerifySpec(mode: "first-parent", secretRef: ref))?.mode == .firstParent)
        let error = #expect(throws: InvalidSpec.self) { try VerificationPolicy.resolve(VerifySpec(mode: "some", secretRef: ref)) }
        #expect(error?.message.contains("spec.git.verify.mode") == true)
    }

    @Test("the range: the head alone the first time (and in head mode), then everything since the last verified revision")
    func range() {
        let all = VerificationPolicy(mode: .all, secretName: "s")
        func pair(_ r: (from: String?, range: GitMirror.SignatureRange)) -> String { "\(r.from ?? "-") \(r.range)" }
        #expect(pair(all.range(lastVerified: nil)) == "- head")
        #expect(pair(all.range(lastVerified: "abc")) == "abc all")
        #expect(pair(VerificationPolicy(mode: .firstParent, secretName: "s").range(lastVerified: "abc")) == "abc firstParent")
        #expect(pair(VerificationPolicy(mode: .head, secretName: "s").range(lastVerified: "abc")) == "- head")
    }

    @Test("trusted keys: .asc and .gpg keys are GPG keys, allowed_signers is SSH's; other keys are ignored; signatures are told apart by their armor")
    func keys() {
        let keys = TrustedKeys(fields: ["b.asc": Array("B".utf8), "a.gpg": Array("A".utf8), "allowed_signers": Array("x ssh-ed25519 AAAA".utf8), "note": Array("n".utf8)])
        #expect(keys.gpg == ["A", "B"])
        #expect(keys.allowedSigners == "x ssh-ed25519 AAAA")
        #expect(TrustedKeys(fields: ["note": [1]]).isEmpty)
        #expect(VerificationPolicy.SignatureKind("-----BEGIN PGP SIGNATURE-----\n…") == .gpg)
        #expect(VerificationPolicy.SignatureKind("-----BEGIN SSH SIGNATURE-----\n…") == .ssh)
        #expect(VerificationPolicy.SignatureKind("x509") == .unknown)
    }
}
