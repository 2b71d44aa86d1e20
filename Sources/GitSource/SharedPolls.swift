import Primitives
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

    private struct State {
        var done: [Key: (heads: RemoteHeads, at: ContinuousClock.Instant)] = [:]
        var sweepAt = 64
    }

    private let state = Mutex(State())
    private let polls = SingleFlight<Key, RemoteHeads>()
    private let reusedCount = Atomic<Int>(0)
    /// Polls answered from another mirror's result or joined to its poll in flight.
    public var reused: Int { reusedCount.load(ordering: .relaxed) }

    public init() {}

    /// The remote's heads, at most `maxAge` old; `poll` asks the remote when needed. A poll with
    /// `maxAge` zero (a reconcile request, a retry, after a push) asks the remote itself and never
    /// joins one that may have started before what it must see.
    func heads(_ key: Key, maxAge: Duration, poll: @escaping @Sendable () async throws(GitError) -> RemoteHeads) async throws(GitError) -> RemoteHeads {
        let heads: RemoteHeads
        if maxAge > .zero {
            let now = ContinuousClock.now
            if let done = state.withLock({ $0.done[key] }), now - done.at <= maxAge {
                reusedCount.add(1, ordering: .relaxed)
                return done.heads
            }
            let polled: (value: RemoteHeads, started: Bool)
            do { polled = try await polls.run(key) { try await poll() } } catch { throw Self.gitError(error) }
            if !polled.started { reusedCount.add(1, ordering: .relaxed) }
            heads = polled.value
        } else {
            heads = try await poll()
        }
        record(key, heads)
        return heads
    }

    /// Keeps `heads` as the remote's answer now (a fetch saw them).
    func record(_ key: Key, _ heads: RemoteHeads) {
        state.withLock { s in
            let now = ContinuousClock.now
            s.done[key] = (heads, now)
            if s.done.count >= s.sweepAt { Self.sweep(&s, now: now) }
        }
    }

    /// Forgets what is known of a remote (after a push to it: the next poll must see the push).
    func invalidate(_ key: Key) {
        _ = state.withLock { $0.done.removeValue(forKey: key) }
    }

    private static func gitError(_ error: any Error) -> GitError {
        error as? GitError ?? (error is CancellationError ? GitError(.cancelled, "poll cancelled") : GitError(.other, "\(error)"))
    }

    /// Drops results older than a minute (no poll reuses one that old), then lets the table grow
    /// to twice what is left before the next sweep.
    private static func sweep(_ s: inout State, now: ContinuousClock.Instant) {
        s.done = s.done.filter { now - $0.value.at < .seconds(60) }
        s.sweepAt = max(64, s.done.count * 2)
    }
}
