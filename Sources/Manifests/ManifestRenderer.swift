import Primitives
import Foundation
import GitSource
import KubeModel
import Logging
import Synchronization

/// What to render from a revision.
public struct RenderOptions: Sendable {
    /// Paths from the repository root; empty means the root.
    public var paths: [String] = []
    /// Honour `.flux.yaml` files (Flux v1's `--manifest-generation`).
    public var manifestGeneration = false
    /// Timeout of a generator without its own `timeout`.
    public var generatorTimeout: Duration = .seconds(60)
    /// Largest generator output accepted.
    public var maxGeneratorOutput = 64 << 20
    /// Decrypts SOPS files and generator output (`spec.decryption`); nil: an encrypted file is
    /// an error.
    public var decryptor: SopsDecryptor?

    public init(paths: [String] = [], manifestGeneration: Bool = false) {
        self.paths = paths
        self.manifestGeneration = manifestGeneration
    }
}

/// The manifests of one revision, in a stable order (by path and position).
public struct RenderedSet: Sendable {
    public var revision: String
    public var manifests: [Manifest]
    /// Manifest files read (cached or not).
    public var files: Int
    /// Files that had to be parsed (not in the parse cache).
    public var parsed: Int

    public init(revision: String, manifests: [Manifest], files: Int = 0, parsed: Int = 0) {
        self.revision = revision
        self.manifests = manifests
        self.files = files
        self.parsed = parsed
    }
}

/// Renders revisions of one instance's repository into manifests: the repository walk, the parse
/// cache and `.flux.yaml` generation. Owns a work directory (for generators) that `release()`
/// removes; one renderer per instance.
public final class ManifestRenderer: Sendable {
    /// The repository's trees (a `GitMirror` in the operator).
    let source: any TreeReader
    let workDirectory: String
    /// Where `.flux.yaml` commands run (the install's choice).
    let sandbox: GeneratorSandbox
    let logger: Logger
    public let cache = ParseCache()
    /// The keys the cached documents were decrypted with (other keys: the cache is dropped).
    let decryptionKeys = Mutex<String?>(nil)
    /// Renders of one instance never overlap (they share the work directory).
    let gate = Gate()

    public init(source: any TreeReader, workDirectory: String, sandbox: GeneratorSandbox, logger: Logger) {
        self.source = source
        self.workDirectory = workDirectory
        self.sandbox = sandbox
        self.logger = logger
    }

    func makeRunner(_ options: RenderOptions) -> CommandRunner {
        CommandRunner(sandbox: sandbox, defaultTimeout: options.generatorTimeout, maxOutput: options.maxGeneratorOutput, home: workDirectory + "/home")
    }

    /// Removes the work directory (the instance is gone).
    public func release() {
        try? FileManager.default.removeItem(atPath: workDirectory)
    }

    public func render(revision: String, options: RenderOptions) async throws(RenderError) -> RenderedSet {
        await gate.acquire()
        do {
            let result = try await renderHoldingGate(revision: revision, options: options)
            gate.release()
            return result
        } catch {
            gate.release()
            throw error
        }
    }

