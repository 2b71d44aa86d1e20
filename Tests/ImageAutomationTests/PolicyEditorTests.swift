import Foundation
import ImageAutomation
import KubeModel
import Testing

/// The policy verbs edit a workload's annotations in its file: only the lines they change move.
@Suite struct PolicyEditorTests {
    static let web = WorkloadID(namespace: "team", kind: "Deployment", name: "web")

    func edit(_ text: String, _ changes: [String: String?], workload: WorkloadID = web) throws -> String {
        let out = try WorkloadScanner.settingAnnotations(changes, of: workload, bytes: Array(text.utf8), file: "web.yaml", defaultNamespace: "team")
        return String(decoding: out, as: UTF8.self)
    }

    func policy(_ text: String, _ workload: WorkloadID = web) throws -> WorkloadPolicy {
        try #require(try WorkloadScanner.workloads(in: Array(text.utf8), file: "web.yaml", defaultNamespace: "team").first { $0.id == workload }).policy
    }

    static let block = """
        # the web tier
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web   # keep me
          annotations:
            team.example/owner: "ops"   # owner
            fluxcd.io/tag.app: semver:~1
          labels: {app: web}
        spec:
          template:
            spec:
              containers:
              - name: app
                image: registry.local/app:1.0.0

        """

    @Test("a new annotation is one new line after the last one; comments and order stay")
    func addToBlock() throws {
        let out = try edit(Self.block, ["fluxcd.io/automated": "true"])
        #expect(out == Self.block.replacingOccurrences(of: "    fluxcd.io/tag.app: semver:~1\n",
                                                       with: "    fluxcd.io/tag.app: semver:~1\n    fluxcd.io/automated: \"true\"\n"))
        #expect(try policy(out).automated)
    }

    @Test("a changed value is replaced in place, a plain scalar becomes a quoted string")
    func replace() throws {
        let out = try edit(Self.block, ["fluxcd.io/tag.app": "glob:1.*", "team.example/owner": "dev"])
        #expect(out == Self.block.replacingOccurrences(of: "semver:~1", with: "\"glob:1.*\"").replacingOccurrences(of: "\"ops\"", with: "\"dev\""))
        #expect(try policy(out).filters == ["app": "glob:1.*"])
    }

    @Test("removing an annotation drops its line; removing the last drops the annotations key")
    func remove() throws {
        let one = try edit(Self.block, ["fluxcd.io/tag.app": nil, "fluxcd.io/missing": nil])
        #expect(one == Self.block.replacingOccurrences(of: "    fluxcd.io/tag.app: semver:~1\n", with: ""))
        let none = try edit(one, ["team.example/owner": nil])
        #expect(none == Self.block.replacingOccurrences(of: "  annotations:\n    team.example/owner: \"ops\"   # owner\n    fluxcd.io/tag.app: semver:~1\n", with: ""))
        _ = try #require(try WorkloadScanner.workloads(in: Array(none.utf8), file: "web.yaml", defaultNamespace: "team").first)
    }

    @Test("a workload without annotations gets a block under metadata, indented like its keys")
    func addBlock() throws {
        let text = "kind: Deployment\nmetadata:\n    name: web\n    labels:\n        app: web\nspec:\n    template: {spec: {containers: [{name: app, image: 'a:1'}]}}\n"
        let out = try edit(text, PolicyUpdate(lock: true, lockMessage: "freeze: \"release\" week", lockUser: "Jane <jane@example.com>").annotationChanges)
        #expect(out.hasPrefix("kind: Deployment\nmetadata:\n    name: web\n    labels:\n        app: web\n    annotations:\n        fluxcd.io/locked: \"true\"\n"))
        let p = try policy(out)
        #expect(p.locked && p.lockedMessage == "freeze: \"release\" week" && p.lockedUser == "Jane <jane@example.com>")
        #expect(out.hasSuffix("spec:\n    template: {spec: {containers: [{name: app, image: 'a:1'}]}}\n"))
        // Unlocking removes what locking added, and the file is as it was.
        #expect(try edit(out, PolicyUpdate(lock: false).annotationChanges) == text)
    }

    @Test("flow-style annotations and metadata are rewritten as flow mappings")
    func flow() throws {
        let flowAnnotations = "kind: Deployment\nmetadata:\n  name: web\n  annotations: {a: b}\nspec: {}\n"
        #expect(try edit(flowAnnotations, ["fluxcd.io/automated": "true"]) == "kind: Deployment\nmetadata:\n  name: web\n  annotations: {a: \"b\", fluxcd.io/automated: \"true\"}\nspec: {}\n")
        #expect(try edit(flowAnnotations, ["a": nil]) == "kind: Deployment\nmetadata:\n  name: web\n  annotations: {}\nspec: {}\n")
        let flowMetadata = "kind: Deployment\nmetadata: {name: web, namespace: team}\nspec: {}\n"
        let out = try edit(flowMetadata, ["fluxcd.io/automated": "true"])
        #expect(out == "kind: Deployment\nmetadata: {name: web, namespace: team, annotations: {fluxcd.io/automated: \"true\"}}\nspec: {}\n")
        #expect(try policy(out).automated)
        let empty = "kind: Deployment\nmetadata:\n  name: web\n  annotations:\nspec: {}\n"
        #expect(try edit(empty, ["fluxcd.io/automated": "true"]) == "kind: Deployment\nmetadata:\n  name: web\n  annotations:\n    fluxcd.io/automated: \"true\"\nspec: {}\n")
    }

    @Test("only the named workload of a multi-document file or List changes")
    func selectsWorkload() throws {
        let text = """
            kind: List
            items:
            - kind: Deployment
              metadata:
                name: api
                namespace: team
            - kind: Deployment
              metadata:
                name: web
                annotations:
                  flux.weave.works/automated: "true"
            ---
            kind: Deployment
            metadata: {name: web, namespace: other}

            """
        let out = try edit(text, PolicyUpdate(automate: false).annotationChanges)
        #expect(out == text.replacingOccurrences(of: "    annotations:\n      flux.weave.works/automated: \"true\"\n", with: ""))
        let api = WorkloadID(namespace: "team", kind: "deployment", name: "api")
        let tagged = try edit(text, PolicyUpdate(tags: ["app": "semver:^2"]).annotationChanges, workload: api)
        #expect(tagged == text.replacingOccurrences(of: "    namespace: team\n", with: "    namespace: team\n    annotations:\n      fluxcd.io/tag.app: \"semver:^2\"\n"))
        #expect(throws: WorkloadScanner.Failure.self) {
            try self.edit(text, ["a": "b"], workload: WorkloadID(namespace: "team", kind: "deployment", name: "gone"))
        }
    }

    @Test("policy updates write fluxcd.io keys and drop the legacy and filter aliases")
    func changes() {
        let c = PolicyUpdate(automate: true, tags: ["app": "semver:~1", "side": "*"]).annotationChanges
        #expect(c["fluxcd.io/automated"] == .some("true") && c["flux.weave.works/automated"] == .some(nil))
        #expect(c["fluxcd.io/tag.app"] == .some("semver:~1") && c["filter.fluxcd.io/app"] == .some(nil))
        #expect(c["fluxcd.io/tag.side"] == .some(nil), "* clears a filter")
        #expect(c["fluxcd.io/locked"] == nil, "locking is left alone")
    }
}
