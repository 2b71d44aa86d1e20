import Logging
import AsyncHTTPClient
import KubeModel
import NIOCore
import NIOHTTP1

/// A change seen by a watch.
public enum WatchEvent: Sendable {
    case added(JSONValue)
    case modified(JSONValue)
    case deleted(JSONValue)
    /// The initial list has been delivered (as `.added` events): the watcher is in sync.
    case synced(resourceVersion: String)
    /// The server confirmed progress up to this resourceVersion.
    case bookmark(resourceVersion: String)

    public var object: JSONValue? {
        switch self {
        case .added(let o), .modified(let o), .deleted(let o): return o
        default: return nil
        }
    }
}

/// A list+watch that never silently loses events: it lists first (emitting `.added` for every
/// object, then `.synced`), watches from the list's resourceVersion with bookmarks, resumes from
/// the last seen resourceVersion after a disconnect, and on `410 Gone` lists again and emits exactly
/// what changed meanwhile (no missed and no phantom events). It stops when its task is cancelled.
public struct ResourceWatch: AsyncSequence, Sendable {
    public typealias Element = WatchEvent

    let client: KubeClient
    let type: ResourceType
    let namespace: String?
    let labelSelector: String?
    let fieldSelector: String?

    public func makeAsyncIterator() -> Iterator {
        Iterator(reflector: Reflector(watch: self))
    }

    public struct Iterator: AsyncIteratorProtocol {
        let reflector: Reflector

        public mutating func next() async throws -> WatchEvent? {
            try await reflector.next()
        }
    }
}

extension KubeClient {
    /// A resilient list+watch of a collection (see `ResourceWatch`).
    public func watch(_ type: ResourceType, namespace: String? = nil, labelSelector: String? = nil,
                      fieldSelector: String? = nil) -> ResourceWatch {
        ResourceWatch(client: self, type: type, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector)
    }
}

/// The state machine behind `ResourceWatch`: what is known, from which resourceVersion to watch,
/// and the open watch connection. Used by exactly one iterator.
public final class Reflector {
    let watch: ResourceWatch
    /// "namespace/name" → last seen object.
    public private(set) var known: [String: JSONValue] = [:]
    public private(set) var resourceVersion = ""
    var pending: [WatchEvent] = []
    var needList = true
    var synced = false
    var body: HTTPClientResponse.Body.AsyncIterator?
    var buffer: [UInt8] = []
    var failures = 0
    /// Counters, for tests and metrics.
    public private(set) var lists = 0
    public private(set) var watchesOpened = 0

    init(watch: ResourceWatch) { self.watch = watch }

    static func key(_ o: JSONValue) -> String {
        (o["metadata"]?["namespace"]?.stringValue ?? "") + "/" + (o["metadata"]?["name"]?.stringValue ?? "")
    }

    static func rv(_ o: JSONValue) -> String { o["metadata"]?["resourceVersion"]?.stringValue ?? "" }

    func next() async throws -> WatchEvent? {
        while true {
            if !pending.isEmpty { return pending.removeFirst() }
            try Task.checkCancellation()
            if needList {
                do {
                    try await relist()
                } catch let e as KubeError {
                    if Task.isCancelled { return nil }
                    try await pause(after: e)
                }
                continue
            }
            if body == nil {
                do {
                    try await open()
                } catch let e as KubeError {
                    if Task.isCancelled { return nil }
                    if e.isGone { needList = true; continue }
                    try await pause(after: e)
                }
                continue
            }
            if let event = try await readEvent() { return event }
        }
    }

    /// Backs off after a failure (jittered, capped), so a failing server is not hammered.
    func pause(after error: KubeError) async throws {
        failures += 1
        let base = Double(min(10_000, 200 * (1 << min(failures, 8))))
        let wait = error.retryAfter ?? .milliseconds(Int64(base * Double.random(in: 0.5...1.5)))
        watch.client.logger.debug("watch failed, retrying", metadata: ["resource": "\(watch.type)", "error": "\(error)", "wait": "\(wait)"])
        try await Task.sleep(for: wait)
    }

