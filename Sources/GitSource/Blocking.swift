import CLibGit2
import CSupport
import Foundation
import Primitives
import Synchronization

/// libgit2 set up once per process: initialised, and kept away from the user's git configuration
/// (global/XDG/system config, `$HOME/.ssh`) so instances see only what they are given.
public enum LibGit2 {
    static let ready: Bool = {
        git_libgit2_init()
        for level in [GIT_CONFIG_LEVEL_SYSTEM, GIT_CONFIG_LEVEL_XDG, GIT_CONFIG_LEVEL_GLOBAL, GIT_CONFIG_LEVEL_PROGRAMDATA] {
            _ = flotilla_git_set_search_path_empty(level.rawValue)
        }
        _ = flotilla_git_disable_owner_validation()
        _ = SocketStream.register()
        PooledSSHTransport.register()
        return true
    }()

    /// Makes libgit2 trust only the certificate authorities in `file` (PEM) for https, in this
    /// whole process: for benches and tests with a local CA. Instances use the system's.
    public static func trustOnly(certificateAuthorities file: String) throws(GitError) {
        _ = ready
        try check(flotilla_git_set_ssl_cert_file(file), "trust the certificate authorities in \(file)")
    }
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
                    let result = Result { try SocketStream.running(context, body) }
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

/// Threads for blocking git work: as many as there are operations in flight (never a queue: a
/// remote that hangs must not hold up anyone else's). A thread that finishes waits up to
/// `keepAlive` for the next operation, but at most `maxIdle` threads wait: after a burst (a
/// thousand first clones, a thousand polls falling due together) the rest exit at once, while
/// the usual concurrency of a storm (its syncs, their fetches and pushes) reuses threads. The most
/// recently idle thread is handed the next operation, so the others time out and exit.
final class GitThreads: Sendable {
    static let shared = GitThreads()
    let keepAlive: Duration = .seconds(30)
    let maxIdle: Int

    init(maxIdle: Int = 32) { self.maxIdle = maxIdle }

    /// Threads waiting for work now.
    var idleCount: Int { idle.withLock { $0.count } }
    /// Threads alive now (working or waiting).
    var threadCount: Int { alive.load(ordering: .relaxed) }
    private let alive = Atomic<Int>(0)

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
        alive.add(1, ordering: .relaxed)
        let thread = Thread { [self] in
            defer { alive.subtract(1, ordering: .relaxed) }
            // Named from inside: on Linux a thread otherwise keeps the name of the thread that
            // started it (a Swift concurrency worker), and `top -H` could not tell git work apart.
            flotilla_set_thread_name("flotilla-git")
            var work = first
            let me = Worker()
            while true {
                work()
                let waits = idle.withLock { list in
                    guard list.count < maxIdle else { return false }
                    list.append(me)
                    return true
                }
                if !waits { return }
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
        thread.stackSize = 1 << 20
        thread.start()
    }
}
