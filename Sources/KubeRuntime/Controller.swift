import Logging
import ServiceLifecycle

/// What a reconcile asks for next.
public struct ReconcileResult: Sendable, Equatable {
    /// Visit the key again after this long (level-based resync), even on success.
    public var requeueAfter: Duration?

    public init(requeueAfter: Duration? = nil) { self.requeueAfter = requeueAfter }
    public static let done = ReconcileResult()
}

/// A controller loop: `workers` tasks take keys from the queue and reconcile them. A key is never
/// reconciled by two workers at once; a failed reconcile is retried with per-key backoff.
public final class Controller<Key: Hashable & Sendable>: Service, Sendable {
    public let queue: WorkQueue<Key>
    public let workers: Int
    let name: String
    let logger: Logger
    let reconcile: @Sendable (Key) async throws -> ReconcileResult

    public init(name: String, workers: Int = 4, queue: WorkQueue<Key> = WorkQueue(), logger: Logger? = nil,
                reconcile: @escaping @Sendable (Key) async throws -> ReconcileResult) {
        self.name = name
        self.workers = max(1, workers)
        self.queue = queue
        self.logger = logger ?? Logger(label: "flotilla.controller")
        self.reconcile = reconcile
    }

    public func run() async throws {
        logger.debug("controller starting", metadata: ["controller": "\(name)", "workers": "\(workers)"])
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withDiscardingTaskGroup { group in
                    for _ in 0..<workers {
                        group.addTask { await self.work() }
                    }
                }
            } onCancel: {
                Task { await self.queue.shutdown() }
            }
        } onGracefulShutdown: {
            Task { await self.queue.shutdown() }
        }
        logger.debug("controller stopped", metadata: ["controller": "\(name)"])
    }

    func work() async {
        while let key = await queue.next() {
            do {
                let result = try await reconcile(key)
                await queue.forget(key)
                if let after = result.requeueAfter { await queue.add(key, after: after) }
            } catch {
                let retries = await queue.retries(key)
                logger.debug("reconcile failed", metadata: ["controller": "\(name)", "key": "\(key)", "retries": "\(retries)", "error": "\(error)"])
                await queue.addRateLimited(key)
            }
            await queue.done(key)
        }
    }
}
