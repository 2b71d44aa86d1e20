import Foundation
import KubeModel

/// An authenticated identity.
public struct UserInfo: Sendable, Hashable {
    public var name: String
    public var groups: [String]

    public init(name: String, groups: [String]) {
        self.name = name
        self.groups = groups
    }

    public static let anonymous = UserInfo(name: "system:anonymous", groups: ["system:unauthenticated"])

    /// The identity of a ServiceAccount, with the groups kube-apiserver gives it.
    public static func serviceAccount(namespace: String, name: String) -> UserInfo {
        UserInfo(name: "system:serviceaccount:\(namespace):\(name)",
                 groups: ["system:serviceaccounts", "system:serviceaccounts:\(namespace)", "system:authenticated"])
    }

    /// (namespace, name) when this is a ServiceAccount user.
    var serviceAccount: (String, String)? {
        let parts = name.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "system", parts[1] == "serviceaccount" else { return nil }
        return (String(parts[2]), String(parts[3]))
    }
}

/// A bearer token the emulator accepts.
struct TokenEntry: Sendable {
    var user: UserInfo
    /// Set for ServiceAccount tokens: the token dies with the account.
    var serviceAccountUID: String?
    var expires: Date?
    /// Audiences of a TokenRequest token; the API accepts it only for its own audience.
    var audiences: [String]? = nil
}

/// A static user for `flotilla dev` and tests: a name, groups and the token that authenticates it.
public struct StaticUser: Sendable {
    public var name: String
    public var groups: [String]
    public var token: String

    public init(name: String, groups: [String], token: String) {
        self.name = name
        self.groups = groups
        self.token = token
    }
}

enum TokenGenerator {
    static let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

    static func random(_ count: Int) -> String {
        var g = SystemRandomNumberGenerator()
        return String((0..<count).map { _ in alphabet.randomElement(using: &g)! })
    }

    /// A JWT-shaped ServiceAccount token (opaque to the emulator, which looks tokens up by value).
    static func serviceAccountToken(namespace: String, name: String, uid: String, audiences: [String], expires: Date) -> String {
        func b64(_ v: JSONValue) -> String {
            Data(v.jsonBytes()).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        let header: JSONValue = ["alg": "RS256", "kid": .string(random(16))]
        let claims: JSONValue = [
            "aud": .array(audiences.map { .string($0) }), "exp": .int(Int64(expires.timeIntervalSince1970)),
            "iat": .int(Int64(Date().timeIntervalSince1970)), "iss": "https://kubernetes.default.svc.cluster.local",
            "sub": .string("system:serviceaccount:\(namespace):\(name)"),
            "kubernetes.io": ["namespace": .string(namespace), "serviceaccount": ["name": .string(name), "uid": .string(uid)]],
        ]
        return b64(header) + "." + b64(claims) + "." + random(43)
    }
}
