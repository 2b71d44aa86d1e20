import AsyncHTTPClient
import Foundation
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import Primitives
import Synchronization

/// Sends notifications off the reconcilers' path: `enqueue` returns at once, a sync never waits.
/// Deliveries are deduplicated (the same event to the same address within a minute is sent once),
/// bounded (at most `perAddress` waiting per address and `capacity` in all: the oldest waiting
/// delivery of the address is dropped first, so a dead endpoint holds a fixed amount of memory),
/// sent four at a time with a 5 s deadline, and retried with backoff (1 s doubling, four attempts);
/// the last failure is handed to the delivery's `failed` (an Event on the FluxInstance).
/// Addresses on loopback, link-local and private networks are refused unless the install allows
/// them (a tenant's notification must not reach the pod's metadata server or the cluster's
/// insides).
public final class NotificationDispatcher: Sendable {
    public struct Delivery: Sendable {
        public var address: String
        public var headers: [String: String]
        public var body: [UInt8]
        /// Deliveries with the same key to the same address within a minute are one.
        public var dedupeKey: String
        /// What is delivered, for logs and messages (`slack notification`, `GitHub commit status`).
        public var what: String
        /// Called once with the reason when every attempt failed or the address was refused.
        public var failed: @Sendable (String) async -> Void
        var attempts = 0
        var notBefore = ContinuousClock.now

        public init(address: String, headers: [String: String], body: [UInt8], dedupeKey: String, what: String,
                    failed: @escaping @Sendable (String) async -> Void) {
            (self.address, self.headers, self.body, self.dedupeKey, self.what, self.failed) = (address, headers, body, dedupeKey, what, failed)
        }

        /// A notification to a provider.
        public init(address: String, provider: NotificationProvider, notification: Notification, token: String?,
                    failed: @escaping @Sendable (String) async -> Void) {
            let (body, headers) = provider.request(notification, token: token)
            self.init(address: address, headers: headers, body: body, dedupeKey: notification.dedupeKey,
                      what: "\(provider.rawValue) notification", failed: failed)
        }
    }

    struct State {
        var waiting: [Delivery] = []
        var recent: [String: ContinuousClock.Instant] = [:]
        var dropped = 0
        var sent = 0
    }

    let capacity: Int
    let perAddress: Int
    let allowPrivateNetworks: Bool
    /// The deadline of one attempt.
    let timeout: Duration
    let logger: Logger
    private let state = Mutex(State())
    private let signal: (stream: AsyncStream<Void>, continuation: AsyncStream<Void>.Continuation)
    static let retry = Backoff(base: .seconds(1), max: .seconds(30))
    static let maxAttempts = 4

    public init(allowPrivateNetworks: Bool = false, capacity: Int = 1000, perAddress: Int = 50, timeout: Duration = .seconds(5),
                logger: Logger = Logger(label: "flotilla")) {
        self.allowPrivateNetworks = allowPrivateNetworks
        self.timeout = timeout
        self.capacity = capacity
        self.perAddress = perAddress
        self.logger = logger
        signal = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Deliveries waiting, sent, and dropped by the bounds (for tests and metrics).
    public var counts: (waiting: Int, sent: Int, dropped: Int) { state.withLock { ($0.waiting.count, $0.sent, $0.dropped) } }

    public func enqueue(_ delivery: Delivery) {
        let now = ContinuousClock.now
        let key = delivery.address + "|" + delivery.dedupeKey
        let added = state.withLock { s -> Bool in
            if let at = s.recent[key], now - at < .seconds(60) { return false }
            s.recent[key] = now
            if s.recent.count > 4 * capacity { s.recent = s.recent.filter { now - $0.value < .seconds(60) } }
            if s.waiting.filter({ $0.address == delivery.address }).count >= perAddress, let oldest = s.waiting.firstIndex(where: { $0.address == delivery.address }) {
                s.waiting.remove(at: oldest)
                s.dropped += 1
                Self.counted(delivery.what, "dropped")
            } else if s.waiting.count >= capacity {
                s.waiting.removeFirst()
                s.dropped += 1
                Self.counted(delivery.what, "dropped")
            }
            s.waiting.append(delivery)
            return true
        }
        if added { signal.continuation.yield() }
    }

    /// Sends until cancelled (the supervisor runs it as a child task).
    public func run() async {
        let slots = Gate(permits: 4)
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let (due, next) = state.withLock { s -> ([Delivery], ContinuousClock.Instant?) in
                    let now = ContinuousClock.now
                    let due = s.waiting.filter { $0.notBefore <= now }
                    s.waiting.removeAll { $0.notBefore <= now }
                    return (due, s.waiting.map(\.notBefore).min())
                }
                for delivery in due {
                    await slots.acquire()
                    group.addTask {
                        defer { slots.release() }
                        await self.attempt(delivery)
                    }
                }
                if !due.isEmpty { continue }
                // Wait for a new delivery, or for the next retry to be due.
                await withTaskGroup(of: Void.self) { wait in
                    wait.addTask { [signal] in for await _ in signal.stream { return } }
                    if let next { wait.addTask { try? await Task.sleep(until: next) } }
                    await wait.next()
                    wait.cancelAll()
                }
            }
        }
    }

    func attempt(_ delivery: Delivery) async {
        var delivery = delivery
        delivery.attempts += 1
        let error: String?
        if let refusal = await AddressPolicy.refusal(delivery.address, allowPrivate: allowPrivateNetworks) {
            Self.counted(delivery.what, "refused")
            await delivery.failed("\(delivery.what): \(refusal)")
            return
        }
        error = await send(delivery)
        guard let error else {
            state.withLock { $0.sent += 1 }
            Self.counted(delivery.what, "sent")
            return
        }
        Self.counted(delivery.what, "error")
        if delivery.attempts >= Self.maxAttempts {
            logger.warning("delivery failed", metadata: ["what": "\(delivery.what)", "attempts": "\(delivery.attempts)", "error": "\(error)"])
            await delivery.failed("\(delivery.what) not delivered after \(delivery.attempts) attempts: \(error)")
            return
        }
        delivery.notBefore = ContinuousClock.now + Self.retry.delay(attempt: delivery.attempts - 1)
        state.withLock { $0.waiting.append(delivery) }
        signal.continuation.yield()
    }

    /// `flotilla_deliveries_total{what, result}`: sent, error (an attempt that failed), dropped
    /// (by the bounds), refused (the address rules).
    static func counted(_ what: String, _ result: String) {
        Counter(label: "flotilla_deliveries_total", dimensions: [("what", what), ("result", result)]).increment()
    }

    /// One POST; nil when the endpoint answered 2xx.
    func send(_ delivery: Delivery) async -> String? {
        var request = HTTPClientRequest(url: delivery.address)
        request.method = .POST
        request.headers.add(name: "User-Agent", value: "flotilla")
        for (name, value) in delivery.headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(delivery.body)
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: TimeAmount(timeout))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            return (200..<300).contains(Int(response.status.code)) ? nil : "HTTP \(response.status.code)"
        } catch {
            return "\(AddressPolicy.host(delivery.address) ?? "the address") did not answer: \(error)"
        }
    }
}
