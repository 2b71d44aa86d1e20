import Synchronization

/// A token bucket: `qps` tokens per second, at most `burst` saved up. Callers reserve a token and
/// sleep until it is theirs, so waiting requests are served in order without an actor hop.
public final class RateLimiter: Sendable {
    public let qps: Double
    public let burst: Int
    struct Bucket {
        var tokens: Double
        var last: ContinuousClock.Instant
    }
    private let bucket: Mutex<Bucket>

    public init(qps: Double, burst: Int) {
        self.qps = qps
        self.burst = max(1, burst)
        self.bucket = Mutex(Bucket(tokens: Double(max(1, burst)), last: .now))
    }

    /// Takes a token, returning how long the caller must wait before using it.
    func reserve() -> Duration {
        guard qps > 0 else { return .zero }
        return bucket.withLock { b in
            let now = ContinuousClock.now
            let elapsed = now - b.last
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            b.tokens = min(Double(burst), b.tokens + seconds * qps)
            b.last = now
            b.tokens -= 1
            if b.tokens >= 0 { return .zero }
            return .nanoseconds(Int64(-b.tokens / qps * 1e9))
        }
    }

    /// Waits for a token; throws CancellationError when the task is cancelled while waiting.
    public func acquire() async throws {
        let wait = reserve()
        if wait > .zero { try await Task.sleep(for: wait) }
    }
}
