import Synchronization

/// One pause that ends when its time has passed or when `end()` is called, whichever comes first.
/// The timer thread resumes the waiter itself: ending a pause is one hand-off to Swift's worker
/// threads, with no task created for it (a thousand reconcilers pause this way between passes).
public final class TimedPause: Sendable {
    private enum State {
        case ready
        case waiting(CheckedContinuation<Void, Never>, timer: Int?)
        case ended
    }
    private let state = Mutex(State.ready)
    private let timer: DeadlineTimer

    public init(timer: DeadlineTimer = .shared) { self.timer = timer }

    /// Waits until `delay` has passed (up to `slack` less: see `DeadlineTimer`) or `end()` is
    /// called. Returns at once if `end()` was called before.
    public func wait(for delay: Duration, slack: Duration = .zero, isolation: isolated (any Actor)? = #isolation) async {
        await withCheckedContinuation(isolation: isolation) { (continuation: CheckedContinuation<Void, Never>) in
            let waits = state.withLock { s -> Bool in
                guard case .ready = s else { return false }
                s = .waiting(continuation, timer: nil)
                return true
            }
            guard waits else { return continuation.resume() }
            let id = timer.add(after: delay, slack: slack) { [self] in _ = finish(removingTimer: false) }
            // Ended between the two locks: the timer entry is removed here instead.
            let stale = state.withLock { s -> Bool in
                guard case .waiting(let c, nil) = s else { return true }
                s = .waiting(c, timer: id)
                return false
            }
            if stale { timer.remove(id) }
        }
    }

    /// Ends the pause (or the next wait, if none has started). False when it had already ended.
    @discardableResult
    public func end() -> Bool { finish(removingTimer: true) }

    private func finish(removingTimer: Bool) -> Bool {
        let previous = state.withLock { s -> State in
            defer { s = .ended }
            return s
        }
        switch previous {
        case .ended:
            return false
        case .ready:
            return true
        case .waiting(let continuation, let id):
            if removingTimer, let id { timer.remove(id) }
            continuation.resume()
            return true
        }
    }
}
