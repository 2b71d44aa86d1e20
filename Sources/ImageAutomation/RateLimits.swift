import Synchronization

/// Token buckets per registry host, shared by every instance of the process that talks to that
/// host (a registry's limits are per client address, not per instance). When instances configure
/// different rates for one host, the most conservative wins.
public final class HostRateLimits: Sendable {
    public static let shared = HostRateLimits()

    struct Bucket {
        var rate: Double
        var burst: Double
        var tokens: Double
        var updated: ContinuousClock.Instant
        /// The host said to wait (429 Retry-After): nobody asks before this.
        var blockedUntil: ContinuousClock.Instant?
    }

    private let buckets = Mutex<[String: Bucket]>([:])

    public init() {}

    /// Waits for a token of `host`'s bucket (created or tightened with `rps` and `burst`).
    public func acquire(host: String, rps: Double, burst: Int) async throws {
        while true {
            let wait: Duration = buckets.withLock { all in
                let now = ContinuousClock.now
                var b = all[host] ?? Bucket(rate: rps, burst: Double(burst), tokens: Double(burst), updated: now)
                b.rate = min(b.rate, max(0.01, rps))
                b.burst = min(b.burst, Double(max(1, burst)))
                b.tokens = min(b.burst, b.tokens + (now - b.updated).seconds * b.rate)
                b.updated = now
                defer { all[host] = b }
                if let until = b.blockedUntil, until > now { return until - now }
                b.blockedUntil = nil
                if b.tokens >= 1 {
                    b.tokens -= 1
                    return .zero
                }
                return .milliseconds(Int64(((1 - b.tokens) / b.rate) * 1000) + 1)
            }
            if wait == .zero { return }
            try await Task.sleep(for: wait)
        }
    }

    /// The host answered 429: every instance waits `delay` before its next request there.
    public func backOff(host: String, for delay: Duration) {
        buckets.withLock { all in
            guard var b = all[host] else { return }
            let until = ContinuousClock.now + delay
            b.blockedUntil = max(b.blockedUntil ?? until, until)
            b.tokens = 0
            all[host] = b
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
