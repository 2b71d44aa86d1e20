/// A FIFO async semaphore: work that must not overlap (operations on one mirror, one instance's
/// renders or syncs) takes turns in arrival order; with more permits, a fair global limit (a slow
/// holder never lets later arrivals jump the queue).
public actor Gate {
    private var available: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init(permits: Int = 1) { available = max(1, permits) }

    public func acquire() async {
        if available > 0 {
            available -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    public func release() {
        if waiters.isEmpty { available += 1 } else { waiters.removeFirst().resume() }
    }
}
