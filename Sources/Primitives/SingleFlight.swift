import Synchronization

/// Concurrent calls for one key share one execution: the first starts the work, the others wait
/// for its result (value or error), and the first call after it finished starts anew. Nothing is
/// cached beyond that (callers keep what they want to keep). The work runs in a task of its own:
/// a waiter's cancellation does not cancel it for the others.
public final class SingleFlight<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let flights = Mutex<[Key: Task<Value, any Error>]>([:])

    public init() {}

    /// How many keys have work in flight (for tests).
    public var inFlight: Int { flights.withLock { $0.count } }

    /// The result of `work` for `key`, shared with every concurrent call for the same key;
    /// `started` is true for the call whose `work` ran.
    public func run(_ key: Key, _ work: @escaping @Sendable () async throws -> Value) async throws -> (value: Value, started: Bool) {
        let (task, started) = flights.withLock { f -> (Task<Value, any Error>, Bool) in
            if let running = f[key] { return (running, false) }
            let task = Task { try await work() }
            f[key] = task
            return (task, true)
        }
        defer {
            // The first waiter back ends the flight (the task is done by then).
            flights.withLock { f in if f[key] == task { f[key] = nil } }
        }
        return (try await task.value, started)
    }
}
