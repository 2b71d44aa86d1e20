import Synchronization

/// An operation that timed out on a remote that neither answers nor hangs up (see
/// `GitMirror.unfinished`).
extension GitMirror {
    /// Returns once no earlier operation still runs on its git thread; one that keeps running past
    /// half a second (a remote that neither answers nor hangs up) is `busy`. A timed-out transfer
    /// that is still moving data ends by itself within that time: its callbacks see the
    /// cancellation.
    func waitForUnfinished(_ operation: String) async throws(GitError) {
        for _ in 0..<10 {
            if unfinished.load(ordering: .relaxed) == 0 { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
        guard unfinished.load(ordering: .relaxed) == 0 else {
            throw GitError(.busy, "\(operation) \(GitURL.redacted(options.url)): an earlier operation on this remote timed out and still waits for the server; not starting another until it ends")
        }
    }
}
