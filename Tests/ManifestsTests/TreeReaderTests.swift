import GitSource
import GitTesting
import Logging
import Manifests
import Testing

/// A revision held in memory: the renderer reads trees through `TreeReader`, not from a mirror.
struct MemoryTree: TreeReader {
    /// revision → path → contents.
    let revisions: [String: [String: String]]

    func files(at revision: String, paths: [String]) async throws(GitError) -> [GitFile] {
        guard let tree = revisions[revision] else { throw GitError(.notFound, "revision \(revision) not found") }
        return tree.keys.sorted().filter { path in paths.isEmpty || paths.contains { path == $0 || path.hasPrefix($0 + "/") } }
            .map { GitFile(path: $0, blobID: "\($0)@\(tree[$0]!.hashValue)", executable: false) }
    }

    func blobs(_ ids: [String], maxSize: Int) async throws(GitError) -> (contents: [String: [UInt8]], oversized: [String: Int]) {
        var out: [String: [UInt8]] = [:]
        for tree in revisions.values {
            for (path, text) in tree where ids.contains("\(path)@\(text.hashValue)") { out["\(path)@\(text.hashValue)"] = Array(text.utf8) }
        }
        return (out, [:])
    }
}

@Suite("Rendering from any tree reader")
struct TreeReaderTests {
    @Test("the renderer reads a revision through TreeReader alone: files, contents, the parse cache")
    func memoryTree() async throws {
        let tree = MemoryTree(revisions: ["one": ["apps/a.yaml": cm("a"), "apps/b.yaml": cm("b"), "other/c.yaml": cm("c")],
                                          "two": ["apps/a.yaml": cm("a"), "apps/b.yaml": cm("b", "data: {k: v}\n")]])
        let renderer = ManifestRenderer(source: tree, workDirectory: tempDir("memory-render"), sandbox: .unavailable("not needed"), logger: Logger(label: "test"))
        let one = try await renderer.render(revision: "one", options: RenderOptions(paths: ["apps"]))
        #expect(one.manifests.map(\.name) == ["a", "b"])
        #expect(one.parsed == 2)
        let two = try await renderer.render(revision: "two", options: RenderOptions(paths: ["apps"]))
        #expect(two.manifests.map(\.name) == ["a", "b"])
        #expect(two.parsed == 1, "the unchanged blob comes from the parse cache")
        await #expect(throws: RenderError.self) { try await renderer.render(revision: "three", options: RenderOptions()) }
    }
}
