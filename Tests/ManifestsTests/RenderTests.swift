import Foundation
import GitSource
import GitTesting
import KubeModel
import Logging
import Manifests
import Testing

/// A real upstream repository, its mirror and a renderer over it.
struct RenderFixture {
    let upstream: UpstreamRepo
    let mirror: GitMirror
    let renderer: ManifestRenderer

    init(_ files: [String: String], sandbox: GeneratorSandbox = .bubblewrap(Bubblewrap()), workDirectory: String = tempDir("render")) throws {
        upstream = try UpstreamRepo(files: files)
        mirror = GitMirror(GitMirror.Options(url: upstream.url, directory: tempDir("mirror")))
        renderer = ManifestRenderer(source: mirror, workDirectory: workDirectory, sandbox: sandbox, logger: Logger(label: "test"))
    }

    func head() async throws -> String { try await mirror.fetch()["main"]! }

    func render(_ options: RenderOptions = RenderOptions()) async throws -> RenderedSet {
        let head = try await mirror.fetch()["main"]!
        return try await renderer.render(revision: head, options: options)
    }

    func renderError(_ options: RenderOptions = RenderOptions()) async throws -> RenderError? {
        do {
            _ = try await render(options)
            return nil
        } catch let error as RenderError {
            return error
        }
    }
}

func cm(_ name: String, _ extra: String = "") -> String {
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \(name)\n\(extra)"
}

@Suite("Repository walk and parsing")
struct RenderTests {
    @Test("JSON files are ignored, YAML in subdirectories is read, .yml too")
    func jsonIgnored() async throws {
        let f = try RenderFixture(["a/one.yaml": cm("one"), "a/b/two.yml": cm("two"),
                                   "a/three.json": #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"three"}}"#,
                                   "README.md": "# not yaml"])
        let set = try await f.render()
        #expect(set.manifests.map(\.name).sorted() == ["one", "two"])
        #expect(set.manifests.first { $0.name == "two" }?.source == "a/b/two.yml")
    }

    @Test("Helm chart directories are skipped, a Chart.yaml without templates is not a chart")
    func helmChartsSkipped() async throws {
        let f = try RenderFixture(["apps/web.yaml": cm("web"),
                                   "charts/mychart/Chart.yaml": "apiVersion: v2\nname: mychart\nversion: 1.0.0\n",
                                   "charts/mychart/values.yaml": "replicas: 1\n",
                                   "charts/mychart/templates/deploy.yaml": "{{ .Values.broken\n",
                                   "notachart/Chart.yaml": cm("chartish")])
        let set = try await f.render()
        #expect(set.manifests.map(\.name).sorted() == ["chartish", "web"])
    }

    @Test("multi-document files, kind: List, empty and comment-only documents")
    func multiDocument() async throws {
        let text = """
            # leading comment
            ---
            \(cm("a"))---
            # only a comment
            ---
            ---
            apiVersion: v1
            kind: List
            items:
            - apiVersion: v1
              kind: ConfigMap
              metadata: {name: b}
            - apiVersion: v1
              kind: Secret
              metadata: {name: c}
            ---
            \(cm("d"))
            """
        let f = try RenderFixture(["all.yaml": text])
        let set = try await f.render()
        #expect(set.manifests.map(\.name) == ["a", "b", "c", "d"])
        #expect(set.manifests.map(\.kind) == ["ConfigMap", "ConfigMap", "Secret", "ConfigMap"])
        #expect(set.manifests.first?.line == 3, "the first object starts on line 3")
        #expect(set.manifests.last?.line == 21)
        #expect(set.manifests[1].line == 11, "List items carry the line of their List")
    }

    @Test("bad YAML names the file and the line")
    func badYAML() async throws {
        let f = try RenderFixture(["ok.yaml": cm("ok"), "deploy/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n"])
        let error = try #require(try await f.renderError())
        #expect(error.kind == .parse)
        #expect(error.message.hasPrefix("deploy/bad.yaml:"), "\(error.message)")
        #expect(error.message.contains("deploy/bad.yaml:5"), "\(error.message)")
    }

    @Test("a document that is not a Kubernetes object names the file, line and missing fields")
    func notAnObject() async throws {
        let f = try RenderFixture(["x.yaml": cm("fine") + "---\nfoo: bar\n"])
        let error = try #require(try await f.renderError())
        #expect(error.message == "x.yaml:6: document has no apiVersion, kind, metadata.name (is this a Kubernetes manifest?)")
    }

