import FlotillaAPI
import Foundation
import KubeClient
import KubeModel
import KubeRuntime
import Synchronization

/// The one watch every page shares: an informer on FluxInstances (as the user) keeps the rows
/// decoded, and every change goes to each open page's event stream. No page polls the API server.
final class LiveFeed: Sendable {
    let informer: Informer
    private struct State {
        var rows: [String: InstanceRow] = [:]
        var listeners: [Int: AsyncStream<String>.Continuation] = [:]
        var nextID = 0
    }
    private let state = Mutex(State())

    init(informer: Informer) {
        self.informer = informer
        informer.addHandler { [weak self] event in self?.apply(event) }
    }

    func apply(_ event: WatchEvent) {
        let message: String?
        switch event {
        case .added(let o), .modified(let o):
            guard let instance = try? o.decode(FluxInstance.self) else { return }
            let row = InstanceRow(instance)
            message = state.withLock { s -> String? in
                let changed = s.rows[row.key] != row
                s.rows[row.key] = row
                return changed ? Self.frame(row, deleted: false) : nil
            }
        case .deleted(let o):
            let key = "\(o["metadata"]?["namespace"]?.stringValue ?? "")/\(o["metadata"]?["name"]?.stringValue ?? "")"
            message = state.withLock { s in s.rows.removeValue(forKey: key).map { Self.frame($0, deleted: true) } }
        default:
            message = nil
        }
        guard let message else { return }
        for listener in state.withLock({ Array($0.listeners.values) }) { listener.yield(message) }
    }

    var rows: [InstanceRow] { state.withLock { Array($0.rows.values) } }

    /// A page's stream of server-sent events, until the page goes away.
    func subscribe() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(256))
        let id = state.withLock { s -> Int in
            s.nextID += 1
            s.listeners[s.nextID] = continuation
            return s.nextID
        }
        continuation.onTermination = { [weak self] _ in self?.state.withLock { _ = $0.listeners.removeValue(forKey: id) } }
        return stream
    }

    var listenerCount: Int { state.withLock { $0.listeners.count } }

    static func frame(_ row: InstanceRow, deleted: Bool) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = (try? encoder.encode(row)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return "event: \(deleted ? "deleted" : "instance")\ndata: \(json)\n\n"
    }
}
