import Foundation
import KubeModel

/// Registry credentials as Kubernetes keeps them: a Secret's `.dockerconfigjson` (or `.dockercfg`).
public enum DockerConfig {
    /// Host → credentials of a `kubernetes.io/dockerconfigjson` (or legacy `.dockercfg`) Secret.
    public static func credentials(in secret: Secret) -> [String: RegistryCredentials]? {
        guard let raw = secret.value(".dockerconfigjson") ?? secret.value(".dockercfg"),
              let json = try? JSONValue.parse(raw) else { return nil }
        var out: [String: RegistryCredentials] = [:]
        for (server, entry) in (json["auths"] ?? json).objectValue ?? [:] {
            var host = server
            if let scheme = host.range(of: "://") { host = String(host[scheme.upperBound...]) }
            host = String(host.split(separator: "/").first ?? Substring(host))
            if host == "index.docker.io" || host == "registry-1.docker.io" { host = ImageRef.dockerHub }
            if let user = entry["username"]?.stringValue, let password = entry["password"]?.stringValue {
                out[host] = RegistryCredentials(username: user, password: password)
            } else if let auth = entry["auth"]?.stringValue, let decoded = Data(base64Encoded: auth),
                      let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":") {
                out[host] = RegistryCredentials(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
            }
        }
        return out
    }
}
