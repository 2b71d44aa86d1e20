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
        let fields = Self.fields(of: try await namedSecret(name, field: "spec.decryption.secretRef"))
        guard let decryptor = SopsDecryptor(secretValues: fields, scratch: workDirectory + "/decrypt") else {
            throw InvalidSpec("Secret \(settings.ref.namespace)/\(name) (spec.decryption.secretRef) has no key: give age identities (keys ending in .agekey) or armored PGP private keys (.asc)")
        }
        return decryptor
    }
}
