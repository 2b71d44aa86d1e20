import Synchronization

/// A FIFO async semaphore: work that must not overlap (operations on one mirror, one instance's
/// renders or syncs) takes turns in arrival order; with more permits, a fair global limit (a slow
/// holder never lets later arrivals jump the queue). `acquire` suspends only when no permit is
/// free; `release` is synchronous (callable from `defer`) and hands the permit straight to the
/// oldest waiter. Not an actor: an uncontended acquire/release is two mutex operations with no
/// executor hop, which matters on the idle path (every poll takes its mirror's gate).
public final class Gate: Sendable {
    private struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
        var head = 0  // waiters before `head` were resumed (amortised O(1) dequeue)
    }

    private let state: Mutex<State>

    public init(permits: Int = 1) { state = Mutex(State(available: max(1, permits))) }

    public func acquire() async {
        let acquired = state.withLock { s in
            guard s.available > 0 else { return false }
            s.available -= 1
            return true
        }
        if acquired { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s in
                // A release may have come between the first check and here.
                if s.available > 0 {
                    s.available -= 1
                    return true
                }
                s.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    public func release() {
        let next: CheckedContinuation<Void, Never>? = state.withLock { s in
            guard s.head < s.waiters.count else {
                s.available += 1
                return nil
            }
            let waiter = s.waiters[s.head]
            s.head += 1
            if s.head == s.waiters.count {
                s.waiters.removeAll(keepingCapacity: false)
                s.head = 0
            } else if s.head >= 64 && s.head * 2 >= s.waiters.count {
                s.waiters.removeFirst(s.head)
                s.head = 0
            }
            return waiter
        }
        next?.resume()
    }
}
