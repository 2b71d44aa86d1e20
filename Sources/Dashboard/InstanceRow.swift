import FlotillaAPI
import Foundation
import KubeModel

/// One FluxInstance as the overview shows it: what `kubectl get fluxinstances` prints, and health and
/// drift. Built from the object alone; nothing secret is in it (the source URL loses its userinfo).
public struct InstanceRow: Sendable, Equatable, Codable {
    public var namespace: String
    public var name: String
    /// `Ready`, `Failing`, `Progressing`, `Suspended` or `Unknown`.
    public var state: String
    public var reason: String
    public var message: String
    public var revision: String
    public var behind: Int
    public var lastSync: String
    public var health: String
    public var drift: Int
    public var source: String

    public var key: String { "\(namespace)/\(name)" }
    public var stateClass: String { state.lowercased() }

    public static let states = ["Ready", "Progressing", "Failing", "Suspended", "Unknown"]

    public init(namespace: String, name: String, state: String, reason: String = "", message: String = "", revision: String = "",
                behind: Int = 0, lastSync: String = "", health: String = "", drift: Int = 0, source: String = "") {
        self.namespace = namespace
        self.name = name
        self.state = state
        self.reason = reason
        self.message = message
        self.revision = revision
        self.behind = behind
        self.lastSync = lastSync
        self.health = health
        self.drift = drift
        self.source = source
    }

    public init(_ instance: FluxInstance) {
        let status = instance.status
        let ready = status?.conditions?.first { $0.type == "Ready" }
        let state: String
        if instance.spec.suspend == true {
            state = "Suspended"
        } else {
            switch ready?.status {
            case "True"?: state = "Ready"
            case "False"?: state = "Failing"
            case "Unknown"?: state = "Progressing"
            default: state = "Unknown"
            }
        }
        let revision = status?.lastAppliedRevision ?? ""
        self.init(namespace: instance.metadata.namespace ?? "", name: instance.metadata.name ?? "", state: state,
                  reason: ready?.reason ?? "", message: ready?.message ?? "", revision: String(revision.prefix(7)),
                  behind: status?.behind ?? 0, lastSync: status?.lastSyncTime ?? "", health: status?.health?.state ?? "",
                  drift: status?.drift?.count ?? 0, source: Self.redacted(instance.spec.git.url))
    }

    /// A git URL without its userinfo (`https://user:token@host/…` → `https://host/…`, the userinfo
    /// ending at the authority's last `@`, as git reads it) and without a query (`?private_token=…`).
    public static func redacted(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        var rest = url[scheme.upperBound...]
        if let query = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<query] }
        let authority = rest[..<(rest.firstIndex(of: "/") ?? rest.endIndex)]
        if let at = authority.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        return String(url[..<scheme.upperBound]) + rest
    }
}
