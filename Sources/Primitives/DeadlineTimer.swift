import CSupport
import Foundation
import Synchronization

/// Deadlines, enforced by one thread that sleeps until the earliest: the timeouts of git
/// operations, and the pauses of a thousand idle reconcilers, without a dispatch timer (and its
/// bookkeeping on libdispatch's manager thread) for each. `fire` runs on that thread: it must be
/// quick and must not block (hand work to a task).
///
/// A deadline may carry slack: it may then fire up to that much early, when the thread is awake
/// for another deadline anyway (at most `maxEarly` at once). A thousand pauses spread over a minute
/// then end in about one burst a second, each one wake of this thread and of Swift's worker
/// threads, instead of one wake each.
public final class DeadlineTimer: Sendable {
    public static let shared = DeadlineTimer()

    private struct State {
        /// Pending callbacks by id; an id missing here was removed (its heap entry is stale).
        var fires: [Int: @Sendable () -> Void] = [:]
        /// A binary min-heap of (deadline, id), each with the earliest it may fire (its slack).
        var heap: [Entry] = []
        var next = 0
        var running = false

        struct Entry {
            var at: ContinuousClock.Instant
            var from: ContinuousClock.Instant
            var id: Int
        }

        mutating func push(_ entry: Entry) {
            heap.append(entry)
            var i = heap.count - 1
            while i > 0 {
                let parent = (i - 1) / 2
                guard heap[i].at < heap[parent].at else { break }
                heap.swapAt(i, parent)
                i = parent
            }
        }

        mutating func pop() {
            heap.swapAt(0, heap.count - 1)
            heap.removeLast()
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var smallest = i
                if l < heap.count && heap[l].at < heap[smallest].at { smallest = l }
                if r < heap.count && heap[r].at < heap[smallest].at { smallest = r }
                guard smallest != i else { return }
                heap.swapAt(i, smallest)
                i = smallest
            }
        }

        /// Drops stale entries from the top; the earliest live deadline.
        mutating func earliest() -> ContinuousClock.Instant? {
            while let top = heap.first, fires[top.id] == nil { pop() }
            return heap.first?.at
        }
    }
    private let state = Mutex(State())
    /// The most deadlines that fire early in one wake (see `add`'s slack).
    public static let maxEarly = 16
    private let condition = NSCondition()

    /// A timer of its own (its thread starts with the first deadline); most code uses `shared`.
    public init() {}

    /// Registers `fire` to run once `timeout` has passed (unless removed first), or up to `slack`
    /// earlier when the timer fires another deadline then.
    public func add(after timeout: Duration, slack: Duration = .zero, _ fire: @escaping @Sendable () -> Void) -> Int {
        let at = ContinuousClock.now + timeout
        condition.lock()
        defer { condition.unlock() }
        let (id, start, wake) = state.withLock { s -> (Int, Bool, Bool) in
            s.next += 1
            // The timer thread sleeps until the earliest deadline: only an earlier one wakes it.
            let wake = s.earliest().map { at < $0 } ?? true
            s.fires[s.next] = fire
            s.push(.init(at: at, from: at - max(slack, .zero), id: s.next))
            defer { s.running = true }
            return (s.next, !s.running, wake)
        }
        if start {
            let thread = Thread { [self] in
                // Named from inside (on Linux a thread otherwise keeps its starter's name).
                flotilla_set_thread_name("flotilla-timer")
                loop()
            }
            thread.stackSize = 256 << 10
            thread.start()
        }
        if wake { condition.signal() }
        return id
    }

    public func remove(_ id: Int) {
        _ = state.withLock { $0.fires.removeValue(forKey: id) }
    }

    private func loop() {
        while true {
            condition.lock()
            let now = ContinuousClock.now
            let (due, earliest) = state.withLock { s -> ([@Sendable () -> Void], ContinuousClock.Instant?) in
                var due: [@Sendable () -> Void] = []
                while s.earliest() != nil, s.heap[0].at <= now {
                    if let fire = s.fires.removeValue(forKey: s.heap[0].id) { due.append(fire) }
                    s.pop()
                }
                // With something due, the thread is awake anyway: up to `maxEarly` more whose
                // slack has begun fire with it (the top's slack is looked at, not that of entries
                // below a top that may not fire yet). The cap bounds a burst, whatever the number
                // of deadlines.
                var early = 0
                while !due.isEmpty, early < Self.maxEarly, s.earliest() != nil, s.heap[0].from <= now {
                    if let fire = s.fires.removeValue(forKey: s.heap[0].id) {
                        due.append(fire)
                        early += 1
                    }
                    s.pop()
                }
                // Removed entries (git operations that finished long before their timeout) stay in
                // the heap until they reach the top; when they far outnumber the live ones, drop them.
                if s.heap.count > 4096 && s.heap.count > 8 * s.fires.count {
                    let live = s.heap.filter { s.fires[$0.id] != nil }.sorted { $0.at < $1.at }
                    s.heap = live  // a sorted array is a valid min-heap
                }
                return (due, s.earliest())
            }
            if due.isEmpty {
                let wait = earliest.map { now.duration(to: $0) } ?? .seconds(60)
                let seconds = Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18
                _ = condition.wait(until: Date(timeIntervalSinceNow: max(0.001, seconds)))
            }
            condition.unlock()
            for fire in due { fire() }
        }
    }
}
