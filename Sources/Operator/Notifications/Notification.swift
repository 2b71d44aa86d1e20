import Crypto
import FlotillaAPI
import Foundation
import KubeModel
import Sync

/// What an instance tells its notification providers (`spec.notifications[].events`).
public enum NotificationKind: String, Sendable, CaseIterable {
    case syncFailed = "SyncFailed"
    case recovered = "Recovered"
    case applied = "Applied"
    case pruneHeld = "PruneHeld"
    case imageUpdated = "ImageUpdated"
    case requestAnswered = "RequestAnswered"

    var severity: String { self == .syncFailed || self == .pruneHeld ? "error" : "info" }
}

/// One event of one instance, as every provider gets it.
public struct Notification: Sendable, Equatable {
    public var instance: InstanceRef
    public var kind: NotificationKind
    public var revision: String?
    public var message: String
    public var time: Date

    /// Two deliveries with the same key within the dedupe window are one.
    var dedupeKey: String { "\(instance)|\(kind.rawValue)|\(revision ?? "")|\(message)" }

    /// The events of a status change: a new failure (or held prune), or a recovery from one.
    static func transition(from previous: Outcome?, to outcome: Outcome) -> NotificationKind? {
        if outcome.reason == ConditionReason.pruneHeld { return previous?.reason == outcome.reason ? nil : .pruneHeld }
        let failing = !outcome.ready && outcome.failure != nil
        let wasFailing = previous.map { !$0.ready && $0.failure != nil } ?? false
        if failing && (previous?.reason != outcome.reason || previous?.message != outcome.message) { return .syncFailed }
        if outcome.ready && wasFailing { return .recovered }
        return nil
    }
}

/// The notification providers (`spec.notifications[].type`) and their documented payloads.
public enum NotificationProvider: String, Sendable, CaseIterable {
    case slack, msteams, discord, generic

    var text: (Notification) -> String {
        { n in
            let what = "\(n.instance.namespace)/\(n.instance.name) \(n.kind.rawValue)"
            return "\(what)\(n.revision.map { " at \($0.prefix(7))" } ?? ""): \(n.message)"
        }
    }

    /// The body and headers a delivery sends; `token` signs the generic payload.
    func request(_ n: Notification, token: String?) -> (body: [UInt8], headers: [String: String]) {
        let body: JSONValue
        switch self {
        case .slack: body = ["text": .string(text(n))]
        case .discord: body = ["content": .string(String(text(n).prefix(2000)))]
        case .msteams:
            body = ["@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": .string("\(n.instance) \(n.kind.rawValue)"),
                    "themeColor": .string(n.kind.severity == "error" ? "d9534f" : "2e7d32"), "text": .string(text(n))]
        case .generic:
            body = ["instance": ["namespace": .string(n.instance.namespace), "name": .string(n.instance.name)], "event": .string(n.kind.rawValue),
                    "severity": .string(n.kind.severity), "revision": n.revision.map(JSONValue.string) ?? .null, "message": .string(n.message),
                    "timestamp": .string(ISO8601DateFormatter().string(from: n.time))]
        }
        let bytes = body.compactJSONBytes()
        var headers = ["Content-Type": "application/json"]
        if self == .generic, let token, !token.isEmpty {
            let mac = HMAC<SHA256>.authenticationCode(for: bytes, using: SymmetricKey(data: Array(token.utf8)))
            headers["X-Signature"] = "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
        }
        return (bytes, headers)
    }
}
