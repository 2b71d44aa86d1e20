import KubeModel

/// The health of one applied object, as kstatus computes it (sigs.k8s.io/cli-utils/pkg/kstatus):
/// `current` when the object is what it was asked to be (a Deployment rolled out, a Job complete,
/// a claim bound), `inProgress` while it gets there, `failed` when it will not without help
/// (a rollout past its progress deadline, a failed Job, `Stalled=True`).
public enum HealthStatus: String, Sendable, Codable, Comparable {
    case current = "Current"
    case inProgress = "InProgress"
    case failed = "Failed"
    /// The object could not be read (it is absent, or the identity may not read it).
    case unknown = "Unknown"

    /// Worse sorts later: current < inProgress < unknown < failed.
    var rank: Int {
        switch self {
        case .current: return 0
        case .inProgress: return 1
        case .unknown: return 2
        case .failed: return 3
        }
    }

    public static func < (a: HealthStatus, b: HealthStatus) -> Bool { a.rank < b.rank }
}

/// One object's health with why (a short reason and a message naming what is missing).
public struct ObjectHealth: Sendable, Equatable {
    public var status: HealthStatus
    /// A CamelCase reason (`Progressing`, `ProgressDeadlineExceeded`, `JobFailed`, `NotBound`, …).
    public var reason: String
    public var message: String

    public init(_ status: HealthStatus, reason: String = "", message: String = "") {
        self.status = status
        self.reason = reason
        self.message = message
    }

    public static let current = ObjectHealth(.current, reason: "Current", message: "")

    /// The health of a live object (pure: the object as read is all it needs).
    public static func of(_ object: JSONValue) -> ObjectHealth {
        HealthRules.assess(object)
    }
}

/// The health of what a revision applied, summed up: the worst of its objects, and the ones
/// that are not current (at most `limit` of them named).
public struct HealthSummary: Sendable, Equatable {
    public enum State: String, Sendable, Codable {
        /// Every object is current.
        case healthy = "Healthy"
        /// Some object is still getting there (within the health timeout).
        case progressing = "Progressing"
        /// Some object failed, or did not get there within the health timeout.
        case degraded = "Degraded"
    }

    public var state: State
    /// The objects that are not current, worst first, then by id.
    public var unhealthy: [(id: ResourceID, health: ObjectHealth)]
    public var total: Int

    public static func == (a: HealthSummary, b: HealthSummary) -> Bool {
        a.state == b.state && a.total == b.total && a.unhealthy.map(\.id) == b.unhealthy.map(\.id)
            && a.unhealthy.map(\.health) == b.unhealthy.map(\.health)
    }

    /// Sums up `objects`; `timedOut` turns objects still in progress into a degraded state.
    public init(_ objects: [ResourceID: ObjectHealth], timedOut: Bool = false) {
        self.init(unhealthy: objects.filter { $0.value.status != .current }, total: objects.count, timedOut: timedOut)
    }

    /// Sums up `total` objects of which only `unhealthy` are not current.
    public init(unhealthy objects: [ResourceID: ObjectHealth], total: Int, timedOut: Bool = false) {
        self.total = total
        unhealthy = objects.filter { $0.value.status != .current }
            .map { (id: $0.key, health: $0.value) }
            .sorted { ($1.health.status, $0.id) < ($0.health.status, $1.id) }
        if unhealthy.isEmpty {
            state = .healthy
        } else if timedOut || unhealthy.contains(where: { $0.health.status == .failed }) {
            state = .degraded
        } else {
            state = .progressing
        }
    }
}
