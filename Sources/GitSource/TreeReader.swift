/// What reading a revision takes: its files (paths and blob ids) and their contents. The renderer
/// depends on this, not on a mirror; `GitMirror` is the implementation, and tests can hand the
/// renderer a tree held in memory.
public protocol TreeReader: Sendable {
    /// The files of `revision` under `paths` (all of them when empty), symbolic links and
    /// submodules left out.
    func files(at revision: String, paths: [String]) async throws(GitError) -> [GitFile]
    /// The contents of blobs by id; blobs larger than `maxSize` are not read, only their sizes
    /// returned.
    func blobs(_ ids: [String], maxSize: Int) async throws(GitError) -> (contents: [String: [UInt8]], oversized: [String: Int])
}

extension GitMirror: TreeReader {}
