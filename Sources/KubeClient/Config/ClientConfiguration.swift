import Foundation
import KubeModel

/// Everything a `KubeClient` needs to reach one API server as one identity.
public struct ClientConfiguration: Sendable {
    public enum Credentials: Sendable, Equatable {
        case none
        case token(String)
        /// Re-read whenever the file changes (projected ServiceAccount tokens rotate).
        case tokenFile(String)
        case basic(username: String, password: String)
        case exec(KubeConfig.ExecConfig)
    }

    /// `https://host:port`, without a trailing slash.
    public var server: String
    public var caCertificatePEM: [UInt8]?
    public var insecureSkipTLSVerify = false
    public var tlsServerName: String?
    public var clientCertificatePEM: [UInt8]?
    public var clientKeyPEM: [UInt8]?
    public var credentials: Credentials = .none
    /// The default namespace of the context.
    public var namespace = "default"
    public var impersonation: Impersonation?
    /// Client-side rate limit (token bucket). controller-runtime uses 20/30; Flotilla defaults higher.
    public var qps: Double = 50
    public var burst = 100
    public var requestTimeout: Duration = .seconds(30)
    public var userAgent = "flotilla"
    /// Retries of idempotent requests on 429, 5xx and connection errors.
    public var maxRetries = 5
    /// Connections to the API server (each watch holds one: an operator with many informers
    /// needs more than the default).
    public var maxConnectionsPerHost = 512

