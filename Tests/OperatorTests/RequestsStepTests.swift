import FlotillaAPI
import Foundation
import GitTesting
import KubeClient
import KubeModel
import KubeTesting
import Testing

/// The requests step: a `requests.flotilla.dev/<id>` annotation is carried out by the instance,
/// answered in `status.requests`, and removed; writes are commits to git that the next sync applies.
@Suite("Requests step", .serialized)
struct RequestsStepTests {
    static let web = AutomationStepTests.deployment("web", image: "nginx:1.0.0", annotations: "    team: a")

    func request(_ f: OperatorFixture, _ instance: String, _ id: String, _ body: String) async throws {
        try await f.request(instance, namespace: "team-a", id: id, body)
    }

    func answer(_ f: OperatorFixture, _ instance: String, _ id: String) async throws -> RequestResult? {
        try await f.answer(instance, namespace: "team-a", id: id)
    }

    @Test("a lock request commits only the lock annotations, answers with the revision, removes the annotation, and the sync applies it")
    func lockCommitsAndSyncs() async throws {
        let up = try UpstreamRepo(files: ["apps/web.yaml": Self.web])
        let initial = try up.head()
        try await withOperator(namespaces: ["team-a"]) { f in
            try await f.apply("apps", namespace: "team-a", spec: ["git": gitSpec(up.url, ["paths": ["apps"]])])
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: initial)
            try await request(f, "apps", "r1", #"{"action":"policy","workloads":["team-a:deployment/web"],"lock":true,"message":"incident 42","user":"alice"}"#)
            let result = try await answer(f, "apps", "r1")
            #expect(result?.state == "Succeeded", "\(String(describing: result))")
            #expect(result?.action == "policy" && result?.user == "alice")
            let head = try up.head()
            #expect(head != initial && result?.revision == head, "the answer names the pushed commit")
            let file = try up.show("\(head):apps/web.yaml")
            #expect(file.contains("fluxcd.io/locked: \"true\"") && file.contains("incident 42"))
            #expect(file.contains("# web: deployed by Flotilla"), "the rest of the file is kept")
            #expect(try sh(["git", "--git-dir", up.bare, "diff", "--stat", initial, head]).contains("1 file changed"))
            #expect(try await eventually {
                let annotations = try await f.instance("apps", namespace: "team-a")?.metadata.annotations ?? [:]
                return annotations[Flotilla.requestAnnotationPrefix + "r1"] == nil
            }, "the request annotation is removed once answered")
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: head)
            let live = try await f.client.get(.deployments, name: "web", namespace: "team-a")
            #expect(live["metadata"]?["annotations"]?["fluxcd.io/locked"] == "true", "the next sync applied the request's commit")

            // The same request again changes nothing: no empty commit.
            try await request(f, "apps", "r2", #"{"action":"policy","workloads":["team-a:deployment/web"],"lock":true,"message":"incident 42","user":"alice"}"#)
            let again = try await answer(f, "apps", "r2")
            #expect(again?.state == "Succeeded" && again?.revision == nil && again?.message.contains("already") == true, "\(String(describing: again))")
            #expect(try up.head() == head)
        }
    }

    @Test("bad requests fail naming what is wrong and commit nothing: not JSON, an undeclared workload, a read-only instance; a query answers")
    func badRequests() async throws {
        let up = try UpstreamRepo(files: ["apps/web.yaml": Self.web])
        let initial = try up.head()
        let api = AutomationStepTests.deployment("api", image: "nginx:1.0.0", annotations: "    team: a")
        let upRO = try UpstreamRepo(files: ["apps/api.yaml": api])
        let initialRO = try upRO.head()
        try await withOperator(namespaces: ["team-a"]) { f in
            try await f.apply("apps", namespace: "team-a", spec: ["git": gitSpec(up.url, ["paths": ["apps"]])])
            try await f.apply("ro", namespace: "team-a", spec: ["git": gitSpec(upRO.url, ["paths": ["apps"], "readonly": true])])
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: initial)
            _ = try await f.waitFor("ro", namespace: "team-a", reason: "Synced", revision: initialRO)

            try await request(f, "apps", "garbage", "not json")
            let garbage = try await answer(f, "apps", "garbage")
            #expect(garbage?.state == "Failed")
            #expect(garbage?.message.contains("requests.flotilla.dev/garbage is not a request") == true, "\(String(describing: garbage))")

            try await request(f, "apps", "nope", #"{"action":"policy","workloads":["team-a:deployment/nope"],"automate":true}"#)
            let nope = try await answer(f, "apps", "nope")
            #expect(nope?.state == "Failed" && nope?.message.contains("team-a:deployment/nope") == true, "\(String(describing: nope))")

            try await request(f, "ro", "lock", #"{"action":"policy","workloads":["team-a:deployment/api"],"lock":true}"#)
            let readonly = try await answer(f, "ro", "lock")
            #expect(readonly?.state == "Failed" && readonly?.message.contains("read-only") == true, "\(String(describing: readonly))")
            #expect(try up.head() == initial && upRO.head() == initialRO, "nothing was committed")

            try await request(f, "ro", "list", #"{"action":"list-workloads"}"#)
            let list = try await answer(f, "ro", "list")
            #expect(list?.state == "Succeeded", "a read-only instance still answers queries")
            #expect("\(list?.result ?? .null)".contains("team-a:deployment/api"), "\(String(describing: list?.result))")
        }
    }
}
