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
    /// Open streams at most (each holds a connection); more get 503.
    static let maxListeners = 256
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
        /// key → resourceVersion: a change the row does not show (requests, conditions, lists) is
        /// still told to the instance's page (`touched`).
        var versions: [String: String] = [:]
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
            let row: InstanceRow
            do {
                row = InstanceRow(try o.decode(FluxInstance.self))
            } catch {
                // Shown, not dropped: a row that says it cannot be read.
                row = InstanceRow(namespace: o["metadata"]?["namespace"]?.stringValue ?? "", name: o["metadata"]?["name"]?.stringValue ?? "",
                                  state: "Unknown", message: "cannot read this FluxInstance: \(error.message)")
            }
            let resourceVersion = o["metadata"]?["resourceVersion"]?.stringValue ?? ""
            message = state.withLock { s -> Change? in
                let touched = s.versions[row.key] != resourceVersion
                s.versions[row.key] = resourceVersion
                if s.rows[row.key] != row {
                    s.rows[row.key] = row
                    return s.record(row, kind: "instance")
                }
                return touched ? s.record(row, kind: "touched") : nil
            }
        case .deleted(let o):
            let key = "\(o["metadata"]?["namespace"]?.stringValue ?? "")/\(o["metadata"]?["name"]?.stringValue ?? "")"
            message = state.withLock { s in
                s.versions[key] = nil
                return s.rows.removeValue(forKey: key).map { s.record($0, kind: "deleted") }
            }
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
    /// Keeps idle streams alive, and finds the dead ones: a write to a closed connection fails.
    func ping() {
        for listener in state.withLock({ Array($0.listeners.values) }) { listener.continuation.yield(": ping\n\n") }
    }

    /// nil when `maxListeners` streams are open.
    func subscribe(after version: Int?, visible: @escaping @Sendable (String) -> Bool = { _ in true }) -> AsyncStream<String>? {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(Self.kept))
        let id = state.withLock { s -> Int? in
            guard s.listeners.count < Self.maxListeners else { return nil }
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
        guard let id else { return nil }
        continuation.onTermination = { [weak self] _ in self?.state.withLock { _ = $0.listeners.removeValue(forKey: id) } }
        return stream
    }

    /// `instance` (the row), `touched` (something the row does not show) or `deleted`.
    static func frame(_ row: InstanceRow, kind: String, version: Int) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = (try? encoder.encode(row)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return "id: \(version)\nevent: \(kind)\ndata: \(json)\n\n"
    }
}

extension LiveFeed.State {
    /// Numbers a change and keeps it for streams that start or resume behind it.
    mutating func record(_ row: InstanceRow, kind: String) -> LiveFeed.Change {
        version += 1
        let change = LiveFeed.Change(version: version, namespace: row.namespace, frame: LiveFeed.frame(row, kind: kind, version: version))
        recent.append(change)
        if recent.count > LiveFeed.kept { recent.removeFirst(recent.count - LiveFeed.kept) }
        return change
    }
}