    public init(server: String, credentials: Credentials = .none, caCertificatePEM: [UInt8]? = nil) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.credentials = credentials
        self.caCertificatePEM = caCertificatePEM
    }

    /// The configuration of a kubeconfig context (the current one unless `context` is given).
    public static func from(_ kubeconfig: KubeConfig, context name: String? = nil) throws(KubeConfigError) -> ClientConfiguration {
        guard let contextName = name ?? kubeconfig.currentContext, !contextName.isEmpty else {
            throw KubeConfigError("no context given and the kubeconfig has no current-context")
        }
        guard let context = kubeconfig.contexts[contextName] else {
            throw KubeConfigError("context \"\(contextName)\" does not exist in the kubeconfig (have: \(kubeconfig.contexts.keys.sorted().joined(separator: ", ")))")
        }
        guard let cluster = kubeconfig.clusters[context.cluster] else {
            throw KubeConfigError("context \"\(contextName)\" names cluster \"\(context.cluster)\", which the kubeconfig does not define")
        }
        guard !cluster.server.isEmpty else { throw KubeConfigError("cluster \"\(context.cluster)\" has no server") }
        var config = ClientConfiguration(server: cluster.server)
        config.insecureSkipTLSVerify = cluster.insecureSkipTLSVerify
        config.tlsServerName = cluster.tlsServerName
        config.caCertificatePEM = cluster.certificateAuthorityData
        if config.caCertificatePEM == nil { config.caCertificatePEM = try readFile(cluster.certificateAuthority, "certificate-authority") }
        try checkPEM(config.caCertificatePEM, "certificate-authority of cluster \"\(context.cluster)\"", marker: "CERTIFICATE")
        config.namespace = context.namespace ?? "default"
        if !context.user.isEmpty {
            guard let user = kubeconfig.users[context.user] else {
                throw KubeConfigError("context \"\(contextName)\" names user \"\(context.user)\", which the kubeconfig does not define")
            }
            config.clientCertificatePEM = user.clientCertificateData
            if config.clientCertificatePEM == nil { config.clientCertificatePEM = try readFile(user.clientCertificate, "client-certificate") }
            config.clientKeyPEM = user.clientKeyData
            if config.clientKeyPEM == nil { config.clientKeyPEM = try readFile(user.clientKey, "client-key") }
            if (config.clientCertificatePEM == nil) != (config.clientKeyPEM == nil) {
                throw KubeConfigError("user \"\(context.user)\" has a client certificate without a key, or a key without a certificate")
            }
            try checkPEM(config.clientCertificatePEM, "client-certificate of user \"\(context.user)\"", marker: "CERTIFICATE")
            try checkPEM(config.clientKeyPEM, "client-key of user \"\(context.user)\"", marker: "PRIVATE KEY")
            if let token = user.token, !token.isEmpty {
                config.credentials = .token(token)
            } else if let file = user.tokenFile {
                guard FileManager.default.isReadableFile(atPath: file) else { throw KubeConfigError("cannot read tokenFile \(file)") }
                config.credentials = .tokenFile(file)
            } else if let exec = user.exec {
                config.credentials = .exec(exec)
            } else if let username = user.username, let password = user.password {
                config.credentials = .basic(username: username, password: password)
            }
            if let user = user.impersonate {
                config.impersonation = Impersonation(user: user, groups: kubeconfig.users[context.user]?.impersonateGroups ?? [])
            }
        }
        return config
    }

    static func readFile(_ path: String?, _ what: String) throws(KubeConfigError) -> [UInt8]? {
        guard let path else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else { throw KubeConfigError("cannot read \(what) file \(path)") }
        return Array(data)
    }

    static func checkPEM(_ bytes: [UInt8]?, _ what: String, marker: String) throws(KubeConfigError) {
        guard let bytes else { return }
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.contains("-----BEGIN"), text.contains(marker) else {
            throw KubeConfigError("\(what) is not a PEM \(marker.lowercased())")
        }
    }

    /// Configuration inside a pod: the API server from `KUBERNETES_SERVICE_HOST/PORT`, the
    /// ServiceAccount token (re-read when it rotates) and CA from the mounted secret.
    public static func inCluster(environment: [String: String] = ProcessInfo.processInfo.environment,
                                 serviceAccountDirectory: String = "/var/run/secrets/kubernetes.io/serviceaccount") throws(KubeConfigError) -> ClientConfiguration {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty, let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty else {
            throw KubeConfigError("not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set")
        }
        let tokenPath = serviceAccountDirectory + "/token"
        guard FileManager.default.isReadableFile(atPath: tokenPath) else {
            throw KubeConfigError("in-cluster configuration: cannot read the ServiceAccount token \(tokenPath)")
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        var config = ClientConfiguration(server: "https://\(hostPart):\(port)", credentials: .tokenFile(tokenPath))
        config.caCertificatePEM = try readFile(serviceAccountDirectory + "/ca.crt", "in-cluster CA")
        if let ns = FileManager.default.contents(atPath: serviceAccountDirectory + "/namespace") {
            config.namespace = String(decoding: ns, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return config
    }

    /// kubectl's order: an explicit kubeconfig path, else `KUBECONFIG` (several files merged), else
    /// in-cluster configuration, else `~/.kube/config`.
    public static func resolve(kubeconfig: String? = nil, context: String? = nil,
                               environment: [String: String] = ProcessInfo.processInfo.environment) throws(KubeConfigError) -> ClientConfiguration {
        if let kubeconfig {
            return try from(KubeConfig.load(paths: [kubeconfig]), context: context)
        }
        if let paths = environment["KUBECONFIG"], !paths.isEmpty {
            return try from(KubeConfig.load(paths: paths.split(separator: ":").map(String.init)), context: context)
        }
        if environment["KUBERNETES_SERVICE_HOST"] != nil {
            return try inCluster(environment: environment)
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return try from(KubeConfig.load(paths: [home + "/.kube/config"]), context: context)
    }
}

/// Acting as another identity (`Impersonate-User` / `Impersonate-Group`).
public struct Impersonation: Sendable, Hashable {
    public var user: String
    public var groups: [String]

    public init(user: String, groups: [String] = []) {
        self.user = user
        self.groups = groups
    }

    /// The identity of a ServiceAccount.
    public static func serviceAccount(namespace: String, name: String) -> Impersonation {
        Impersonation(user: "system:serviceaccount:\(namespace):\(name)")
    }
}