    @Test("YAML 1.1 values are read as Kubernetes reads them: on/yes are booleans, 0777 is octal, quoted stays a string")
    func yaml11() async throws {
        let f = try RenderFixture(["c.yaml": cm("c", "data:\n  q: \"on\"\nspec:\n  enabled: on\n  also: yes\n  mode: 0777\n  ts: 2024-01-01\n")])
        let o = try #require(try await f.render().manifests.first?.object)
        #expect(o["data"]?["q"] == "on")
        #expect(o["spec"]?["enabled"] == true)
        #expect(o["spec"]?["also"] == true)
        #expect(o["spec"]?["mode"] == 511)
        #expect(o["spec"]?["ts"] == "2024-01-01")
    }

    @Test("an unchanged file is not parsed again at the next revision")
    func parseCache() async throws {
        let f = try RenderFixture(["a.yaml": cm("a"), "b.yaml": cm("b"), "c.yaml": cm("c")])
        let first = try await f.render()
        #expect(first.parsed == 3)
        try f.upstream.commit(["b.yaml": cm("b", "data:\n  k: v\n")], message: "change b")
        let second = try await f.render()
        #expect(second.files == 3)
        #expect(second.parsed == 1, "only the changed blob is parsed")
        #expect(second.manifests.first { $0.name == "b" }?.object["data"]?["k"] == "v")
        try f.upstream.commit(["c.yaml": nil], message: "drop c")
        _ = try await f.render()
        #expect(f.renderer.cache.count == 2, "blobs no longer in the tree are dropped from the cache")
    }

    @Test("a manifest from the parse cache is decoded only when its object is read, and reads as a fresh parse")
    func lazyFromCache() async throws {
        let list = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: l1, namespace: n}}\n"
        let f = try RenderFixture(["a.yaml": cm("a", "data:\n  k: v\n"), "list.yaml": list])
        let first = try await f.render()
        #expect(first.manifests.allSatisfy { $0.isDecoded }, "parsed now: built as objects")
        let second = try await f.render()
        #expect(second.parsed == 0)
        #expect(second.manifests.map { "\($0.apiVersion) \($0.kind) \($0.namespace ?? "-")/\($0.name)" } == ["v1 ConfigMap -/a", "v1 ConfigMap n/l1"])
        #expect(second.manifests.map(\.contentKey) == first.manifests.map(\.contentKey))
        #expect(second.manifests.allSatisfy { !$0.isDecoded }, "kind, apiVersion, name and namespace are read without decoding")
        #expect(second.manifests.map(\.object) == first.manifests.map(\.object))
        #expect(second.manifests.allSatisfy { $0.isDecoded })
        #expect(second.manifests == first.manifests)
        var edited = second.manifests[0]
        edited.object["metadata"]?["name"] = "renamed"
        #expect(edited.name == "renamed", "a new object brings its own name")
        #expect(second.manifests[0].name == "a")
    }

    @Test("a file that is not a manifest fails the same way from the cache, naming the path it has now")
    func cachedFailure() async throws {
        let f = try RenderFixture(["bad.yaml": "apiVersion: v1\nkind: ConfigMap\n", "list.yaml": "kind: List\nitems: [x]\n"])
        let message = "bad.yaml:1: document has no metadata.name (is this a Kubernetes manifest?)"
        #expect(try await f.renderError()?.message == message)
        let misses = f.renderer.cache.statistics.misses
        #expect(try await f.renderError()?.message == message)
        #expect(f.renderer.cache.statistics.misses == misses, "the failure was cached")
        try f.upstream.commit(["bad.yaml": nil, "moved.yaml": "apiVersion: v1\nkind: ConfigMap\n"], message: "move")
        #expect(try await f.renderError()?.message == "list.yaml:1: document is a string, not a Kubernetes object")
        try f.upstream.commit(["list.yaml": nil], message: "drop the list")
        #expect(try await f.renderError()?.message == "moved.yaml:1: document has no metadata.name (is this a Kubernetes manifest?)")
    }

    @Test("several paths; a missing path and a path that leaves the repository are errors")
    func paths() async throws {
        let f = try RenderFixture(["a/x.yaml": cm("x"), "b/y.yaml": cm("y"), "c/z.yaml": cm("z")])
        #expect(try await f.render(RenderOptions(paths: ["a", "./b/"])).manifests.map(\.name) == ["x", "y"])
        #expect(try await f.render(RenderOptions(paths: [])).manifests.count == 3, "no paths means the root")
        let missing = try #require(try await f.renderError(RenderOptions(paths: ["a", "nope"])))
        #expect(missing.kind == .path)
        #expect(missing.message.contains("nope"))
        let escape = try #require(try await f.renderError(RenderOptions(paths: ["a/../../etc"])))
        #expect(escape.kind == .path)
        #expect(escape.message.contains("escapes the repository"))
    }
}
