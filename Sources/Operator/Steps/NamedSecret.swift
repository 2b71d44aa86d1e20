import FlotillaAPI
import KubeClient
import KubeModel
import Sync

extension InstanceReconciler {
    /// A Secret of the instance's namespace that its spec names (read as the operator): a
    /// missing one is InvalidSpec naming it and the field that names it.
    func namedSecret(_ name: String, field: String) async throws -> Secret {
        let namespace = settings.ref.namespace
        do {
            return try await env.client.get(Secret.self, name: name, namespace: namespace)
        } catch {
            if error.isNotFound { throw InvalidSpec("Secret \(namespace)/\(name) (\(field)) not found") }
            throw error
        }
    }

    /// Every key of a Secret with its bytes (`data` and `stringData`).
    static func fields(of secret: Secret) -> [String: [UInt8]] {
        secret.values
    }
}
