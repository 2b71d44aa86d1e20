import Foundation
import KubeModel

/// A kubeconfig file (or several merged), as kubectl reads them.
public struct KubeConfig: Sendable {
    public struct Cluster: Sendable {
        public var server: String
        public var certificateAuthorityData: [UInt8]?
        public var certificateAuthority: String?
        public var insecureSkipTLSVerify: Bool
        public var tlsServerName: String?
    }

    public struct ExecConfig: Sendable, Equatable {
        public var command: String
        public var args: [String]
        public var env: [String: String]
        public var apiVersion: String

        public init(command: String, args: [String] = [], env: [String: String] = [:], apiVersion: String = "client.authentication.k8s.io/v1") {
            self.command = command
            self.args = args
            self.env = env
            self.apiVersion = apiVersion
        }
    }

    public struct User: Sendable {
        public var token: String?
        public var tokenFile: String?
        public var clientCertificateData: [UInt8]?
        public var clientCertificate: String?
        public var clientKeyData: [UInt8]?
        public var clientKey: String?
        public var username: String?
        public var password: String?
        public var exec: ExecConfig?
        public var impersonate: String?
        public var impersonateGroups: [String]
    }

    public struct Context: Sendable {
        public var cluster: String
        public var user: String
        public var namespace: String?
    }

    public var clusters: [String: Cluster] = [:]
    public var users: [String: User] = [:]
    public var contexts: [String: Context] = [:]
    public var currentContext: String?

    public init() {}

    /// Parses one kubeconfig document. Relative file references are resolved against `directory`.
    public static func parse(_ text: String, directory: String? = nil, source: String = "kubeconfig") throws(KubeConfigError) -> KubeConfig {
        let doc: JSONValue
        do {
            doc = try YAML.decode(text)
        } catch {
            throw KubeConfigError("\(source): invalid YAML: \(error)")
        }
        func path(_ p: String?) -> String? {
            guard let p, !p.isEmpty else { return nil }
            if p.hasPrefix("/") || directory == nil { return p }
            return URL(fileURLWithPath: directory!).appendingPathComponent(p).path
        }
        func data(_ v: JSONValue?, _ what: String) throws(KubeConfigError) -> [UInt8]? {
            guard let s = v?.stringValue, !s.isEmpty else { return nil }
            guard let d = Data(base64Encoded: s, options: .ignoreUnknownCharacters) else {
                throw KubeConfigError("\(source): \(what) is not valid base64")
            }
            return Array(d)
        }
        var config = KubeConfig()
        for entry in doc["clusters"]?.arrayValue ?? [] {
            guard let name = entry["name"]?.stringValue, let c = entry["cluster"] else { continue }
            config.clusters[name] = Cluster(
                server: c["server"]?.stringValue ?? "",
                certificateAuthorityData: try data(c["certificate-authority-data"], "clusters[\(name)].certificate-authority-data"),
                certificateAuthority: path(c["certificate-authority"]?.stringValue),
                insecureSkipTLSVerify: c["insecure-skip-tls-verify"]?.boolValue ?? false,
                tlsServerName: c["tls-server-name"]?.stringValue)
        }
        for entry in doc["users"]?.arrayValue ?? [] {
            guard let name = entry["name"]?.stringValue else { continue }
            let u = entry["user"] ?? .emptyObject
            var exec: ExecConfig? = nil
            if let e = u["exec"], let command = e["command"]?.stringValue {
                var env: [String: String] = [:]
                for item in e["env"]?.arrayValue ?? [] {
                    if let n = item["name"]?.stringValue { env[n] = item["value"]?.stringValue ?? "" }
                }
                exec = ExecConfig(command: command, args: e["args"]?.arrayValue?.compactMap(\.stringValue) ?? [], env: env,
                                  apiVersion: e["apiVersion"]?.stringValue ?? "client.authentication.k8s.io/v1")
            }
            config.users[name] = User(
                token: u["token"]?.stringValue, tokenFile: path(u["tokenFile"]?.stringValue),
                clientCertificateData: try data(u["client-certificate-data"], "users[\(name)].client-certificate-data"),
                clientCertificate: path(u["client-certificate"]?.stringValue),
                clientKeyData: try data(u["client-key-data"], "users[\(name)].client-key-data"),
                clientKey: path(u["client-key"]?.stringValue),
                username: u["username"]?.stringValue, password: u["password"]?.stringValue, exec: exec,
                impersonate: u["as"]?.stringValue, impersonateGroups: u["as-groups"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        }
        for entry in doc["contexts"]?.arrayValue ?? [] {
            guard let name = entry["name"]?.stringValue, let c = entry["context"] else { continue }
            config.contexts[name] = Context(cluster: c["cluster"]?.stringValue ?? "", user: c["user"]?.stringValue ?? "",
                                            namespace: c["namespace"]?.stringValue)
        }
        config.currentContext = doc["current-context"]?.stringValue
        return config
    }

    /// Loads and merges files like kubectl does with `KUBECONFIG=a:b`: the first file that sets a
    /// name (or the current context) wins.
    public static func load(paths: [String]) throws(KubeConfigError) -> KubeConfig {
        var merged = KubeConfig()
        var loaded = 0
        for path in paths where !path.isEmpty {
            guard FileManager.default.fileExists(atPath: path) else { continue }
            guard let bytes = FileManager.default.contents(atPath: path) else {
                throw KubeConfigError("cannot read kubeconfig \(path)")
            }
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            let one = try parse(String(decoding: bytes, as: UTF8.self), directory: directory, source: path)
            loaded += 1
            merged.clusters.merge(one.clusters) { first, _ in first }
            merged.users.merge(one.users) { first, _ in first }
            merged.contexts.merge(one.contexts) { first, _ in first }
            if merged.currentContext == nil || merged.currentContext == "" { merged.currentContext = one.currentContext }
        }
        guard loaded > 0 else { throw KubeConfigError("no kubeconfig found at \(paths.joined(separator: ":"))") }
        return merged
    }
}

/// A configuration problem: missing context, unreadable file, bad certificate.
public struct KubeConfigError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
