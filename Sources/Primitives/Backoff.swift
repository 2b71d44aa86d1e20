/// Exponential backoff: `base` doubled per attempt, at most `max`, at least `min`, optionally
/// spread by a jitter factor. A value: the caller counts attempts, this only says how long.
public struct Backoff: Sendable, Equatable {
    public var base: Duration
    public var max: Duration
    public var min: Duration
    /// The delay is multiplied by a factor drawn from this range (nil: no jitter).
    public var jitter: ClosedRange<Double>?

    public init(base: Duration, max: Duration, min: Duration = .zero, jitter: ClosedRange<Double>? = nil) {
        self.base = base
        self.max = max
        self.min = min
        self.jitter = jitter
    }

    /// The delay before retry number `attempt` (0 for the first retry): `base × 2^attempt`, capped
    /// at `max`, jittered by `factor` (drawn from `jitter` when not given), then at least `min`.
    public func delay(attempt: Int, factor: Double? = nil) -> Duration {
        let doubled = base * (1 << Swift.min(Swift.max(attempt, 0), 30))
        var delay = doubled > max || doubled < .zero ? max : doubled
        if let jitter {
            let f = factor ?? Double.random(in: jitter)
            delay = delay * f
        }
        return delay < min ? min : delay
    }
}
