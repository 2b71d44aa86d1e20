import Foundation
import KubeModel
import Synchronization

extension KubeAPIServer {
    func labelSelector(_ request: APIRequest) throws(APIError) -> LabelSelector {
        do {
            return try LabelSelector.parse(request.query["labelSelector"] ?? "")
        } catch {
            throw APIError.badRequest(error.message)
        }
    }

    /// Built-in list items carry no apiVersion/kind (typed lists); custom resources keep them.
    func listItem(_ o: JSONValue, _ r: ResourceInfo) -> JSONValue {
        var c = served(o, r)
        if r.crd == nil {
            c["apiVersion"] = nil
            c["kind"] = nil
        }
        return c
    }

    struct ContinueToken {
        var rv: Int64
        var start: String

        var encoded: String {
            let json: JSONValue = ["v": "meta.k8s.io/v1", "rv": .int(rv), "start": .string(start + "\u{0}")]
            return Data(json.jsonBytes()).base64EncodedString()
        }

        init(rv: Int64, start: String) {
            self.rv = rv
            self.start = start
        }

        init(_ text: String) throws(APIError) {
            guard let data = Data(base64Encoded: text), let json = try? JSONValue.parse(Array(data)),
                  let rv = json["rv"]?.intValue, let start = json["start"]?.stringValue else {
                throw APIError.badRequest("continue key is not valid: illegal base64 data at input byte 0")
            }
            self.rv = rv
            self.start = start.hasSuffix("\u{0}") ? String(start.dropLast()) : start
        }
    }

    func list(_ request: APIRequest, _ r: ResourceInfo, _ info: RequestInfo) throws(APIError) -> APIResponse {
        let selector = try labelSelector(request)
        let fields = try FieldSelector.parse(request.query["fieldSelector"] ?? "", resource: r.resourceKey)
        let limit = Int(request.query["limit"] ?? "") ?? 0
        let token = try request.query["continue"].flatMap { t throws(APIError) in t.isEmpty ? nil : try ContinueToken(t) }
        let namespace: String? = r.namespaced && !info.namespace.isEmpty ? info.namespace : nil
        let (matching, rv) = state.withLock { s -> ([JSONValue], Int64) in
            let all = s.list(r.storageKey, namespace: namespace).map { served($0, r) }.filter {
                selector.matches(ObjectMeta.labels($0)) && fields.matches($0)
            }
            return (all, s.resourceVersion)
        }
        var items = matching
        if let token {
            items = items.filter { State.key(ObjectMeta.namespace($0), ObjectMeta.name($0)) > token.start }
        }
        var metadata: JSONValue = ["resourceVersion": .string(String(token?.rv ?? rv))]
        if limit > 0 && items.count > limit {
            let remaining = items.count - limit
            items = Array(items.prefix(limit))
            let last = items.last!
            metadata["continue"] = .string(ContinueToken(rv: token?.rv ?? rv, start: State.key(ObjectMeta.namespace(last), ObjectMeta.name(last))).encoded)
            if selector.isEmpty && fields.terms.isEmpty { metadata["remainingItemCount"] = .int(Int64(remaining)) }
        }
        if let form = wantsMetadata(request) {
            return try metadataList(form, items: items, metadata: metadata)
        }
        if wantsTable(request) {
            var t = table(r, objects: items.map { served($0, r) }, listRV: metadata["resourceVersion"]?.stringValue ?? "", request: request)
            t["metadata"] = metadata
            return .json(200, t)
        }
        return .json(200, ["kind": .string(r.listKind), "apiVersion": .string(r.groupVersion), "metadata": metadata,
                           "items": .array(items.map { listItem($0, r) })])
    }

