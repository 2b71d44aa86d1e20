import Foundation
import Synchronization

/// Per receiver: deliveries already seen (a provider's retry or a replay is answered without
/// waking anyone; the last 1,024 ids each) and a token bucket (10 deliveries a second, bursts of
/// 20), so one noisy or hostile sender cannot keep instances polling. An entry is made only for
/// a delivery that passed its receiver's check, so memory is bounded by the receivers tenants made.
final class ReceiverGuard: Sendable {
    struct Receiver {
        var seen: Set<String> = []
        var order: [String] = []
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    let rate: Double
    let burst: Double
    let remember: Int
    private let receivers = Mutex<[String: Receiver]>([:])

    init(rate: Double = 10, burst: Double = 20, remember: Int = 1024) {
        (self.rate, self.burst, self.remember) = (rate, burst, remember)
    }

    enum Admission: Equatable { case admitted, replay, rateLimited }

    func admit(_ receiver: String, delivery: String?, now: ContinuousClock.Instant = .now) -> Admission {
        receivers.withLock { all in
            var r = all[receiver] ?? Receiver(tokens: burst, updated: now)
            let elapsed = now - r.updated
            r.tokens = min(burst, r.tokens + rate * (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
            r.updated = now
            defer { all[receiver] = r }
            if let delivery, r.seen.contains(delivery) { return .replay }
            guard r.tokens >= 1 else { return .rateLimited }
            r.tokens -= 1
            if let delivery {
                r.seen.insert(delivery)
                r.order.append(delivery)
                if r.order.count > remember { r.seen.remove(r.order.removeFirst()) }
            }
            return .admitted
        }
    }
}
