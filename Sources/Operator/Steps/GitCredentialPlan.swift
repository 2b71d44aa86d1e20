import FlotillaAPI

/// Where an instance's git credentials come from, decided from the remote's scheme and what the
/// Secret named by `spec.git.secretRef` holds (its keys, never fetched here): no I/O, tested on
/// its own (GitCredentialPlanTests). The source step carries the plan out.
public enum GitCredentialPlan: Equatable, Sendable {
    /// Where a generated deploy key is kept (`spec.git.generatedKey`).
    public enum KeyStore: String, Sendable, Equatable {
        /// The operator's Secret `flotilla-<name>-deploy-key`.
        case managed = "Managed"
        /// Written as `identity` into the `spec.git.secretRef` Secret (marked as generated).
        case secretRef = "SecretRef"
    }

    /// Nothing to present (an https or file remote without a Secret).
    case anonymous(knownHosts: String)
    /// The Secret's own `identity`.
    case secretKey(knownHosts: String)
    /// The Secret's `username` and `password`.
    case password(knownHosts: String)
    /// A deploy key the operator generates once and keeps in `store`; `knownHosts` from the
    /// user's Secret (empty: the managed Secret's own, for an instance without a Secret).
    case generated(store: KeyStore, knownHosts: String?)

    /// The annotation that marks an `identity` the operator wrote into a user's Secret (so
    /// `identity --regenerate` may replace it, and never a key the user put there).
    static let generatedAnnotation = "flotilla.dev/generated-identity"

    /// The plan for a remote; `secret` is the named Secret's data as text (nil: no Secret named).
    static func plan(ssh: Bool, secret: [String: String]?, store: KeyStore, secretName: String?) throws(InvalidSpec) -> GitCredentialPlan {
        guard let secret else { return ssh ? .generated(store: .managed, knownHosts: nil) : .anonymous(knownHosts: "") }
        let knownHosts = secret["known_hosts"] ?? ""
        if secret["identity"] != nil { return .secretKey(knownHosts: knownHosts) }
        if secret["username"] != nil && secret["password"] != nil { return .password(knownHosts: knownHosts) }
        guard ssh else { return .anonymous(knownHosts: knownHosts) }
        guard !knownHosts.isEmpty else {
            throw InvalidSpec("Secret \(secretName ?? "") (spec.git.secretRef) has neither `identity` nor `known_hosts` for the SSH remote: "
                              + "give an `identity`, or `known_hosts` alone to have a deploy key generated")
        }
        return .generated(store: store, knownHosts: knownHosts)
    }
}
