import Primitives
/// A controller work queue, as client-go's: a key waiting is queued once however often it is
/// added; a key being processed is never handed out again until `done`, and if it was added
/// meanwhile it is queued again then; failures back off exponentially per key; `add(after:)`
/// schedules a later visit.
public actor WorkQueue<Key: Hashable & Sendable> {
    /// client-go's default: 100 ms doubling to 5 minutes, per key.
    public static var defaultBackoff: Backoff { Backoff(base: .milliseconds(100), max: .seconds(300)) }

    private var queue: [Key] = []
    private var head = 0
    private var dirty: Set<Key> = []
    private var processing: Set<Key> = []
    private var failures: [Key: Int] = [:]
    private var waiters: [CheckedContinuation<Key?, Never>] = []
    /// Delayed adds: their entries in the process's one heap timer.
    private var delayed: [Key: Int] = [:]
    private var shuttingDown = false
    public let backoff: Backoff

    public init(backoff: Backoff = defaultBackoff) {
        self.backoff = backoff
    }

    /// Number of keys waiting (not counting those being processed or delayed).
    public var depth: Int { queue.count - head }
    public var processingCount: Int { processing.count }

    public func add(_ key: Key) {
        guard !shuttingDown, !dirty.contains(key) else { return }
        dirty.insert(key)
        if processing.contains(key) { return }
        if !waiters.isEmpty {
            dirty.remove(key)
            processing.insert(key)
            waiters.removeFirst().resume(returning: key)
            return
        }
        queue.append(key)
    }

    /// Adds the key after a delay; an earlier pending delayed add of the same key wins.
    public func add(_ key: Key, after delay: Duration) {
        guard !shuttingDown else { return }
        if delay <= .zero { add(key); return }
        if delayed[key] != nil { return }
        delayed[key] = DeadlineTimer.shared.add(after: delay) { [weak self] in
            Task { await self?.fireDelayed(key) }
        }
    }

    private func fireDelayed(_ key: Key) {
        guard delayed.removeValue(forKey: key) != nil else { return }
        add(key)
    }

    /// Adds the key after its per-key exponential backoff (call on failure).
    public func addRateLimited(_ key: Key) {
        let n = failures[key, default: 0]
        failures[key] = n + 1
        add(key, after: backoff.delay(attempt: n))
    }

    /// The backoff a key would get now.
    public func retries(_ key: Key) -> Int { failures[key, default: 0] }

    /// Clears the failure history of a key (call on success).
    public func forget(_ key: Key) { failures[key] = nil }

    /// The next key to process, waiting for one; nil after shutdown.
    public func next() async -> Key? {
        if head < queue.count {
            let key = queue[head]
            head += 1
            if head > 1024 && head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
            dirty.remove(key)
            processing.insert(key)
            return key
        }
        if shuttingDown { return nil }
        return await withCheckedContinuation { waiters.append($0) }
    }

    /// Marks a key processed; if it was added meanwhile it is queued again.
    public func done(_ key: Key) {
        processing.remove(key)
        if dirty.contains(key) {
            if !waiters.isEmpty {
                dirty.remove(key)
                processing.insert(key)
                waiters.removeFirst().resume(returning: key)
            } else {
                queue.append(key)
            }
        }
    }

    /// Stops handing out keys: waiting workers get nil, delayed adds are dropped.
    public func shutdown() {
        shuttingDown = true
        for id in delayed.values { DeadlineTimer.shared.remove(id) }
        delayed.removeAll()
        for w in waiters { w.resume(returning: nil) }
        waiters.removeAll()
    }
}
