import Foundation
import GitSource
import GitTesting
import ImageAutomation
import KubeModel
import Logging
import Manifests
import Testing

/// Bad input: fuzzed YAML and hostile repository content are parsed or refused with an error that
/// names the file, in bounded time and memory, and never crash the process.
@Suite("Bad input: fuzzed YAML and hostile repository content")
struct HostileInputTests {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// The short seed run of `flotilla-bench fuzz` (which runs the same checks for minutes).
    @Test("fuzzed manifests, .flux.yaml and workload files: parsed or refused naming the file, the same way twice")
    func fuzz() throws {
        let seed = UInt64(Self.environment["FLOTILLA_FUZZ_SEED"] ?? "") ?? 20_261_202
        let iterations = Int(Self.environment["FLOTILLA_FUZZ_ITERATIONS"] ?? "") ?? 600
        var fuzzer = ManifestFuzzer(seed: seed)
        var outcomes = FuzzOutcomes()
        for i in 0..<iterations {
            let (kind, bytes) = fuzzer.next()
            let failure = FuzzCheck.run(bytes, file: "fuzz/\(i).yaml", outcomes: &outcomes)
            #expect(failure == nil, "seed \(seed) input \(i) (\(kind)): \(failure ?? "")")
        }
        #expect(outcomes.parsed > 0 && outcomes.refused > 0, "the generator makes both valid and invalid inputs: \(outcomes)")
    }

    @Test("deep nesting, alias bombs and a flood of documents are refused with the reason and the line")
    func shapes() throws {
        let deep = Array((String(repeating: "[", count: 100_000) + "x").utf8)
        #expect(throws: RenderError.self) { try ManifestParser.parse(deep, source: "deep.yaml") }
        do { _ = try ManifestParser.parse(deep, source: "deep.yaml") } catch {
            #expect(error.message.hasPrefix("deep.yaml:1:") && error.message.contains("nested deeper than 512"))
        }
        do { _ = try WorkloadScanner.workloads(in: deep, file: "deep.yaml", defaultNamespace: "d") } catch {
            #expect(error.description.contains("deep.yaml") && error.description.contains("nested deeper"))
        }
        var laughs = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n  a0: &a0 [lol]\n"
        for l in 1..<12 { laughs += "  a\(l): &a\(l) [" + Array(repeating: "*a\(l - 1)", count: 10).joined(separator: ", ") + "]\n" }
        do { _ = try ManifestParser.parse(Array(laughs.utf8), source: "bomb.yaml"); Issue.record("a YAML bomb was expanded") } catch {
            #expect(error.message.hasPrefix("bomb.yaml:") && error.message.contains("YAML bomb"))
        }
        let flood = Array(String(repeating: "---\n", count: 100_001).utf8)
        do { _ = try ManifestParser.parse(flood, source: "flood.yaml"); Issue.record("a flood of documents was accepted") } catch {
            #expect(error.message.contains("flood.yaml") && error.message.contains("more than 100000 documents"))
        }
        do { _ = try WorkloadScanner.workloads(in: flood, file: "flood.yaml", defaultNamespace: "d"); Issue.record("accepted") } catch {
            #expect(error.description.contains("more than 100000 documents"))
        }
    }

    @Test("a repository with a huge file, symlinks out of it and a million tiny documents: refused or skipped, naming the file")
    func repository() async throws {
        let passwd = try String(contentsOfFile: "/etc/passwd", encoding: .utf8)
        let upstream = try UpstreamRepo(files: ["deploy/app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n"])
        // Symlinks to a file and a directory outside the repository, named like manifests.
        try sh(["ln", "-s", "/etc/passwd", upstream.work + "/deploy/passwd.yaml"])
        try sh(["ln", "-s", "/etc", upstream.work + "/deploy/etc"])
        try sh(["git", "add", "-A"], cwd: upstream.work)
        try upstream.commit([:], message: "symlinks")
        let mirror = GitMirror(.init(url: upstream.url, directory: tempDir("hostile") + "/git"))
        _ = try await mirror.fetch()
        let renderer = ManifestRenderer(source: mirror, workDirectory: tempDir("hostile-render"), sandbox: .unsandboxed, logger: Logger(label: "test"))
        defer { renderer.release() }
        let linked = try await renderer.render(revision: try upstream.head(), options: RenderOptions(paths: ["deploy"]))
        #expect(linked.manifests.map { $0.object["metadata"]?["name"]?.stringValue } == ["app"], "symlinks are never followed")
        #expect(!linked.manifests.contains { "\($0.object)".contains(passwd.prefix(20)) })
        // With manifest generation, the exported tree holds no symlink either.
        try upstream.commit(["deploy/.flux.yaml": "version: 1\ncommandUpdated:\n  generators:\n  - command: cat app.yaml; test ! -e passwd.yaml && test ! -e etc && echo '---'\n"],
                            message: "generator")
        _ = try await mirror.fetch()
        let generated = try await renderer.render(revision: try upstream.head(), options: RenderOptions(paths: ["deploy"], manifestGeneration: true))
        #expect(generated.manifests.count == 1)

        // A 17 MiB file: refused by its size, without being read, naming it.
        let big = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata: {k: \"" + String(repeating: "x", count: 17 << 20) + "\"}\n"
        try upstream.commit(["deploy/.flux.yaml": nil, "deploy/big.yaml": big], message: "huge")
        _ = try await mirror.fetch()
        do {
            _ = try await renderer.render(revision: try upstream.head(), options: RenderOptions(paths: ["deploy"]))
            Issue.record("a 17 MiB file was rendered")
        } catch let error as RenderError {
            #expect(error.kind == .parse && error.message.hasPrefix("deploy/big.yaml: 17825") && error.message.contains("16 MiB"))
        }
        // Many tiny documents (just under the limit: parsed; over it: refused).
        try upstream.commit(["deploy/big.yaml": nil, "deploy/tiny.yaml": String(repeating: "---\n", count: 150_000)], message: "tiny")
        _ = try await mirror.fetch()
        do {
            _ = try await renderer.render(revision: try upstream.head(), options: RenderOptions(paths: ["deploy"]))
            Issue.record("150,000 documents were accepted")
        } catch let error as RenderError {
            #expect(error.message.hasPrefix("deploy/tiny.yaml:") && error.message.contains("more than 100000 documents"))
        }
    }
}

