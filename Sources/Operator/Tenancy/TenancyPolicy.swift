import FlotillaAPI
import Foundation
import Sync
import Manifests

/// What the administrator decided when installing the operator (flags and chart values): the only
/// place, with Namespaces and RBAC, that can widen what an instance reaches. A FluxInstance alone
/// never can. Pure: `decide` is tested without I/O.
public struct TenancyPolicy: Sendable, Equatable {
    /// Namespaces whose instances may use `allowedNamespaces: ["*"]` and `clusterScoped: true`
    /// (`--cluster-scope-namespace`; empty by default).
    public var clusterScopeNamespaces: Set<String>
    /// Lockdown (`--default-service-account`): an instance without `serviceAccountName` acts as
    /// this ServiceAccount of its own namespace, and the operator manages no RBAC at all.
    public var defaultServiceAccount: String?
    /// Namespaces whose instances may use manifest generation (`--generation-namespaces`).
    public var generationNamespaces: NamespaceSet
    /// Where `.flux.yaml` commands run, or why they cannot.
    public var generators: GeneratorSandbox

    public init(clusterScopeNamespaces: Set<String> = [], defaultServiceAccount: String? = nil,
                generationNamespaces: NamespaceSet = .all, generators: GeneratorSandbox) {
        self.clusterScopeNamespaces = clusterScopeNamespaces
        self.defaultServiceAccount = defaultServiceAccount
        self.generationNamespaces = generationNamespaces
        self.generators = generators
    }

    /// The identity an instance acts as.
    public func identity(of settings: InstanceSettings) -> ActingIdentity {
        if let name = settings.serviceAccountName { return .serviceAccount(name) }
        if let name = defaultServiceAccount { return .serviceAccount(name) }
        return .managed(settings.managedServiceAccountName)
    }

    /// The namespaces whose consent decides the grant: only a managed identity is bound by the
    /// operator, so only it needs the target namespaces' consent (an administrator's
    /// ServiceAccount carries its own bindings, and RBAC decides).
    public func namespacesNeedingConsent(_ settings: InstanceSettings) -> [String] {
        guard case .managed = identity(of: settings), !settings.allowedNamespaces.contains("*") else { return [] }
        return settings.allowedNamespaces.filter { $0 != settings.ref.namespace }.sorted()
    }

    /// The decision for `settings`, given the consent of each namespace `namespacesNeedingConsent`
    /// named (a namespace missing from `consents` does not exist or gave none).
    public func decide(_ settings: InstanceSettings, consents: [String: NamespaceConsent]) -> AccessDecision {
        if let refusal = check(settings) { return .refused(refusal) }
        let own = settings.ref.namespace
        let identity = identity(of: settings)
        guard case .managed = identity else { return .granted(AccessGrant(identity: identity, bindings: .none)) }
        if settings.allowedNamespaces.contains("*") { return .granted(AccessGrant(identity: identity, bindings: .clusterWide)) }
        let refused = namespacesNeedingConsent(settings).filter { consents[$0]?.allows(own) != true }
        guard refused.isEmpty else {
            return .refused(AccessRefusal(reason: ConditionReason.namespaceNotPermitted, namespaces: refused,
                message: "allowedNamespaces names namespaces that have not consented to instances of \(own): \(refused.joined(separator: ", ")); an administrator consents with the annotation \(Flotilla.allowInstancesFromAnnotation) on each Namespace, or gives the instance a ServiceAccount bound there (spec.serviceAccountName)"))
        }
        return .granted(AccessGrant(identity: identity, bindings: .namespaces(Set(settings.allowedNamespaces).union([own]))))
    }

    /// What the install alone refuses, before any namespace is asked: `*` and `clusterScoped`
    /// outside the cluster-scope namespaces, manifest generation where it is not allowed or
    /// cannot be sandboxed.
    public func check(_ settings: InstanceSettings) -> AccessRefusal? {
        let own = settings.ref.namespace
        let privileged = clusterScopeNamespaces.contains(own)
        if settings.allowedNamespaces.contains("*") && !privileged {
            return AccessRefusal(reason: ConditionReason.namespaceNotPermitted, namespaces: ["*"],
                message: "allowedNamespaces [\"*\"] is not permitted for instances in namespace \(own): only an administrator can allow it (--cluster-scope-namespace)")
        }
        if settings.clusterScoped && !privileged {
            return AccessRefusal(reason: ConditionReason.clusterScopeNotPermitted, namespaces: [],
                message: "clusterScoped is not permitted for instances in namespace \(own): only an administrator can allow it (--cluster-scope-namespace)")
        }
        if settings.manifestGeneration {
            guard generationNamespaces.contains(own) else {
                return AccessRefusal(reason: ConditionReason.generationNotPermitted, namespaces: [],
                    message: "manifestGeneration is not permitted for instances in namespace \(own): the operator's install does not allow it there (--generation-namespaces)")
            }
            if case .unavailable(let why) = generators {
                return AccessRefusal(reason: ConditionReason.generationNotPermitted, namespaces: [],
                    message: "manifestGeneration needs a sandbox for .flux.yaml commands and none is usable: \(why); install bubblewrap, use the chart's generator container, or trust generators (--trust-generators)")
            }
        }
        return nil
    }
}

/// A set of namespace names, or all of them.
public enum NamespaceSet: Sendable, Equatable {
    case all
    case only(Set<String>)

    /// `*` for all, otherwise names separated by commas (empty: none).
    public init(parsing text: String) {
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        self = names.contains("*") ? .all : .only(Set(names))
    }

    public func contains(_ namespace: String) -> Bool {
        switch self {
        case .all: return true
        case .only(let names): return names.contains(namespace)
        }
    }
}

/// Who an instance acts as.
public enum ActingIdentity: Sendable, Equatable {
    /// `flotilla-<name>`, created and bound by the operator.
    case managed(String)
    /// A ServiceAccount of the instance's namespace that an administrator made and bound.
    case serviceAccount(String)

    public var name: String {
        switch self {
        case .managed(let name), .serviceAccount(let name): return name
        }
    }
}

public enum AccessDecision: Sendable, Equatable {
    case granted(AccessGrant)
    case refused(AccessRefusal)
}

public struct AccessGrant: Sendable, Equatable {
    public var identity: ActingIdentity
    /// The bindings to `edit` the operator keeps for a managed identity.
    public var bindings: Bindings

    public enum Bindings: Sendable, Equatable {
        case none
        case namespaces(Set<String>)
        case clusterWide
    }
}

/// Why an instance may not run as asked: its `Ready=False` reason and message.
public struct AccessRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    /// The namespaces refused (for the status), if the refusal is about namespaces.
    public var namespaces: [String]
    public var message: String
    public var description: String { message }
}
