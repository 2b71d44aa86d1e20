import Foundation
import KubeModel

/// One entry of the change log that watches replay from.
struct WatchEvent: Sendable {
    var rv: Int64
    var type: String
    var storageKey: String
    var namespace: String
    /// The object after the change (for DELETED: its last state).
    var object: JSONValue
    /// The object before the change (MODIFIED only), for selector transitions.
    var oldObject: JSONValue?
}

/// A registered watch: the filter it applies and where its events go.
struct WatchRegistration: Sendable {
    var storageKey: String
    var namespace: String?
    var labelSelector: LabelSelector
    var fieldSelector: FieldSelector
    /// The watched group/version: stored objects are converted to it before they are matched.
    var apiVersion: String
    /// Turns a stored object into what the client asked for (the object, or a Table row).
    var render: @Sendable (JSONValue) -> JSONValue
    var continuation: AsyncStream<[UInt8]>.Continuation
}

/// Everything the emulator stores. Mutated only under the server's lock; every change of an object
/// goes through `commit`, which assigns the resourceVersion and feeds the watches.
struct State: Sendable {
    var catalog = Catalog.builtin
    /// storageKey → namespace ("" when cluster-scoped) → name → object: a namespace's list reads
    /// its own objects, not every object of the resource (a list of 100 ConfigMaps among 100,000
    /// filtered 100,000 keys).
    var objects: [String: [String: [String: JSONValue]]] = [:]
    var resourceVersion: Int64 = 100
    var log: [WatchEvent] = []
    var logStart = 0
    var watchWindow: Int
    /// Events with rv below this were compacted away; watching from older versions gets 410.
    var compactedRV: Int64 = 0
    /// Per resource: the newest evicted change; watching from before it gets 410.
    var compactedByKey: [String: Int64] = [:]
    var forcedCompactionRV: Int64 = 0
    var watchers: [Int: WatchRegistration] = [:]
    var nextWatcherID = 0
    var tokens: [String: TokenEntry] = [:]
    var requestCounts: [String: Int] = [:]
    var faults: [IdentifiedFault] = []
    /// Requests each fault rule (by id) has answered, also after it was used up or removed.
    var faultHits: [Int: Int] = [:]
    /// Set when something is being deleted, so the controllers know there is work.
    var deletionsPending = false
    /// When each terminating namespace was deleted (the namespace controller takes a moment).
    var namespaceDeletions: [String: ContinuousClock.Instant] = [:]
    var nextFaultID = 0
    /// Events expire a TTL after their last write (like their etcd lease): storageKey → key → last write.
    var eventWrites: [String: [String: ContinuousClock.Instant]] = [:]
    static let eventStorageKeys: Set<String> = ["events"]
    /// The emulated workload controllers' memory (see `WorkloadState`).
    var workloads = WorkloadState()

    init(watchWindow: Int) { self.watchWindow = watchWindow }

    static func key(_ namespace: String, _ name: String) -> String { namespace + "/" + name }
    /// The namespace and name of a `key` (a namespace never has a `/`).
    static func split(_ key: String) -> (namespace: String, name: String) {
        guard let slash = key.firstIndex(of: "/") else { return ("", key) }
        return (String(key[..<slash]), String(key[key.index(after: slash)...]))
    }

    func get(_ storageKey: String, namespace: String, name: String) -> JSONValue? {
        objects[storageKey]?[namespace]?[name]
    }

    /// Every stored object of every resource, with its storage key.
    var everyObject: some Sequence<(storageKey: String, object: JSONValue)> {
        objects.lazy.flatMap { key, namespaces in namespaces.values.lazy.flatMap { $0.values.lazy.map { (key, $0) } } }
    }

    mutating func nextRV() -> Int64 {
        resourceVersion += 1
        return resourceVersion
    }

    /// Stores `object` (or removes it for DELETED), records the event and notifies watches.
    /// `object` must already carry its new resourceVersion (use `nextRV`).
    mutating func commit(type: String, storageKey: String, namespace: String, name: String, object: JSONValue, old: JSONValue?) {
        let rv = Int64(object["metadata"]?["resourceVersion"]?.stringValue ?? "") ?? resourceVersion
        if type == "DELETED" {
            objects[storageKey]?[namespace]?[name] = nil
            if objects[storageKey]?[namespace]?.isEmpty == true { objects[storageKey]?[namespace] = nil }
        } else {
            objects[storageKey, default: [:]][namespace, default: [:]][name] = object
        }
        if type == "DELETED" || object["metadata"]?["deletionTimestamp"] != nil { deletionsPending = true }
        if KubeAPIServer.workloadKeys.contains(storageKey) { workloads.dirty = true }
        if State.eventStorageKeys.contains(storageKey) {
            eventWrites[storageKey, default: [:]][State.key(namespace, name)] = type == "DELETED" ? nil : .now
        }
        let event = WatchEvent(rv: rv, type: type, storageKey: storageKey, namespace: namespace, object: object, oldObject: old)
        log.append(event)
        if log.count - logStart > watchWindow {
            let evicted = log[logStart]
            compactedRV = evicted.rv
            compactedByKey[evicted.storageKey] = evicted.rv
            logStart += 1
            if logStart > 4096 {
                log.removeFirst(logStart)
                logStart = 0
            }
        }
        for (_, w) in watchers where w.storageKey == storageKey {
            if let frame = w.frame(for: event) { w.continuation.yield(frame) }
        }
    }

