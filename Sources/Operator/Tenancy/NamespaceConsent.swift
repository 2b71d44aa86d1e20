import FlotillaAPI

/// A Namespace's consent to be synced into by instances of other namespaces: the annotation
/// `flotilla.dev/allow-instances-from` on the Namespace, which only whoever administers Namespaces
/// can write. Its value lists namespaces separated by commas, or `*` for every namespace.
public struct NamespaceConsent: Sendable, Equatable {
    public var from: NamespaceSet

    public init(from: NamespaceSet) { self.from = from }

    /// The consent a Namespace's annotations give (none without the annotation).
    public init(annotations: [String: String]?) {
        from = annotations?[Flotilla.allowInstancesFromAnnotation].map(NamespaceSet.init(parsing:)) ?? .only([])
    }

    public func allows(_ namespace: String) -> Bool { from.contains(namespace) }
}
