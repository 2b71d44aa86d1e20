import FlotillaAPI
import Foundation
import KubeClient
import KubeModel
import Manifests
import Sync

/// The decrypt step (`spec.decryption`): the Secret's SOPS keys become the renderer's decryptor,
/// so encrypted files and generator output are decrypted in memory after they are read and before
/// they are planned. The Secret is read at each render (a rotated key is used at once).
extension InstanceReconciler {
    /// How this instance renders: its paths, generation, and decryptor.
    func renderOptions(manifestGeneration: Bool) async throws -> RenderOptions {
        var options = RenderOptions(paths: settings.paths, manifestGeneration: manifestGeneration)
        options.decryptor = try await decryptor()
        return options
    }

    func decryptor() async throws -> SopsDecryptor? {
        guard let name = settings.decryptionSecretName else { return nil }
        let namespace = settings.ref.namespace
        let secret: Secret
        do {
            secret = try await env.client.get(Secret.self, name: name, namespace: namespace)
        } catch {
            if error.isNotFound { throw InvalidSpec("Secret \(namespace)/\(name) (spec.decryption.secretRef) not found") }
            throw error
        }
        let keys = Set((secret.data ?? [:]).keys).union((secret.stringData ?? [:]).keys).sorted()
        let text = { (key: String) in secret.value(key).map { String(decoding: $0, as: UTF8.self) } ?? "" }
        let age = keys.filter { $0.hasSuffix(".agekey") }.map(text).joined(separator: "\n")
        let pgp = keys.filter { $0.hasSuffix(".asc") }.map(text)
        if age.isEmpty && pgp.isEmpty {
            throw InvalidSpec("Secret \(namespace)/\(name) (spec.decryption.secretRef) has no key: give age identities (keys ending in .agekey) or armored PGP private keys (.asc)")
        }
        return SopsDecryptor(ageIdentities: age, pgpKeys: pgp, scratch: workDirectory + "/decrypt")
    }
}
