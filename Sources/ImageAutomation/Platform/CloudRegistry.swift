import Foundation

/// The cloud providers whose registries Flotilla can log in to with the operator pod's own
/// platform identity (Flux v1 did so for ECR and GCR).
public enum PlatformProvider: String, Sendable, CaseIterable, Comparable {
    case aws, gcp, azure

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    /// What a user calls it (status messages).
    public var title: String {
        switch self {
        case .aws: "AWS ECR"
        case .gcp: "Google Artifact Registry / GCR"
        case .azure: "Azure Container Registry"
        }
    }
}

/// A registry host that belongs to a cloud provider, recognised from its name alone.
public enum CloudRegistry: Hashable, Sendable {
    /// `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]`
    case ecr(account: String, region: String, host: String)
    /// `gcr.io`, `*.gcr.io`, `*-docker.pkg.dev`
    case google(host: String)
    /// `*.azurecr.io` (and the sovereign clouds' `.azurecr.cn`, `.azurecr.us`)
    case azure(host: String)

    public var provider: PlatformProvider {
        switch self {
        case .ecr: .aws
        case .google: .gcp
        case .azure: .azure
        }
    }

    public var host: String {
        switch self {
        case .ecr(_, _, let host), .google(let host), .azure(let host): host
        }
    }

    /// Which token serves this registry: one per ECR account and region, one for every Google
    /// registry (the same access token), one per Azure registry (its refresh token).
    public var tokenKey: String {
        switch self {
        case .ecr(let account, let region, _): "aws/\(account)/\(region)"
        case .google: "gcp"
        case .azure(let host): "azure/\(host)"
        }
    }

    /// The provider a host belongs to, or nil (any other registry: credentials come from Secrets).
    public static func classify(_ host: String) -> CloudRegistry? {
        let name = host.lowercased().split(separator: ":").first.map(String.init) ?? ""
        let labels = name.split(separator: ".").map(String.init)
        if labels.count >= 6, labels[1] == "dkr", labels[2] == "ecr" || labels[2] == "ecr-fips",
           labels[0].count == 12, labels[0].allSatisfy(\.isNumber),
           labels[4] == "amazonaws", labels[5] == "com", labels.count == 6 || (labels.count == 7 && labels[6] == "cn") {
            return .ecr(account: labels[0], region: labels[3], host: name)
        }
        if name == "gcr.io" || name.hasSuffix(".gcr.io") || (labels.count == 3 && labels[0].hasSuffix("-docker") && labels[1] == "pkg" && labels[2] == "dev") {
            return .google(host: name)
        }
        if labels.count == 3, labels[1] == "azurecr", ["io", "cn", "us"].contains(labels[2]), !labels[0].isEmpty {
            return .azure(host: name)
        }
        return nil
    }
}

/// Which providers the install turned on and which namespaces may use them (`--registry-platform-
/// credentials`, `--registry-platform-namespaces`). Off by default: platform credentials are the
/// operator pod's, and only the administrator lends them to a tenant.
public struct PlatformCredentialPolicy: Sendable, Equatable {
    public var providers: Set<PlatformProvider>
    /// Namespaces whose instances may use them; `*` for every namespace.
    public var namespaces: Set<String>

    public init(providers: Set<PlatformProvider> = [], namespaces: Set<String> = []) {
        self.providers = providers
        self.namespaces = namespaces
    }

    /// Why an instance in `namespace` may not use the provider of `registry`, or nil when it may.
    public func refusal(_ registry: CloudRegistry, namespace: String) -> String? {
        let flag = "--registry-platform-credentials"
        guard providers.contains(registry.provider) else {
            return "\(registry.host) is \(registry.provider.title), whose platform credentials the install does not use (\(flag)=\(registry.provider.rawValue) is off): give spec.registry.dockerConfigSecretRef or an imagePullSecret"
        }
        guard namespaces.contains("*") || namespaces.contains(namespace) else {
            return "\(registry.host) is \(registry.provider.title): the install does not lend its platform credentials to namespace \(namespace) (--registry-platform-namespaces)"
        }
        return nil
    }
}