    /// Events newer than `rv` for one resource, or nil when `rv` is older than the retained window.
    func events(after rv: Int64, storageKey: String) -> [WatchEvent]? {
        // Like the per-resource watch cache: only a change of this resource that is no longer
        // retained makes an old resourceVersion unusable.
        if rv < forcedCompactionRV || rv < (compactedByKey[storageKey] ?? 0) { return nil }
        return log[logStart...].filter { $0.rv > rv && $0.storageKey == storageKey }
    }

    /// Drops the whole change log: the next watch from an older resourceVersion gets 410 Gone.
    mutating func compact() {
        compactedRV = resourceVersion
        forcedCompactionRV = resourceVersion
        log.removeAll()
        logStart = 0
    }

    /// A resource's objects, in one namespace or all, in etcd's key order ("namespace/name"; a
    /// namespace's objects before those of a longer name it starts, as `a/` sorts before `a-b/`
    /// would not: `-` sorts before `/`).
    func list(_ storageKey: String, namespace: String?) -> [JSONValue] {
        guard let all = objects[storageKey] else { return [] }
        if let namespace {
            guard let names = all[namespace] else { return [] }
            return names.keys.sorted().map { names[$0]! }
        }
        return all.keys.map { (order: $0 + "/", namespace: $0) }.sorted { $0.order < $1.order }.flatMap { entry in
            let names = all[entry.namespace]!
            return names.keys.sorted().map { names[$0]! }
        }
    }
}

extension WatchRegistration {
    /// The wire frame for an event, or nil when the event does not concern this watch. Objects that
    /// start matching the selector arrive as ADDED, objects that stop matching as DELETED.
    func frame(for event: WatchEvent) -> [UInt8]? {
        if let namespace, event.namespace != namespace { return nil }
        var object = VersionConversion.convert(event.object, to: apiVersion)
        let matchesNow = matches(object)
        var type = event.type
        if event.type == "MODIFIED" {
            let old = event.oldObject.map { VersionConversion.convert($0, to: apiVersion) }
            let matchedBefore = old.map(matches) ?? false
            switch (matchedBefore, matchesNow) {
            case (false, false): return nil
            case (false, true): type = "ADDED"
            case (true, false):
                type = "DELETED"
                // The last matching state, stamped with the resourceVersion of the change.
                object = old ?? object
                object.set(path: ["metadata", "resourceVersion"], to: .string(String(event.rv)))
            case (true, true): break
            }
        } else if !matchesNow {
            return nil
        }
        return WatchRegistration.encode(type: type, object: render(object))
    }

    func matches(_ object: JSONValue) -> Bool {
        if !labelSelector.isEmpty && !labelSelector.matches(ObjectMeta.labels(object)) { return false }
        return fieldSelector.matches(object)
    }

    static func encode(type: String, object: JSONValue) -> [UInt8] {
        var out: [UInt8] = Array("{\"type\":\"\(type)\",\"object\":".utf8)
        object.write(to: &out)
        out.append(contentsOf: "}\n".utf8)
        return out
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}

/// Accessors for the parts of `metadata` the emulator reads often.
enum ObjectMeta {
    static func labels(_ object: JSONValue) -> [String: String] {
        guard let l = object["metadata"]?["labels"]?.objectValue else { return [:] }
        var out: [String: String] = [:]
        for (k, v) in l { if let s = v.stringValue { out[k] = s } }
        return out
    }

    static func finalizers(_ object: JSONValue) -> [String] {
        object["metadata"]?["finalizers"]?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    static func name(_ object: JSONValue) -> String { object["metadata"]?["name"]?.stringValue ?? "" }
    static func namespace(_ object: JSONValue) -> String { object["metadata"]?["namespace"]?.stringValue ?? "" }
    static func uid(_ object: JSONValue) -> String { object["metadata"]?["uid"]?.stringValue ?? "" }
    static func resourceVersion(_ object: JSONValue) -> String { object["metadata"]?["resourceVersion"]?.stringValue ?? "" }
    static func isDeleting(_ object: JSONValue) -> Bool { object["metadata"]?["deletionTimestamp"] != nil }
}
