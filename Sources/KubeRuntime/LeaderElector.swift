import Foundation
import KubeClient
import KubeModel
import Logging
import ServiceLifecycle
import Synchronization

/// Leader election on a `coordination.k8s.io/v1` Lease, as client-go's: acquire when the lease is
/// free or expired, renew every `retryPeriod`, step down when renewal has failed for
/// `renewDeadline`, and release the lease on shutdown so a successor need not wait for expiry.
public final class LeaderElector: Service, Sendable {
    public struct Configuration: Sendable {
        public var namespace: String
        public var name: String
        public var identity: String
        public var leaseDuration: Duration = .seconds(15)
        public var renewDeadline: Duration = .seconds(10)
        public var retryPeriod: Duration = .seconds(2)

        public init(namespace: String, name: String, identity: String) {
            self.namespace = namespace
            self.name = name
            self.identity = identity
        }
    }

    public let configuration: Configuration
    let client: KubeClient
    let logger: Logger
    let leading: @Sendable () async -> Void
    private let state = Mutex((isLeader: false, transitions: 0))

    /// `whileLeading` runs while this candidate holds the lease and is cancelled when it loses it.
    public init(client: KubeClient, configuration: Configuration, logger: Logger? = nil, whileLeading: @escaping @Sendable () async -> Void) {
        self.client = client
        self.configuration = configuration
        self.logger = logger ?? Logger(label: "flotilla.leader")
        self.leading = whileLeading
    }

    public var isLeader: Bool { state.withLock { $0.isLeader } }
    /// How many times this candidate became leader.
    public var leaderships: Int { state.withLock { $0.transitions } }

    static func microTime(_ date: Date = Date()) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: date).replacingOccurrences(of: "Z", with: "000Z")
    }

    static func parseTime(_ s: String?) -> Date? {
        guard let s else { return nil }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var trimmed = s
        // MicroTime has six fractional digits; ISO8601DateFormatter reads three.
        if let dot = s.firstIndex(of: "."), let z = s.firstIndex(of: "Z"), s.distance(from: dot, to: z) > 4 {
            trimmed = String(s[..<s.index(dot, offsetBy: 4)]) + "Z"
        }
        if let d = f.date(from: trimmed) { return d }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: s)
    }

    /// Campaigns, leads while it holds the lease, and campaigns again when it loses it. On graceful
    /// shutdown it stops campaigning, lets `whileLeading` end (the work shuts down gracefully as
    /// well), and gives the lease back from this task, which graceful shutdown does not cancel, so a
    /// successor takes over at once. Cancelled instead, it just stops: the lease expires.
    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let acquired = (try? await cancelWhenGracefulShutdown { try await self.acquire() }) ?? false
            guard acquired, !Task.isShuttingDownGracefully else { break }
            await lead()
        }
        if !Task.isCancelled { await release() }
    }

    /// Tries until the lease is ours; returns false only on cancellation.
    func acquire() async throws -> Bool {
        while !Task.isCancelled {
            if await tryAcquireOrRenew() { return true }
            try await Task.sleep(for: configuration.retryPeriod)
        }
        return false
    }

    /// Holds the lease while running `whileLeading`; returns when the lease is lost, when the
    /// work ends (on graceful shutdown, or by itself) or on cancellation.
    func lead() async {
        state.withLock {
            $0.isLeader = true
            $0.transitions += 1
        }
        logger.info("became leader", metadata: ["lease": "\(configuration.namespace)/\(configuration.name)", "identity": "\(configuration.identity)"])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.leading() }
            group.addTask { await self.renewLoop() }
            // Whichever ends first (lost lease, or the work itself) ends both.
            _ = await group.next()
            group.cancelAll()
        }
        state.withLock { $0.isLeader = false }
        logger.info("stopped leading", metadata: ["lease": "\(configuration.namespace)/\(configuration.name)", "identity": "\(configuration.identity)"])
    }

    func renewLoop() async {
        var lastRenew = ContinuousClock.now
        while !Task.isCancelled {
            do { try await Task.sleep(for: configuration.retryPeriod) } catch { return }
            if await tryAcquireOrRenew() {
                lastRenew = .now
            } else if ContinuousClock.now - lastRenew > configuration.renewDeadline {
                logger.warning("lease renewal failed past the renew deadline; stepping down",
                               metadata: ["lease": "\(configuration.namespace)/\(configuration.name)"])
                return
            }
        }
    }

    /// One attempt: create the lease, take it over when expired, or renew it when ours.
    func tryAcquireOrRenew() async -> Bool {
        let now = Date()
        let seconds = Int(configuration.leaseDuration.components.seconds)
        do {
            var lease: Lease
            do {
                lease = try await client.get(Lease.self, name: configuration.name, namespace: configuration.namespace)
            } catch let e where e.isNotFound {
                let fresh = Lease(metadata: ObjectMeta(name: configuration.name, namespace: configuration.namespace),
                                  spec: .init(holderIdentity: configuration.identity, leaseDurationSeconds: seconds,
                                              acquireTime: Self.microTime(now), renewTime: Self.microTime(now), leaseTransitions: 0))
                _ = try await client.create(fresh)
                return true
            }
            var spec = lease.spec ?? Lease.Spec()
            let holder = spec.holderIdentity ?? ""
            if holder != configuration.identity && !holder.isEmpty {
                let renewed = Self.parseTime(spec.renewTime) ?? .distantPast
                let duration = TimeInterval(spec.leaseDurationSeconds ?? seconds)
                if renewed.addingTimeInterval(duration) > now { return false }
            }
            if holder != configuration.identity {
                spec.acquireTime = Self.microTime(now)
                spec.leaseTransitions = (spec.leaseTransitions ?? 0) + (holder.isEmpty && spec.leaseTransitions == nil ? 0 : 1)
            }
            spec.holderIdentity = configuration.identity
            spec.leaseDurationSeconds = seconds
            spec.renewTime = Self.microTime(now)
            lease.spec = spec
            // The update carries the resourceVersion we read: a racing candidate gets a 409.
            _ = try await client.update(lease)
            return true
        } catch {
            logger.debug("lease attempt failed", metadata: ["lease": "\(configuration.namespace)/\(configuration.name)", "error": "\(error)"])
            return false
        }
    }

    /// Gives the lease up (empty holder), so another candidate takes over at once.
    func release() async {
        do {
            var lease = try await client.get(Lease.self, name: configuration.name, namespace: configuration.namespace)
            guard lease.spec?.holderIdentity == configuration.identity else { return }
            lease.spec?.holderIdentity = ""
            lease.spec?.leaseDurationSeconds = 1
            lease.spec?.renewTime = Self.microTime()
            _ = try await client.update(lease)
            logger.info("released lease", metadata: ["lease": "\(configuration.namespace)/\(configuration.name)"])
        } catch {
            logger.warning("could not release lease", metadata: ["lease": "\(configuration.namespace)/\(configuration.name)", "error": "\(error)"])
        }
    }
}
