import CLibGit2
import Foundation
import Synchronization

/// libgit2 set up once per process: initialised, and kept away from the user's git configuration
/// (global/XDG/system config, `$HOME/.ssh`) so instances see only what they are given.
enum LibGit2 {
    static let ready: Bool = {
        git_libgit2_init()
        for level in [GIT_CONFIG_LEVEL_SYSTEM, GIT_CONFIG_LEVEL_XDG, GIT_CONFIG_LEVEL_GLOBAL, GIT_CONFIG_LEVEL_PROGRAMDATA] {
            _ = flotilla_git_set_search_path_empty(level.rawValue)
        }
        _ = flotilla_git_disable_owner_validation()
        return true
    }()
}

/// Runs blocking libgit2 work on a git thread, never on Swift's cooperative pool, so a remote that
/// never answers blocks only its own thread. The caller gets an answer when the work finishes, when
/// `timeout` passes, or when its task is cancelled — whichever comes first; the callbacks then see
/// `context.cancelled` and abort the transfer at the next chance.
///
/// Threads are reused: one that finishes waits a while for the next operation before it exits, so
/// a thousand instances polling every minute do not create and destroy a thread (and map and unmap
/// its stack) per poll. One watchdog thread enforces every deadline.
enum Blocking {
    /// Resumes a continuation exactly once.
    final class Once<T: Sendable>: Sendable {
        let continuation: Mutex<CheckedContinuation<T, any Error>?>
        init(_ c: CheckedContinuation<T, any Error>) { continuation = Mutex(c) }
        func resume(_ result: Result<T, any Error>) {
            continuation.withLock { c in
                c?.resume(with: result)
                c = nil
            }
        }
    }

    static func run<T: Sendable>(timeout: Duration, context: CallbackContext, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        _ = LibGit2.ready
        let box = Mutex<Once<T>?>(nil)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
                let once = Once(c)
                box.withLock { $0 = once }
                let deadline = DeadlineTimer.shared.add(after: timeout) {
                    context.cancel()
                    once.resume(.failure(GitError(.timeout, "\(context.operation) timed out after \(timeout)")))
                }
                GitThreads.shared.submit {
                    let result = Result { try body() }
                    context.finished()
                    DeadlineTimer.shared.remove(deadline)
                    once.resume(result)
                }
            }
        } onCancel: {
            context.cancel()
            box.withLock { $0 }?.resume(.failure(GitError(.cancelled, "\(context.operation) cancelled")))
        }
    }
}

/// Threads for blocking git work: as many as there are operations in flight. A thread that
/// finishes waits up to `keepAlive` for the next operation; the most recently idle one is handed
/// the next operation, so after a burst (a thousand first clones) the others time out and exit.
final class GitThreads: Sendable {
    static let shared = GitThreads()
    let keepAlive: Duration = .seconds(30)

    /// An idle thread: it sleeps on its semaphore until handed work.
    final class Worker: Sendable {
        let wakeUp = DispatchSemaphore(value: 0)
        let work = Mutex<(@Sendable () -> Void)?>(nil)
    }
    private let idle = Mutex<[Worker]>([])

    func submit(_ work: @escaping @Sendable () -> Void) {
        let worker = idle.withLock { $0.popLast() }
        guard let worker else { return startThread(work) }
        worker.work.withLock { $0 = work }
        worker.wakeUp.signal()
    }

    private func startThread(_ first: @escaping @Sendable () -> Void) {
        let thread = Thread { [self] in
            var work = first
            let me = Worker()
            while true {
                work()
                idle.withLock { $0.append(me) }
                let nanos = Int(keepAlive.components.seconds) * 1_000_000_000
                if me.wakeUp.wait(timeout: .now() + .nanoseconds(nanos)) == .timedOut {
                    let retired = idle.withLock { list -> Bool in
                        guard let i = list.firstIndex(where: { $0 === me }) else { return false }
                        list.remove(at: i)
                        return true
                    }
                    if retired { return }
                    // Handed work just as the wait ended: its signal is on the way.
                    me.wakeUp.wait()
                }
                guard let next = me.work.withLock({ w -> (@Sendable () -> Void)? in defer { w = nil }; return w }) else { return }
                work = next
            }
        }
        thread.name = "flotilla-git"
        thread.stackSize = 1 << 20
        thread.start()
    }
}

/// Deadlines, enforced by one thread that sleeps until the earliest: the timeouts of git
/// operations, and the pauses of a thousand idle reconcilers, without a dispatch timer (and its
/// bookkeeping on libdispatch's manager thread) for each. `fire` runs on that thread: it must be
/// quick and must not block (hand work to a task).
public final class DeadlineTimer: Sendable {
    public static let shared = DeadlineTimer()

    private struct State {
        /// Pending callbacks by id; an id missing here was removed (its heap entry is stale).
        var fires: [Int: @Sendable () -> Void] = [:]
        /// A binary min-heap of (deadline, id).
        var heap: [(at: ContinuousClock.Instant, id: Int)] = []
        var next = 0
        var running = false

        mutating func push(_ entry: (at: ContinuousClock.Instant, id: Int)) {
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
    private let condition = NSCondition()

    /// A timer of its own (its thread starts with the first deadline); most code uses `shared`.
    public init() {}

    /// Registers `fire` to run once `timeout` has passed (unless removed first).
    public func add(after timeout: Duration, _ fire: @escaping @Sendable () -> Void) -> Int {
        let at = ContinuousClock.now + timeout
        condition.lock()
        defer { condition.unlock() }
        let (id, start, wake) = state.withLock { s -> (Int, Bool, Bool) in
            s.next += 1
            // The timer thread sleeps until the earliest deadline: only an earlier one wakes it.
            let wake = s.earliest().map { at < $0 } ?? true
            s.fires[s.next] = fire
            s.push((at, s.next))
            defer { s.running = true }
            return (s.next, !s.running, wake)
        }
        if start {
            let thread = Thread { [self] in loop() }
            thread.name = "flotilla-timer"
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
                while let at = s.earliest(), at <= now {
                    if let fire = s.fires.removeValue(forKey: s.heap[0].id) { due.append(fire) }
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