    func relist() async throws {
        let list = try await watch.client.list(watch.type, namespace: watch.namespace, labelSelector: watch.labelSelector,
                                               fieldSelector: watch.fieldSelector)
        lists += 1
        var fresh: [String: JSONValue] = [:]
        for item in list.items {
            let key = Self.key(item)
            fresh[key] = item
            if let old = known[key] {
                if Self.rv(old) != Self.rv(item) { pending.append(.modified(item)) }
            } else {
                pending.append(.added(item))
            }
        }
        for (key, old) in known where fresh[key] == nil { pending.append(.deleted(old)) }
        known = fresh
        resourceVersion = list.resourceVersion
        needList = false
        failures = 0
        if !synced {
            synced = true
            pending.append(.synced(resourceVersion: resourceVersion))
        }
    }

    func open() async throws {
        var q: [(String, String)] = [("watch", "true"), ("allowWatchBookmarks", "true"), ("resourceVersion", resourceVersion),
                                     ("timeoutSeconds", String(Int.random(in: 300...600)))]
        if let s = watch.labelSelector, !s.isEmpty { q.append(("labelSelector", s)) }
        if let s = watch.fieldSelector, !s.isEmpty { q.append(("fieldSelector", s)) }
        let path = watch.type.path(namespace: watch.namespace) + KubeClient.query(q)
        let client = watch.client
        do {
            try await client.limiter.acquire()
        } catch {
            throw KubeError.cancelled
        }
        let request = try await client.makeRequest(.GET, path, body: nil, contentType: "application/json", accept: "application/json")
        let response: HTTPClientResponse
        do {
            response = try await client.http.execute(request, deadline: .distantFuture)
        } catch {
            throw KubeError.transport("watch \(watch.type): \(error)")
        }
        guard response.status == .ok else {
            let bytes = (try? await response.body.collect(upTo: 1 << 20)).map { Array(buffer: $0) } ?? []
            throw KubeError.from(code: Int(response.status.code), body: bytes, retryAfterHeader: response.headers.first(name: "Retry-After"))
        }
        watchesOpened += 1
        body = response.body.makeAsyncIterator()
        buffer.removeAll(keepingCapacity: true)
    }

    /// Reads one event from the open watch; nil when the event was consumed internally (or the
    /// connection ended, in which case the next call reopens it from the last resourceVersion).
    func readEvent() async throws -> WatchEvent? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                if line.isEmpty { continue }
                return try handle(line)
            }
            let chunk: ByteBuffer?
            do {
                chunk = try await body?.next()
            } catch {
                if Task.isCancelled { throw CancellationError() }
                body = nil
                return nil
            }
            guard let chunk else {
                body = nil
                return nil
            }
            buffer.append(contentsOf: chunk.readableBytesView)
        }
    }

    func handle(_ line: [UInt8]) throws -> WatchEvent? {
        guard let frame = try? JSONValue.parse(line), let type = frame["type"]?.stringValue, let object = frame["object"] else {
            body = nil
            return nil
        }
        failures = 0
        switch type {
        case "ADDED", "MODIFIED":
            let key = Self.key(object)
            let rv = Self.rv(object)
            resourceVersion = rv
            if let old = known[key], Self.rv(old) == rv { return nil }
            let existed = known[key] != nil
            known[key] = object
            return existed ? .modified(object) : .added(object)
        case "DELETED":
            let key = Self.key(object)
            resourceVersion = Self.rv(object)
            guard known.removeValue(forKey: key) != nil else { return nil }
            return .deleted(object)
        case "BOOKMARK":
            resourceVersion = Self.rv(object)
            return .bookmark(resourceVersion: resourceVersion)
        case "ERROR":
            body = nil
            if object["code"]?.intValue == 410 { needList = true }
            return nil
        default:
            return nil
        }
    }
}
