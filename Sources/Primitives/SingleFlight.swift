import Synchronization

/// Concurrent calls for one key share one execution: the first starts the work, the others wait
/// for its result (value or error), and the first call after it finished starts anew. Nothing is
/// cached beyond that (callers keep what they want to keep).
///
/// The work runs in a task of its own. A waiter whose task is cancelled stops waiting at once
/// (it gets `CancellationError`) and the work goes on for the others; with `cancelWhenUnwanted`
/// the work is cancelled when its last waiter leaves (a registry scan nobody waits for any more),
/// without it the work finishes anyway (a discovery or a token that the next call will want).
public final class SingleFlight<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Flight {
        var id: Int
        var task: Task<Void, Never>?
        var waiters: [Int: CheckedContinuation<Value, any Error>] = [:]
    }

    private struct State {
        var flights: [Key: Flight] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())
    private let cancelWhenUnwanted: Bool

    public init(cancelWhenUnwanted: Bool = false) {
        self.cancelWhenUnwanted = cancelWhenUnwanted
    }

    /// How many keys have work in flight (for tests).
    public var inFlight: Int { state.withLock { $0.flights.count } }

    /// The result of `work` for `key`, shared with every concurrent call for the same key;
    /// `started` is true for the call whose `work` ran.
    public func run(_ key: Key, _ work: @escaping @Sendable () async throws -> Value) async throws -> (value: Value, started: Bool) {
        let waiter = state.withLock { s -> Int in
            s.nextID += 1
            return s.nextID
        }
        let started = Mutex(false)
        let value = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Value, any Error>) in
                state.withLock { s in
                    // Cancelled before waiting: the handler below already ran and found nothing.
                    if Task.isCancelled {
                        c.resume(throwing: CancellationError())
                        return
                    }
                    if s.flights[key] != nil {
                        s.flights[key]?.waiters[waiter] = c
                        return
                    }
                    s.nextID += 1
                    let id = s.nextID
                    s.flights[key] = Flight(id: id, waiters: [waiter: c])
                    s.flights[key]?.task = Task { [self] in
                        let result: Result<Value, any Error>
                        do { result = .success(try await work()) } catch { result = .failure(error) }
                        finish(key, id, result)
                    }
                    started.withLock { $0 = true }
                }
            }
        } onCancel: {
            leave(key, waiter)
        }
        return (value, started.withLock { $0 })
    }

    private func finish(_ key: Key, _ id: Int, _ result: Result<Value, any Error>) {
        let waiters = state.withLock { s -> [CheckedContinuation<Value, any Error>] in
            guard let flight = s.flights[key], flight.id == id else { return [] }
            s.flights[key] = nil
            return Array(flight.waiters.values)
        }
        for waiter in waiters { waiter.resume(with: result) }
    }

    private func leave(_ key: Key, _ waiter: Int) {
        let (continuation, unwanted) = state.withLock { s -> (CheckedContinuation<Value, any Error>?, Task<Void, Never>?) in
            guard let c = s.flights[key]?.waiters.removeValue(forKey: waiter) else { return (nil, nil) }
            guard cancelWhenUnwanted, s.flights[key]?.waiters.isEmpty == true else { return (c, nil) }
            // Nobody waits any more: the flight ends now, and a later call starts anew.
            return (c, s.flights.removeValue(forKey: key)?.task)
        }
        continuation?.resume(throwing: CancellationError())
        unwanted?.cancel()
    }
}
