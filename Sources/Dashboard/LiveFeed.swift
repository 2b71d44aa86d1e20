import FlotillaAPI
import Foundation
import KubeClient
import KubeModel
import KubeRuntime
import Synchronization

/// The one watch every page shares: an informer on FluxInstances (as the user) keeps the rows
/// decoded, and every change goes to each open page's event stream. No page polls the API server.
///
/// Changes are numbered: a page is rendered at a version and its stream starts after it (and a
/// reconnecting stream after the last `id` it saw), so nothing that happens between the render and
/// the subscription is missed. Too far behind the last 512 changes, a page is told to reload.
final class LiveFeed: Sendable {
    let informer: Informer
    static let kept = 512
    /// A page's stream, and which namespaces it may see (the operator's dashboard shows each person
    /// only what they may list).
    struct Listener {
        var continuation: AsyncStream<String>.Continuation
        var visible: @Sendable (String) -> Bool
    }
    struct Change {
        var version: Int
        var namespace: String
        var frame: String
    }

    fileprivate struct State {
        var rows: [String: InstanceRow] = [:]
        var listeners: [Int: Listener] = [:]
        var nextID = 0
        var version = 0
        var recent: [Change] = []
    }
    private let state = Mutex(State())

    init(informer: Informer) {
        self.informer = informer
        informer.addHandler { [weak self] event in self?.apply(event) }
    }

    func apply(_ event: WatchEvent) {
        let message: Change?
        switch event {
        case .added(let o), .modified(let o):
            guard let instance = try? o.decode(FluxInstance.self) else { return }
            let row = InstanceRow(instance)
            message = state.withLock { s -> Change? in
                guard s.rows[row.key] != row else { return nil }
                s.rows[row.key] = row
                return s.record(row, deleted: false)
            }
        case .deleted(let o):
            let key = "\(o["metadata"]?["namespace"]?.stringValue ?? "")/\(o["metadata"]?["name"]?.stringValue ?? "")"
            message = state.withLock { s in s.rows.removeValue(forKey: key).map { s.record($0, deleted: true) } }
        default:
            message = nil
        }
        guard let message else { return }
        for listener in state.withLock({ Array($0.listeners.values) }) where listener.visible(message.namespace) {
            listener.continuation.yield(message.frame)
        }
    }

    /// The rows, and the version they are at.
    var snapshot: (rows: [InstanceRow], version: Int) { state.withLock { (Array($0.rows.values), $0.version) } }
    var version: Int { state.withLock { $0.version } }

    /// A page's stream of server-sent events from after `version`, until the page goes away.
    func subscribe(after version: Int?, visible: @escaping @Sendable (String) -> Bool = { _ in true }) -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(Self.kept))
        let id = state.withLock { s -> Int in
            s.nextID += 1
            s.listeners[s.nextID] = Listener(continuation: continuation, visible: visible)
            if let version, version < s.version {
                if let oldest = s.recent.first?.version, oldest <= version + 1 {
                    for change in s.recent where change.version > version && visible(change.namespace) { continuation.yield(change.frame) }
                } else {
                    continuation.yield("event: reset\ndata: {}\n\n")
                }
            }
            return s.nextID
        }
        continuation.onTermination = { [weak self] _ in self?.state.withLock { _ = $0.listeners.removeValue(forKey: id) } }
        return stream
    }

    var listenerCount: Int { state.withLock { $0.listeners.count } }

    static func frame(_ row: InstanceRow, deleted: Bool, version: Int) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = (try? encoder.encode(row)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return "id: \(version)\nevent: \(deleted ? "deleted" : "instance")\ndata: \(json)\n\n"
    }
}

extension LiveFeed.State {
    /// Numbers a change and keeps it for streams that start or resume behind it.
    mutating func record(_ row: InstanceRow, deleted: Bool) -> LiveFeed.Change {
        version += 1
        let change = LiveFeed.Change(version: version, namespace: row.namespace, frame: LiveFeed.frame(row, deleted: deleted, version: version))
        recent.append(change)
        if recent.count > LiveFeed.kept { recent.removeFirst(recent.count - LiveFeed.kept) }
        return change
    }
}
