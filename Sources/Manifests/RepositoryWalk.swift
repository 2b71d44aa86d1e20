import GitSource

/// Chooses the files of a tree that hold manifests, as Flux v1 did: every `*.yaml` / `*.yml` under
/// the configured paths and their subdirectories (JSON is ignored), skipping directories that look
/// like Helm charts (`Chart.yaml` beside `templates/`) and `.flux.yaml` files. Pure: works on the
/// list of paths in a commit.
public enum RepositoryWalk {
    /// Normalises a configured path: `.` and empty mean the root, `a/./b/` is `a/b`; `..` that
    /// leaves the repository is an error.
    public static func normalise(_ path: String) throws(RenderError) -> String {
        do {
            return try GitMirror.normalise(path)
        } catch {
            throw RenderError(.path, error.message)
        }
    }

    /// Whether `file` is `directory` itself or below it (`""` is the root).
    public static func contains(_ directory: String, _ file: String) -> Bool {
        directory.isEmpty || file.hasPrefix(directory + "/")
    }

    public static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }

    public static func isManifestFile(_ path: String) -> Bool {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard name != FluxConfig.fileName else { return false }
        return name.hasSuffix(".yaml") || name.hasSuffix(".yml")
    }

    /// Directories holding a `Chart.yaml` next to a `templates/` directory.
    public static func chartDirectories(_ files: [String]) -> Set<String> {
        let candidates = files.filter { $0 == "Chart.yaml" || $0.hasSuffix("/Chart.yaml") }.map(parent)
        return Set(candidates.filter { dir in
            let templates = dir.isEmpty ? "templates/" : dir + "/templates/"
            return files.contains { $0.hasPrefix(templates) }
        })
    }

    /// The manifest files under `directory`, sorted, with chart directories left out. Throws when
    /// the directory holds no file at all (it does not exist in this commit).
    public static func manifestFiles(in directory: String, of files: [String], charts: Set<String>) throws(RenderError) -> [String] {
        let under = files.filter { contains(directory, $0) }
        guard !under.isEmpty || directory.isEmpty else {
            throw RenderError(.path, "path \"\(directory)\" does not exist in the repository")
        }
        return under.filter { file in
            guard isManifestFile(file) else { return false }
            var dir = parent(file)
            while true {
                if charts.contains(dir) { return false }
                if dir.isEmpty || dir == directory { return true }
                dir = parent(dir)
            }
        }.sorted()
    }
}
