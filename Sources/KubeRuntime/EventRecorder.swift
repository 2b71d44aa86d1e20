import Foundation
import KubeClient
import KubeModel
import Logging
import Synchronization

/// Records core/v1 Events about objects. Repeats of the same event (object, type, reason,
/// message) within `window` are aggregated into one Event whose `count` and `lastTimestamp` grow,
/// instead of a new object each time. Recording never throws: a failure is logged.
public final class EventRecorder: Sendable {
    let client: KubeClient
    let component: String
    let window: Duration
    let logger: Logger
    struct Seen {
        var name: String
        var namespace: String
        var count: Int
        var last: ContinuousClock.Instant
    }
    private let seen = Mutex([String: Seen]())

    public init(client: KubeClient, component: String, window: Duration = .seconds(600), logger: Logger? = nil) {
        self.client = client
        self.component = component
        self.window = window
        self.logger = logger ?? Logger(label: "flotilla.events")
    }

    public enum EventType: String, Sendable { case normal = "Normal", warning = "Warning" }

    static func timestamp(_ date: Date = Date()) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }

    /// Records an event about `object` (its apiVersion, kind, metadata.name/namespace/uid are used).
    public func record(_ object: JSONValue, type: EventType, reason: String, message: String) async {
        let meta = object["metadata"]
        let namespace = meta?["namespace"]?.stringValue ?? "default"
        let name = meta?["name"]?.stringValue ?? ""
        let uid = meta?["uid"]?.stringValue ?? ""
        let key = [uid, namespace, name, type.rawValue, reason, message].joined(separator: "\u{0}")
        let now = Self.timestamp()
        let previous = seen.withLock { s -> Seen? in
            guard let p = s[key], ContinuousClock.now - p.last < window else { return nil }
            s[key]?.count += 1
            s[key]?.last = .now
            return s[key]
        }
        do {
            if let previous {
                _ = try await client.patch(.events, name: previous.name, namespace: previous.namespace,
                                           ["count": .int(Int64(previous.count)), "lastTimestamp": .string(now)])
                return
            }
            let eventName = "\(name).\(String(UInt64(Date().timeIntervalSince1970 * 1e9), radix: 16))"
            let involved = ObjectReference(apiVersion: object["apiVersion"]?.stringValue, kind: object["kind"]?.stringValue, name: name,
                                           namespace: meta?["namespace"]?.stringValue, uid: uid.isEmpty ? nil : uid)
            let event = Event(metadata: ObjectMeta(name: eventName, namespace: namespace), involvedObject: involved, reason: reason,
                              message: message, type: type.rawValue, count: 1, firstTimestamp: now, lastTimestamp: now, component: component)
            _ = try await client.create(event)
            seen.withLock { $0[key] = Seen(name: eventName, namespace: namespace, count: 1, last: .now) }
        } catch {
            if previous != nil { _ = seen.withLock { $0.removeValue(forKey: key) } }
            logger.warning("could not record event", metadata: ["object": "\(namespace)/\(name)", "reason": "\(reason)", "error": "\(error)"])
        }
    }
}
