import Synchronization

/// Folding a mirror's packs after a fetch (`PackFolding`, `MirrorPacks`).
extension GitMirror {
    /// The fold a fetch made (or failed to make) since the last call, for the caller to log. A
    /// failed fold leaves the mirror as the fetch left it: the fetch itself succeeded.
    public func takePackFold() -> Result<PackFold, GitError>? {
        lastFold.withLock { fold in
            defer { fold = nil }
            return fold
        }
    }

    /// Folds the mirror's packs as `policy` decides: an operation of its own after the fetch that
    /// found it due, with its own timeout, so a long fold is never taken for a failed fetch.
    func foldPacks(_ policy: PackFolding) async {
        let path = path
        let result: Result<PackFold, GitError>?
        do {
            result = try await run("fold packs") { _ throws(GitError) in
                try MirrorPacks(repositoryPath: path).foldIfDue(Repository.openOrCreate(path), policy: policy)
            }.map { .success($0) }
        } catch {
            result = .failure(error)
        }
        if let result { lastFold.withLock { $0 = result } }
    }
}
