import KubeModel
import Synchronization

/// What the emulated workload controllers remember between passes: when each object started
/// its current step (a Pod waiting to be Ready, a Job running, a rollout progressing), and which
/// objects a test or `flotilla dev --unhealthy` keeps from ever getting healthy.
struct WorkloadState: Sendable {
    /// uid → when the object (at the generation in the key) was first seen: `uid@generation`.
    var started: [String: ContinuousClock.Instant] = [:]
    /// `Kind/namespace/name` of objects kept unhealthy.
    var unhealthy: Set<String> = []
    /// Set when a workload kind changed, so the next pass has work.
    var dirty = false
    /// The earliest moment something becomes due (a Pod turning Ready, a deadline passing).
    var nextDue: ContinuousClock.Instant?

    static func key(kind: String, namespace: String, name: String) -> String { "\(kind)/\(namespace)/\(name)" }

    /// When `object` (at its generation) was first seen; records now on the first call.
    mutating func since(_ object: JSONValue, now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        let key = "\(ObjectMeta.uid(object))@\(object["metadata"]?["generation"]?.intValue ?? 0)"
        if let at = started[key] { return at }
        started[key] = now
        return now
    }

    /// Asks for a pass at `at` (the earliest asked wins).
    mutating func due(_ at: ContinuousClock.Instant) {
        nextDue = min(nextDue ?? at, at)
    }

    /// Forgets objects that are gone.
    mutating func forget(except uids: Set<String>) {
        started = started.filter { uids.contains(String($0.key.split(separator: "@").first ?? "")) }
    }
}

extension KubeAPIServer {
    /// The storage keys the workload controllers act on.
    static let workloadKeys: Set<String> = ["deployments.apps", "replicasets.apps", "pods", "jobs.batch", "persistentvolumeclaims",
                                            "statefulsets.apps", "daemonsets.apps"]

    /// Keeps an object from ever becoming healthy (its Pods never turn Ready, its Job fails, its
    /// claim stays Pending), or lets it go. `kind` as in the object (`Deployment`, `Job`, …).
    public func keepUnhealthy(kind: String, namespace: String, name: String, _ on: Bool = true) {
        state.withLock { s in
            let key = WorkloadState.key(kind: kind, namespace: namespace, name: name)
            if on { s.workloads.unhealthy.insert(key) } else { s.workloads.unhealthy.remove(key) }
            s.workloads.dirty = true
        }
    }

    func isKeptUnhealthy(_ s: State, _ object: JSONValue) -> Bool {
        s.workloads.unhealthy.contains(WorkloadState.key(kind: object["kind"]?.stringValue ?? "", namespace: ObjectMeta.namespace(object),
                                                         name: ObjectMeta.name(object)))
    }
}