    func watch(_ request: APIRequest, _ r: ResourceInfo, _ info: RequestInfo, dropAfter: Duration?) throws(APIError) -> APIResponse {
        let selector = try labelSelector(request)
        var fields = try FieldSelector.parse(request.query["fieldSelector"] ?? "", resource: r.resourceKey)
        if !info.name.isEmpty { fields.terms.append(.init(field: "metadata.name", value: info.name, negated: false)) }
        let rvParam = request.query["resourceVersion"] ?? ""
        // 0 or absent means the server's own limit (kube-apiserver: min-request-timeout × 1–2).
        let timeout = Int(request.query["timeoutSeconds"] ?? "").flatMap { $0 > 0 ? $0 : nil } ?? Int.random(in: 1800...3600)
        let bookmarks = request.query["allowWatchBookmarks"] == "true"
        let sendInitialEvents = request.query["sendInitialEvents"] == "true"
        if sendInitialEvents && !bookmarks {
            throw APIError.invalid(r, name: "", errors: [.forbidden("allowWatchBookmarks", "allowWatchBookmarks must be set to true when sendInitialEvents is set")])
        }
        let (stream, continuation) = AsyncStream.makeStream(of: [UInt8].self)
        let tableRequested = wantsTable(request)
        let render: @Sendable (JSONValue) -> JSONValue = { [self] o in
            tableRequested ? self.table(r, objects: [o], listRV: ObjectMeta.resourceVersion(o), request: request) : o
        }
        let registration = WatchRegistration(storageKey: r.storageKey, namespace: r.namespaced && !info.namespace.isEmpty ? info.namespace : nil,
                                             labelSelector: selector, fieldSelector: fields, apiVersion: r.groupVersion, render: render,
                                             continuation: continuation)
        let id = try state.withLock { s throws(APIError) -> Int? in
            if rvParam.isEmpty || rvParam == "0" || sendInitialEvents {
                for o in s.list(r.storageKey, namespace: registration.namespace).lazy.map({ self.served($0, r) }) where registration.matches(o) {
                    continuation.yield(WatchRegistration.encode(type: "ADDED", object: render(o)))
                }
                if sendInitialEvents {
                    var meta: JSONValue = ["resourceVersion": .string(String(s.resourceVersion)), "annotations": ["k8s.io/initial-events-end": "true"]]
                    if r.crd == nil { meta["creationTimestamp"] = .null }
                    continuation.yield(WatchRegistration.encode(type: "BOOKMARK", object: ["kind": .string(r.kind), "apiVersion": .string(r.groupVersion), "metadata": meta]))
                }
            } else {
                guard let from = Int64(rvParam) else { throw APIError.badRequest("invalid resource version: \(rvParam)") }
                guard let events = s.events(after: from, storageKey: r.storageKey) else {
                    let status = APIError(code: 410, reason: "Expired", message: "too old resource version: \(from) (\(s.compactedRV))").status
                    continuation.yield(WatchRegistration.encode(type: "ERROR", object: status))
                    continuation.finish()
                    return nil
                }
                for e in events { if let f = registration.frame(for: e) { continuation.yield(f) } }
            }
            s.nextWatcherID += 1
            s.watchers[s.nextWatcherID] = registration
            return s.nextWatcherID
        }
        guard let id else { return APIResponse(status: 200, headers: [("Content-Type", "application/json")], stream: stream) }
        let bookmarkObject: () -> JSONValue = { [self] in
            var meta: JSONValue = ["resourceVersion": .string(String(self.currentResourceVersion))]
            if r.crd == nil { meta["creationTimestamp"] = .null }
            return ["kind": .string(r.kind), "apiVersion": .string(r.groupVersion), "metadata": meta]
        }
        let deadline = dropAfter ?? .seconds(timeout)
        let interval = configuration.bookmarkInterval
        let timer = Task { [self] in
            let clock = ContinuousClock()
            let end = clock.now + deadline
            // Bookmarks about every `bookmarkInterval`, and one shortly before the deadline.
            while bookmarks && clock.now + interval < end - .seconds(2) {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { return }
                continuation.yield(WatchRegistration.encode(type: "BOOKMARK", object: bookmarkObject()))
            }
            if bookmarks && deadline > .seconds(2) {
                try? await Task.sleep(until: end - .seconds(2), clock: clock)
                if Task.isCancelled { return }
                continuation.yield(WatchRegistration.encode(type: "BOOKMARK", object: bookmarkObject()))
            }
            try? await Task.sleep(until: end, clock: clock)
            if Task.isCancelled { return }
            if bookmarks && dropAfter == nil { continuation.yield(WatchRegistration.encode(type: "BOOKMARK", object: bookmarkObject())) }
            _ = self.state.withLock { $0.watchers.removeValue(forKey: id) }
            continuation.finish()
        }
        continuation.onTermination = { [self] _ in
            timer.cancel()
            _ = self.state.withLock { $0.watchers.removeValue(forKey: id) }
        }
        return APIResponse(status: 200, headers: [("Content-Type", "application/json")], stream: stream, cancel: { continuation.finish() })
    }
}