    func renderHoldingGate(revision: String, options: RenderOptions) async throws(RenderError) -> RenderedSet {
        let paths = Array(Set(try (options.paths.isEmpty ? [""] : options.paths).map { p throws(RenderError) in try RepositoryWalk.normalise(p) })).sorted()
        let files: [GitFile]
        do {
            // Generators may read anything in the repository; otherwise list only the paths.
            files = try await source.files(at: revision, paths: options.manifestGeneration ? [] : paths)
        } catch {
            throw error.kind == .notFound || error.kind == .invalid ? RenderError(.path, error.message) : RenderError(.source, error.message)
        }
        cache.retain(Set(files.map(\.blobID)))
        let byPath = Dictionary(files.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        let allPaths = files.map(\.path)
        let charts = RepositoryWalk.chartDirectories(allPaths)

        var plainFiles: [String] = []
        var generated: [(path: String, config: FluxConfig)] = []
        for path in paths {
            if options.manifestGeneration, let config = try await fluxConfig(for: path, files: byPath) {
                if case .scanForFiles = config.mode {
                    plainFiles += try RepositoryWalk.manifestFiles(in: path, of: allPaths, charts: charts)
                } else {
                    _ = try RepositoryWalk.manifestFiles(in: path, of: allPaths, charts: charts)
                    generated.append((path, config))
                }
            } else {
                plainFiles += try RepositoryWalk.manifestFiles(in: path, of: allPaths, charts: charts)
            }
        }
        var seen = Set<String>()
        plainFiles = plainFiles.filter { seen.insert($0).inserted }

        let before = cache.statistics.misses
        let keys = options.decryptor?.fingerprint
        if decryptionKeys.withLock({ old in defer { old = keys }; return old != keys }) { cache.retain([]) }
        var manifests = try await parseFiles(plainFiles.compactMap { byPath[$0] }, decryptor: options.decryptor)
        let parsed = cache.statistics.misses - before

        if !generated.isEmpty {
            let tree = try await export(files, revision: revision)
            let runner = makeRunner(options)
            for (path, config) in generated {
                manifests += try await generate(config, path: path, tree: tree, files: byPath, runner: runner, decryptor: options.decryptor)
            }
        }
        return RenderedSet(revision: revision, manifests: manifests, files: plainFiles.count, parsed: parsed)
    }

    /// The `.flux.yaml` that governs `path`: the nearest one from the path up to the root.
    func fluxConfig(for path: String, files: [String: GitFile]) async throws(RenderError) -> FluxConfig? {
        var dir = path
        while true {
            let candidate = dir.isEmpty ? FluxConfig.fileName : "\(dir)/\(FluxConfig.fileName)"
            if let file = files[candidate] {
                return try FluxConfig.parse(try await read([file])[file.blobID] ?? [], directory: dir)
            }
            if dir.isEmpty { return nil }
            dir = RepositoryWalk.parent(dir)
        }
    }

    /// The largest file read as a manifest, `.flux.yaml` or patch file (the API server takes
    /// 3 MiB per request; a bigger file is a mistake or an attack, refused without reading it).
    public static let maxFileBytes = 16 << 20

    /// The largest file written out for generators (charts and other inputs may be bigger than
    /// any manifest).
    public static let maxExportedFileBytes = 128 << 20

    func read(_ files: [GitFile], maxSize: Int = maxFileBytes) async throws(RenderError) -> [String: [UInt8]] {
        guard !files.isEmpty else { return [:] }
        let result: (contents: [String: [UInt8]], oversized: [String: Int])
        do {
            result = try await source.blobs(files.map(\.blobID), maxSize: maxSize)
        } catch {
            throw RenderError(.source, error.message)
        }
        if let file = files.first(where: { result.oversized[$0.blobID] != nil }), let size = result.oversized[file.blobID] {
            throw RenderError(.parse, "\(file.path): \(size) bytes, more than the \(maxSize >> 20) MiB a file may have")
        }
        return result.contents
    }

    func parseFiles(_ files: [GitFile], decryptor: SopsDecryptor?) async throws(RenderError) -> [Manifest] {
        let missing = files.filter { !cache.contains($0.blobID) }
        var contents = try await read(missing)
        // SOPS files are decrypted before they are parsed (and cached, in memory only).
        for file in missing {
            guard let bytes = contents[file.blobID], SopsDecryptor.isEncrypted(bytes) else { continue }
            contents[file.blobID] = try await Self.decrypted(bytes, source: file.path, decryptor: decryptor)
        }
        var out: [Manifest] = []
        for file in files {
            out += try cache.manifests(blobID: file.blobID, source: file.path) { () throws(RenderError) in
                guard let bytes = contents[file.blobID] else { throw RenderError(.source, "\(file.path): blob \(file.blobID) is missing") }
                return bytes
            }
        }
        return out
    }

    /// Writes the revision's files under the work directory, for generators to run in.
    func export(_ files: [GitFile], revision: String) async throws(RenderError) -> String {
        let tree = workDirectory + "/tree"
        let fm = FileManager.default
        let contents = try await read(files, maxSize: Self.maxExportedFileBytes)
        do {
            try? fm.removeItem(atPath: tree)
            try fm.createDirectory(atPath: tree, withIntermediateDirectories: true)
            try fm.createDirectory(atPath: workDirectory + "/home", withIntermediateDirectories: true)
            for file in files {
                let full = tree + "/" + file.path
                try fm.createDirectory(atPath: RepositoryWalk.parent(full), withIntermediateDirectories: true)
                guard fm.createFile(atPath: full, contents: Data(contents[file.blobID] ?? []),
                                    attributes: [.posixPermissions: file.executable ? 0o755 : 0o644]) else {
                    throw RenderError(.source, "cannot write \(full)")
                }
            }
        } catch let error as RenderError {
            throw error
        } catch {
            throw RenderError(.source, "cannot export revision \(revision.prefix(7)) for generators: \(error)")
        }
        return tree
    }

    static func decrypted(_ bytes: [UInt8], source: String, decryptor: SopsDecryptor?) async throws(RenderError) -> [UInt8] {
        guard let decryptor else {
            throw RenderError(.decryption, "\(source) is encrypted with SOPS: set spec.decryption (provider sops) with a Secret holding its age or PGP key")
        }
        return try await decryptor.decrypt(bytes, source: source)
    }

    func generate(_ config: FluxConfig, path: String, tree: String, files: [String: GitFile], runner: CommandRunner,
                  decryptor: SopsDecryptor?) async throws(RenderError) -> [Manifest] {
        let configFile = config.directory.isEmpty ? FluxConfig.fileName : "\(config.directory)/\(FluxConfig.fileName)"
        let place = "\(path.isEmpty ? "." : path) (\(configFile))"
        var out: [Manifest] = []
        for command in config.generators {
            logger.debug("running generator", metadata: ["path": "\(path)", "command": "\(command.command)"])
            var output = try await runner.run(command, root: tree, path: path, describedAs: place)
            let source = "output of `\(command.command)` in \(place)"
            if SopsDecryptor.isEncrypted(output) { output = try await Self.decrypted(output, source: source, decryptor: decryptor) }
            out += try ManifestParser.parse(output, source: source)
        }
        if case .patchUpdated(_, let patchFile) = config.mode {
            let patchPath = try RepositoryWalk.normalise(path.isEmpty ? patchFile : "\(path)/\(patchFile)")
            if let file = files[patchPath] {
                let patches = try ManifestParser.parse(try await read([file])[file.blobID] ?? [], source: patchPath)
                out = PatchSet(patches).apply(to: out) { unmatched in
                    logger.notice("patch matches no generated object", metadata: ["patch": "\(unmatched.location)", "object": "\(unmatched.kind)/\(unmatched.name)"])
                }
            }
        }
        return out
    }
}

/// A path whose manifests a `.flux.yaml` generates, with what it generated.
public struct GeneratedPath: Sendable {
    public var path: String
    public var config: FluxConfig
    public var manifests: [Manifest]
}

extension ManifestRenderer {
    /// The paths of `options` governed by a `.flux.yaml` that generates manifests
    /// (`commandUpdated` or `patchUpdated`), each with its generated manifests.
    public func generatedPaths(revision: String, options: RenderOptions) async throws(RenderError) -> [GeneratedPath] {
        await gate.acquire()
        defer { gate.release() }
        let files: [GitFile]
        do { files = try await source.files(at: revision, paths: []) } catch { throw RenderError(.source, error.message) }
        let byPath = Dictionary(files.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        var configs: [(String, FluxConfig)] = []
        for raw in options.paths.isEmpty ? [""] : options.paths {
            let path = try RepositoryWalk.normalise(raw)
            guard let config = try await fluxConfig(for: path, files: byPath) else { continue }
            if case .scanForFiles = config.mode { continue }
            configs.append((path, config))
        }
        guard !configs.isEmpty else { return [] }
        let tree = try await export(files, revision: revision)
        let runner = makeRunner(options)
        var out: [GeneratedPath] = []
        for (path, config) in configs {
            out.append(GeneratedPath(path: path, config: config, manifests: try await generate(config, path: path, tree: tree, files: byPath, runner: runner,
                                                                                                         decryptor: options.decryptor)))
        }
        return out
    }

    /// Runs `config`'s `containerImage` updaters for `updates` (Flux v1's contract: `sh -c` in the
    /// path's directory of a checkout of `revision`, with `FLUX_WORKLOAD`, `FLUX_CONTAINER`,
    /// `FLUX_IMG`, `FLUX_TAG` … and the scrubbed environment) and returns the files they changed
    /// (path → new contents, nil when deleted). An updater that fails fails the whole run.
    public func runImageUpdaters(revision: String, path: String, config: FluxConfig, updates: [UpdaterRequest],
                                 options: RenderOptions) async throws(RenderError) -> [String: [UInt8]?] {
        guard case .commandUpdated(_, let updaters) = config.mode else {
            throw RenderError(.generation, "\(path)/\(FluxConfig.fileName) is not commandUpdated: it has no updaters")
        }
        let commands = updaters.compactMap(\.containerImage)
        guard !commands.isEmpty else {
            throw RenderError(.generation, "\(path.isEmpty ? "" : path + "/")\(FluxConfig.fileName) has no containerImage updater")
        }
        await gate.acquire()
        defer { gate.release() }
        let files: [GitFile]
        do { files = try await source.files(at: revision, paths: []) } catch { throw RenderError(.source, error.message) }
        let tree = try await export(files, revision: revision)
        let runner = makeRunner(options)
        let configFile = config.directory.isEmpty ? FluxConfig.fileName : "\(config.directory)/\(FluxConfig.fileName)"
        for update in updates {
            for command in commands {
                _ = try await runner.run(command, root: tree, path: path, describedAs: "\(path.isEmpty ? "." : path) (\(configFile) updater)",
                                         extraEnvironment: update.environment, keepChanges: true)
            }
        }
        // What changed in the checkout: modified and new files, and deleted ones. Regular files
        // only, never followed through a link: a link an updater made could point at the
        // operator's own files, which would then be committed to the tenant's repository.
        let original = try await read(files)
        var changed: [String: [UInt8]?] = [:]
        var seen = Set<String>()
        let byPath = Dictionary(files.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        let present: [String]
        do { present = try TreeArchive.files(under: tree) } catch { throw RenderError(.generation, "cannot read what the updaters left in \(path): \(error)") }
        for relative in present {
            guard let data = FileManager.default.contents(atPath: tree + "/" + relative) else { continue }
            seen.insert(relative)
            let bytes = [UInt8](data)
            if let file = byPath[relative], original[file.blobID] == bytes { continue }
            changed[relative] = bytes
        }
        for file in files where !seen.contains(file.path) { changed[file.path] = .some(nil) }
        return changed
    }
}

/// `patchUpdated` patches: strategic merge patches matched to generated objects by kind,
/// namespace and name.
struct PatchSet {
    let patches: [Manifest]
    init(_ patches: [Manifest]) { self.patches = patches }

    func apply(to manifests: [Manifest], unmatched: (Manifest) -> Void) -> [Manifest] {
        var out = manifests
        for patch in patches {
            var matched = false
            for i in out.indices where out[i].kind == patch.kind && out[i].name == patch.name && out[i].namespace == patch.namespace {
                out[i].object = StrategicMergePatch(types: .builtin).apply(patch.object, to: out[i].object)
                matched = true
            }
            if !matched { unmatched(patch) }
        }
        return out
    }
}
