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

/// Runs blocking libgit2 work on a thread of its own, never on Swift's cooperative pool, so a
/// remote that never answers blocks only its own thread. The caller gets an answer when the work
/// finishes, when `timeout` passes, or when its task is cancelled — whichever comes first; the
/// callbacks then see `context.cancelled` and abort the transfer at the next chance.
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
                let thread = Thread {
                    let result = Result { try body() }
                    context.finished()
                    once.resume(result)
                }
                thread.name = "flotilla-git"
                thread.stackSize = 1 << 20
                thread.start()
                let nanos = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
                DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanos))) {
                    context.cancel()
                    once.resume(.failure(GitError(.timeout, "\(context.operation) timed out after \(timeout)")))
                }
            }
        } onCancel: {
            context.cancel()
            box.withLock { $0 }?.resume(.failure(GitError(.cancelled, "\(context.operation) cancelled")))
        }
    }
}
