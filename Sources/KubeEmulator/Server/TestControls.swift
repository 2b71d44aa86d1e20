import KubeModel
import Synchronization

/// A fault to inject into matching requests (a Swift API for tests, never reachable over the wire).
public struct FaultRule: Sendable {
    public enum Action: Sendable {
        /// Answer with this status code (a `Status` body with the matching reason); 429 and 503
        /// carry `Retry-After` when given.
        case status(Int, retryAfterSeconds: Int? = nil)
        /// Delay the request, then serve it normally.
        case latency(Duration)
        /// Serve a watch, then close the stream after this long.
        case dropWatch(after: Duration)
    }

    public var verb: String?
    /// Plural resource name, e.g. `configmaps` (any group).
    public var resource: String?
    public var namespace: String?
    public var name: String?
    public var action: Action
    /// How many requests the rule applies to; nil = until removed.
    public var times: Int?

    public init(verb: String? = nil, resource: String? = nil, namespace: String? = nil, name: String? = nil, action: Action, times: Int? = nil) {
        self.verb = verb
        self.resource = resource
        self.namespace = namespace
        self.name = name
        self.action = action
        self.times = times
    }

    func matches(_ info: RequestInfo) -> Bool {
        if let verb, verb != info.verb { return false }
        if let resource, resource != info.resource { return false }
        if let namespace, namespace != info.namespace { return false }
        if let name, name != info.name { return false }
        return true
    }

    static func reason(for code: Int) -> String {
        let reason = KubeError.defaultReason(code)
        return reason == "Unknown" ? "" : reason
    }

    static func message(for code: Int) -> String {
        switch code {
        case 429: return "Too many requests, please try again later."
        case 500: return "Internal error occurred: injected fault"
        case 503: return "the server is currently unable to handle the request"
        case 504: return "the server was unable to return a response in the time allotted, but may still be processing the request"
        default: return "injected fault"
        }
    }
}

extension KubeAPIServer {
    /// Adds a fault rule; returns its id for `removeFault`.
    @discardableResult
    public func injectFault(_ rule: FaultRule) -> Int {
        state.withLock { s in
            s.nextFaultID += 1
            s.faults.append(IdentifiedFault(id: s.nextFaultID, rule: rule))
            return s.nextFaultID
        }
    }

    public func removeFault(_ id: Int) { state.withLock { $0.faults.removeAll { $0.id == id } } }

    public func clearFaults() { state.withLock { $0.faults.removeAll() } }

    /// How many requests the fault rule `id` has answered (also after it was used up or removed).
    public func faultHits(_ id: Int) -> Int { state.withLock { $0.faultHits[id] ?? 0 } }

    /// Requests served per "verb resource" (e.g. `patch deployments`, `watch configmaps`).
    public func requestCount(verb: String, resource: String) -> Int {
        state.withLock { $0.requestCounts["\(verb) \(resource)"] ?? 0 }
    }

    /// Every counter, keyed "verb resource" (with " (metadata)" for metadata-only reads).
    public func requestCounts() -> [String: Int] { state.withLock { $0.requestCounts } }

    public func resetRequestCounts() { state.withLock { $0.requestCounts.removeAll() } }

    /// Forgets the change log so that the next watch from an older resourceVersion gets 410 Expired.
    public func forceCompaction() { state.withLock { $0.compact() } }

    /// Closes every open watch stream, as a restarting API server would.
    public func dropWatches() {
        let open = state.withLock { s -> [WatchRegistration] in
            let w = Array(s.watchers.values)
            s.watchers.removeAll()
            return w
        }
        for w in open { w.continuation.finish() }
    }

    /// The current global resourceVersion.
    public var currentResourceVersion: Int64 { state.withLock { $0.resourceVersion } }

    /// Number of open watches.
    public var openWatches: Int { state.withLock { $0.watchers.count } }
}

struct IdentifiedFault: Sendable {
    var id: Int
    var rule: FaultRule
}
