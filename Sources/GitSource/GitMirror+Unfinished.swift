import Synchronization

/// An operation that timed out on a remote that neither answers nor hangs up (see
/// `GitMirror.unfinished`).
extension GitMirror {
    /// Returns once no earlier operation still runs on its git thread, waiting for it up to this
    /// operation's own timeout: under a slow server, the next pass's fetch lets the one that timed
    /// out finish (often with the objects it came for) instead of starting another beside it. One
    /// that runs past that is `busy`.
    func waitForUnfinished(_ operation: String) async throws(GitError) {
        guard unfinished.load(ordering: .relaxed) > 0 else { return }
        let deadline = ContinuousClock.now + options.timeout
        while unfinished.load(ordering: .relaxed) > 0 {
            guard !Task.isCancelled else { throw GitError(.cancelled, "\(operation) \(GitURL.redacted(options.url)) cancelled") }
            guard ContinuousClock.now < deadline else {
                throw GitError(.busy, "\(operation) \(GitURL.redacted(options.url)): an earlier operation on this remote timed out and still waits for the server; not starting another until it ends")
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}
