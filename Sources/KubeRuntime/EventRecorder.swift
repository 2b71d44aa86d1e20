import Foundation
import KubeClient
import KubeModel
import Logging
import Synchronization

/// Records core/v1 Events about objects. Repeats of the same event (object, type, reason,
/// message) within `window` are aggregated into one Event whose `count` and `lastTimestamp` grow,
/// instead of a new object each time. Recording never throws: a failure is logged.
/// What it remembers for aggregation is swept once per `window`, so it holds at most two windows of
/// distinct events (messages name revisions, so without the sweep it grew with every commit).
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
    struct Memory {
        var seen: [String: Seen] = [:]
        var nextSweep = ContinuousClock.now
    }
    private let memory = Mutex(Memory())

    /// Distinct events remembered for aggregation (for tests).
    public var remembered: Int { memory.withLock { $0.seen.count } }

    /// The recorder's clock (tests move it forward).
    let now: @Sendable () -> ContinuousClock.Instant

    public init(client: KubeClient, component: String, window: Duration = .seconds(600), logger: Logger? = nil,
                now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.now = now
        self.client = client
        self.component = component
        self.window = window
        self.logger = logger ?? Logger(label: "flotilla.events")
    }

    public enum EventType: String, Sendable { case normal = "Normal", warning = "Warning" }


    /// Records an event about `object` (its apiVersion, kind, metadata.name/namespace/uid are used).
    public func record(_ object: JSONValue, type: EventType, reason: String, message: String) async {
        let meta = object["metadata"]
        let namespace = meta?["namespace"]?.stringValue ?? "default"
        let name = meta?["name"]?.stringValue ?? ""
        let uid = meta?["uid"]?.stringValue ?? ""
        let key = [uid, namespace, name, type.rawValue, reason, message].joined(separator: "\u{0}")
        let stamp = KubeTime.string()
        let window = self.window
        let clock = self.now()
        let previous = memory.withLock { m -> Seen? in
            if clock >= m.nextSweep {
                m.seen = m.seen.filter { clock - $0.value.last < window }
                m.nextSweep = clock + window
            }
            guard let p = m.seen[key], clock - p.last < window else { return nil }
            m.seen[key]?.count += 1
            m.seen[key]?.last = clock
            return m.seen[key]
        }
        do {
            if let previous {
                _ = try await client.patch(.events, name: previous.name, namespace: previous.namespace,
                                           ["count": .int(Int64(previous.count)), "lastTimestamp": .string(stamp)])
                return
            }
            let eventName = "\(name).\(String(UInt64(Date().timeIntervalSince1970 * 1e9), radix: 16))"
            let involved = ObjectReference(apiVersion: object["apiVersion"]?.stringValue, kind: object["kind"]?.stringValue, name: name,
                                           namespace: meta?["namespace"]?.stringValue, uid: uid.isEmpty ? nil : uid)
            let event = Event(metadata: ObjectMeta(name: eventName, namespace: namespace), involvedObject: involved, reason: reason,
                              message: message, type: type.rawValue, count: 1, firstTimestamp: stamp, lastTimestamp: stamp, component: component)
            _ = try await client.create(event)
            memory.withLock { $0.seen[key] = Seen(name: eventName, namespace: namespace, count: 1, last: clock) }
        } catch {
            if previous != nil { _ = memory.withLock { $0.seen.removeValue(forKey: key) } }
            logger.warning("could not record event", metadata: ["object": "\(namespace)/\(name)", "reason": "\(reason)", "error": "\(error)"])
        }
    }
}
