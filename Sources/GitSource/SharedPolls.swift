import Synchronization

/// `ls-remote` results shared between mirrors of the same remote polled with the same credentials
/// and known hosts: many instances syncing one repository (different paths of a monorepo, one
/// platform repository per team) ask the git host once per `maxAge`, not once each. Keyed by what
/// decides the answer, so an instance never sees a result its own credentials would not have
/// produced. Only successes are kept (an error is each instance's own to report); a poll already
/// in flight for the key is joined instead of repeated. Entries live for `maxAge` of the request
/// that reads them and are swept when the table grows, so memory is one entry per distinct remote
/// polled recently.
public final class SharedPolls: Sendable {
    public static let shared = SharedPolls()

    struct Key: Hashable {
        var url: String
        var credentials: GitCredentials
        var knownHosts: String
    }

    private enum Entry {
        case done(RemoteHeads, at: ContinuousClock.Instant)
        case running(Task<RemoteHeads, any Error>, id: Int)
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        var nextID = 0
        var sweepAt = 64
    }

    private let state = Mutex(State())
    private let reusedCount = Atomic<Int>(0)
    /// Polls answered from another mirror's result or joined to its poll in flight.
    public var reused: Int { reusedCount.load(ordering: .relaxed) }

    public init() {}

    /// The remote's heads, at most `maxAge` old; `poll` asks the remote when needed.
    func heads(_ key: Key, maxAge: Duration, poll: @escaping @Sendable () async throws(GitError) -> RemoteHeads) async throws(GitError) -> RemoteHeads {
        let now = ContinuousClock.now
        enum Plan { case cached(RemoteHeads), join(Task<RemoteHeads, any Error>), run(Task<RemoteHeads, any Error>, Int) }
        let plan: Plan = state.withLock { s in
            switch s.entries[key] {
            case .done(let heads, let at)? where maxAge > .zero && now - at <= maxAge:
                return .cached(heads)
            case .running(let task, _)? where maxAge > .zero:
                return .join(task)
            default:
                s.nextID += 1
                let task = Task<RemoteHeads, any Error> { try await poll() }
                s.entries[key] = .running(task, id: s.nextID)
                if s.entries.count >= s.sweepAt { Self.sweep(&s, now: now) }
                return .run(task, s.nextID)
            }
        }
        switch plan {
        case .cached(let heads):
            reusedCount.add(1, ordering: .relaxed)
            return heads
        case .join(let task):
            reusedCount.add(1, ordering: .relaxed)
            return try await Self.value(task)
        case .run(let task, let id):
            do {
                let heads = try await Self.value(task)
                state.withLock { s in
                    if case .running(_, let current)? = s.entries[key], current == id { s.entries[key] = .done(heads, at: .now) }
                }
                return heads
            } catch {
                state.withLock { s in
                    if case .running(_, let current)? = s.entries[key], current == id { s.entries[key] = nil }
                }
                throw error
            }
        }
    }

    /// Forgets what is known of a remote (after a push to it: the next poll must see the push).
    func invalidate(_ key: Key) {
        _ = state.withLock { $0.entries.removeValue(forKey: key) }
    }

    private static func value(_ task: Task<RemoteHeads, any Error>) async throws(GitError) -> RemoteHeads {
        do { return try await task.value } catch let e as GitError { throw e } catch { throw GitError(.other, "\(error)") }
    }

    /// Drops results older than a minute (no poll reuses one that old), then lets the table grow
    /// to twice what is left before the next sweep.
    private static func sweep(_ s: inout State, now: ContinuousClock.Instant) {
        s.entries = s.entries.filter { _, entry in
            if case .done(_, let at) = entry { return now - at < .seconds(60) }
            return true
        }
        s.sweepAt = max(64, s.entries.count * 2)
    }
}
