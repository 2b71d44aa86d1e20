import Foundation
import Metrics
import Sync
import Synchronization

/// The operator's metrics, through swift-metrics (the `flotilla run` command exports them in
/// Prometheus format at /metrics; without a metrics backend they cost nothing). Per-instance series
/// carry `namespace` and `name` labels and are destroyed when the instance's reconciler stops.
public final class OperatorMetrics: Sendable {
    /// Instances by readiness, from the last status each wrote.
    private let readiness = Mutex<(byInstance: [InstanceRef: Bool], ready: Int)>(([:], 0))
    let instancesReady = Gauge(label: "flotilla_instances", dimensions: [("ready", "true")])
    let instancesNotReady = Gauge(label: "flotilla_instances", dimensions: [("ready", "false")])
    /// Syncs waiting for one of the global sync slots.
    let queueDepth = Gauge(label: "flotilla_sync_queue_depth")
    private let waiting = Atomic<Int>(0)

    public init() {}

    func setReady(_ ref: InstanceRef, _ ready: Bool?) {
        let (yes, no) = readiness.withLock { r -> (Int, Int) in
            if r.byInstance[ref] == true { r.ready -= 1 }
            if ready == true { r.ready += 1 }
            r.byInstance[ref] = ready
            return (r.ready, r.byInstance.count - r.ready)
        }
        instancesReady.record(yes)
        instancesNotReady.record(no)
    }

    /// `flotilla_webhook_deliveries_total{receiver, result}`: accepted, rejected, ignored,
    /// replay, limited.
    func webhook(receiver: String, result: String) {
        Counter(label: "flotilla_webhook_deliveries_total", dimensions: [("receiver", receiver), ("result", result)]).increment()
    }

    func waitingForSlot(_ delta: Int) {
        let now = waiting.add(delta, ordering: .relaxed).newValue
        queueDepth.record(now)
        if delta > 0 { started.add(1, ordering: .relaxed) }
    }

    /// Syncs started in this process (the supervisor trims memory only after some ran).
    var syncsStarted: Int { started.load(ordering: .relaxed) }
    private let started = Atomic<Int>(0)

    /// One instance's series.
    final class Instance: Sendable {
        let syncDuration: Metrics.Timer
        let syncsSucceeded: Counter
        let syncsFailed: Counter
        let applied: Counter
        let pruned: Counter
        let fetchDuration: Metrics.Timer
        let gitErrors: Counter
        /// Health and drift series, made on the first non-zero value: most instances are healthy
        /// and never drift, and a thousand idle series cost megabytes (absent means zero).
        private let healthSeries = Mutex<(drifted: Gauge?, corrections: Counter?, unhealthy: Gauge?)>((nil, nil, nil))
        let dimensions: [(String, String)]

        init(_ ref: InstanceRef) {
            let d = [("namespace", ref.namespace), ("name", ref.name)]
            syncDuration = Metrics.Timer(label: "flotilla_sync_duration_seconds", dimensions: d, preferredDisplayUnit: .seconds)
            syncsSucceeded = Counter(label: "flotilla_syncs_total", dimensions: d + [("result", "success")])
            syncsFailed = Counter(label: "flotilla_syncs_total", dimensions: d + [("result", "failure")])
            applied = Counter(label: "flotilla_objects_applied_total", dimensions: d)
            pruned = Counter(label: "flotilla_objects_pruned_total", dimensions: d)
            fetchDuration = Metrics.Timer(label: "flotilla_git_fetch_duration_seconds", dimensions: d, preferredDisplayUnit: .seconds)
            gitErrors = Counter(label: "flotilla_git_errors_total", dimensions: d)
            dimensions = d
        }

        /// Objects the last sync found drifted, and how many it put back.
        func drift(found: Int, corrected: Int) {
            let dimensions = dimensions
            healthSeries.withLock { s in
                if found > 0 && s.drifted == nil { s.drifted = Gauge(label: "flotilla_drifted_objects", dimensions: dimensions) }
                if corrected > 0 && s.corrections == nil { s.corrections = Counter(label: "flotilla_drift_corrections_total", dimensions: dimensions) }
                s.drifted?.record(found)
                if corrected > 0 { s.corrections?.increment(by: corrected) }
            }
        }

        /// Applied objects not healthy now.
        func unhealthy(_ count: Int) {
            let dimensions = dimensions
            healthSeries.withLock { s in
                if count > 0 && s.unhealthy == nil { s.unhealthy = Gauge(label: "flotilla_unhealthy_objects", dimensions: dimensions) }
                s.unhealthy?.record(count)
            }
        }

        func synced(_ result: SyncResult, duration: Duration) {
            syncDuration.recordNanoseconds(duration.nanoseconds)
            syncsSucceeded.increment()
            applied.increment(by: result.count(.created) + result.count(.configured))
            pruned.increment(by: result.count(.deleted))
        }

        func fetched(duration: Duration) {
            fetchDuration.recordNanoseconds(duration.nanoseconds)
        }

        func gitFailed() {
            gitErrors.increment()
        }

        func syncFailed(duration: Duration) {
            syncDuration.recordNanoseconds(duration.nanoseconds)
            syncsFailed.increment()
        }

        /// Removes the series (the instance is gone from this operator).
        func destroy() {
            for timer in [syncDuration, fetchDuration] { timer.destroy() }
            for counter in [syncsSucceeded, syncsFailed, applied, pruned, gitErrors] { counter.destroy() }
            healthSeries.withLock { s in
                s.drifted?.destroy()
                s.corrections?.destroy()
                s.unhealthy?.destroy()
            }
        }
    }
}

extension Duration {
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}
