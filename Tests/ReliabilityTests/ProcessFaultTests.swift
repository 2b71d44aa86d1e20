import FlotillaAPI
import Foundation
import GitTesting
import KubeClient
import KubeEmulator
import KubeModel
import KubeTesting
import Synchronization
import Testing

/// Process faults: `flotilla run` (the built binary) is killed with SIGKILL at exact points of a
/// sync (after the k-th object), of a prune (after the n-th deletion, before the inventory is
/// saved) and of an image-update commit (after the push, before the status), through
/// `FLOTILLA_CRASH_AT`, and started again. Afterwards the instance
/// converges, its inventory lists exactly what git declares, nothing that should exist was
/// deleted, and git holds no duplicate and no lost commit. A mirror left mid-fetch or mid-push by
/// a killed process must not stop the next one. 7 kills each in CI; `FLOTILLA_FAULTS_LONG=1`: 20.
@Suite("Process faults: kill -9 at points of syncs, prunes and image-update commits", .serialized)
struct ProcessFaultTests {
    static var kills: Int { ProcessInfo.processInfo.environment["FLOTILLA_FAULTS_LONG"] != nil ? 20 : 7 }

    @Test("killed after the k-th object of a sync: converges, inventory exact, nothing deleted")
    func killDuringSync() async throws {
        try await withKillHarness { h in
            let names = (0..<30).map { "cm\($0)" }
            let repo = try UpstreamRepo(files: ["app.yaml": Self.configMaps(names, value: 0)])
            try await h.apply(spec: ["git": ["url": .string(repo.url), "pollInterval": "1s"], "sync": ["interval": "1h"]])
            var interrupted = 0
            for k in 1...Self.kills {
                try repo.commit(["app.yaml": Self.configMaps(names, value: k)], message: "values \(k)")
                // Killed right after the k-th of the 30 objects is applied (before the status and inventory).
                if try await h.runUntilCrash(at: "apply:\(k)", head: try repo.head()) { interrupted += 1 }
            }
            try await h.converge(to: try repo.head())
            for name in names {
                #expect(try await h.admin.get(.configMaps, name: name, namespace: h.namespace)["data"]?["v"]?.stringValue == "\(Self.kills)")
            }
            #expect(try await h.inventory() == Set(names), "the inventory lists exactly what git declares")
            #expect(h.cluster.api.requestCount(verb: "delete", resource: "configmaps") == 0, "nothing was deleted")
            #expect(Int(try sh(["git", "--git-dir", repo.bare, "rev-list", "--count", "main"])) == 1 + Self.kills, "the operator added no commit")
            print("RELIABILITY kill-sync points=apply:1...\(Self.kills) interrupted-before-applied=\(interrupted) converged=true")
        }
    }

    @Test("killed after the n-th deletion of a prune or before the inventory is saved: what left git is deleted, what is in git never")
    func killDuringPrune() async throws {
        try await withKillHarness { h in
            // A window of 20 ConfigMaps that moves by 5 each commit: 5 to create, 5 to prune.
            func window(_ k: Int) -> [String] { (k * 5..<(k * 5 + 20)).map { "cm\($0)" } }
            let repo = try UpstreamRepo(files: ["app.yaml": Self.configMaps(window(0), value: 0)])
            try await h.apply(spec: ["git": ["url": .string(repo.url), "pollInterval": "1s"],
                                     "sync": ["interval": "1h", "garbageCollection": ["enabled": true, "maxDeletePercent": 100]]])
            try await h.converge(to: try repo.head())
            h.cluster.api.resetRequestCounts()
            var interrupted = 0
            for k in 1...Self.kills {
                try repo.commit(["app.yaml": Self.configMaps(window(k), value: k)], message: "window \(k)")
                // Killed after the n-th of the 5 deletions, or just before the inventory is saved.
                let point = k % 4 == 0 ? "inventory:1" : "prune:\((k - 1) % 5 + 1)"
                if try await h.runUntilCrash(at: point, head: try repo.head(), mustReach: false) { interrupted += 1 }
            }
            let reachedPoints = h.reached.withLock { $0 }
            #expect(reachedPoints >= Self.kills / 2, "most crash points were reached (\(reachedPoints) of \(Self.kills))")
            try await h.converge(to: try repo.head())
            let expected = Set(window(Self.kills))
            let live = Set(try await h.admin.list(.configMaps, namespace: h.namespace).items.compactMap { $0["metadata"]?["name"]?.stringValue }
                .filter { $0.hasPrefix("cm") })
            #expect(live == expected, "exactly the ConfigMaps in git exist")
            #expect(try await h.inventory() == expected)
            // Never deleted something in git at the time: every delete was of a name that had left the window.
            #expect(h.cluster.api.requestCount(verb: "delete", resource: "configmaps") <= 5 * Self.kills + 5)
            print("RELIABILITY kill-prune points=prune:1...5,inventory:1 kills=\(Self.kills) reached=\(reachedPoints) interrupted-before-applied=\(interrupted) deleted=\(h.cluster.api.requestCount(verb: "delete", resource: "configmaps")) converged=true")
        }
    }

    @Test("killed right after pushing an image update: one commit per new tag, none lost, none duplicated")
    func killDuringAutomation() async throws {
        let registry = try LocalRegistry()
        defer { registry.stop() }
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        try registry.push("team/app", tag: "1.0.0", created: start)
        try await withKillHarness { h in
            let repo = try UpstreamRepo(files: ["app.yaml": """
                apiVersion: apps/v1
                kind: Deployment
                metadata:
                  name: app
                  annotations:
                    fluxcd.io/automated: "true"
                    fluxcd.io/tag.app: semver:~1
                spec:
                  selector: {matchLabels: {app: app}}
                  template:
                    metadata: {labels: {app: app}}
                    spec:
                      containers:
                      - name: app
                        image: \(registry.host)/team/app:1.0.0

                """])
            try await h.apply(spec: ["git": ["url": .string(repo.url), "pollInterval": "1s"], "sync": ["interval": "1h"],
                                     "registry": ["insecureHosts": [.string(registry.host)], "pollInterval": "1s"], "automation": ["interval": "1s"]])
            var interrupted = 0
            for k in 1...Self.kills {
                try registry.push("team/app", tag: "1.0.\(k)", created: start.addingTimeInterval(Double(k) * 60))
                // Killed right after the push, before the status (or anything else) records it.
                if try await h.runUntilCrash(at: "push:1", head: nil) { interrupted += 1 }
            }
            // Restarted for good: the newest tag is committed and applied.
            let latest = "\(registry.host)/team/app:1.0.\(Self.kills)"
            let done = try await h.untilRunning {
                let image = try? await h.admin.get(.deployments, name: "app", namespace: h.namespace)["spec"]?["template"]?["spec"]?["containers"]?.arrayValue?.first?["image"]?.stringValue
                return image == latest
            }
            #expect(done, "the newest tag reaches the cluster")
            let subjects = try sh(["git", "--git-dir", repo.bare, "log", "--format=%s", "main"]).split(separator: "\n").map(String.init)
            let releases = subjects.filter { $0.hasPrefix("Auto-release ") }
            let tags = releases.map { String($0.split(separator: ":").last ?? "") }
            #expect(Set(tags).count == tags.count, "no tag was committed twice: \(releases)")
            #expect(tags.first == "1.0.\(Self.kills)", "the last commit is the newest tag")
            #expect(tags == tags.sorted { (SemanticVersionish($0)) > (SemanticVersionish($1)) }, "tags only move forward: \(tags)")
            #expect(subjects.count == 1 + releases.count, "no other commit: \(subjects)")
            print("RELIABILITY kill-automation points=push:1 kills=\(Self.kills) interrupted=\(interrupted) auto-release-commits=\(releases.count) duplicates=\(tags.count - Set(tags).count)")
        }
    }

    static func configMaps(_ names: [String], value: Int) -> String {
        names.map { "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \($0)\ndata:\n  v: \"\(value)\"\n" }.joined(separator: "---\n")
    }
}

/// Orders `1.0.10` after `1.0.9`.
struct SemanticVersionish: Comparable {
    let parts: [Int]
    init(_ s: String) { parts = s.split(separator: ".").map { Int($0) ?? 0 } }
    static func < (a: Self, b: Self) -> Bool { a.parts.lexicographicallyPrecedes(b.parts) }
}

/// The emulator in process, and `flotilla run` as a child process that can be killed.
final class KillHarness: Sendable {
    let cluster: TestCluster
    let admin: KubeClient
    let namespace = "kills"
    let kubeconfig: String
    let workDir: String
    /// Crash points the operator actually reached.
    let reached = Mutex(0)

    init(cluster: TestCluster) async throws {
        self.cluster = cluster
        admin = try cluster.client()
        let dir = tempDir("kills")
        kubeconfig = dir + "/kubeconfig"
        workDir = dir + "/work"
        try cluster.kubeconfig(users: ["admin"]).write(toFile: kubeconfig, atomically: true, encoding: .utf8)
        _ = try await admin.create(.namespaces, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(namespace)]])
        _ = try await admin.create(.customResourceDefinitions, try YAML.decode(FluxInstanceCRD.yaml))
        let admin = admin
        _ = try await eventually { (try? await admin.list(FluxInstance.resourceType)) != nil }
    }

    func apply(spec: JSONValue) async throws {
        _ = try await admin.apply(["apiVersion": .string(Flotilla.apiVersion), "kind": "FluxInstance",
                                   "metadata": ["name": "apps", "namespace": .string(namespace)], "spec": spec],
                                  as: FluxInstance.resourceType, fieldManager: "kubectl", force: true)
    }

    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["FLOTILLA_BIN"] { return path }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/flotilla").path
    }

    func start(environment: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["run", "--kubeconfig", kubeconfig, "--work-dir", workDir, "--metrics-address", "", "--log-level", "error"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Runs the operator with `FLOTILLA_CRASH_AT=point` until it kills itself there (SIGKILL, at
    /// most 30 s); true when the head was not yet applied then.
    /// A point that may legitimately not come (fewer deletions than n left after an earlier kill)
    /// is given 10 s (`mustReach: false`); the run is then killed there and `reached` not counted.
    func runUntilCrash(at point: String, head: String?, mustReach: Bool = true) async throws -> Bool {
        let process = try start(environment: ["FLOTILLA_CRASH_AT": point])
        let deadline = ContinuousClock.now + .seconds(mustReach ? 30 : 10)
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        let crashed = !process.isRunning
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        if mustReach {
            #expect(crashed && process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL, "the operator reached \(point)")
        }
        if crashed { reached.withLock { $0 += 1 } }
        guard let head else { return true }
        return try await admin.get(FluxInstance.self, name: "apps", namespace: namespace).status?.lastAppliedRevision != head
    }

    /// Runs the operator until `condition` holds (60 s at most), then stops it with SIGTERM.
    func untilRunning(_ condition: @escaping @Sendable () async throws -> Bool) async throws -> Bool {
        let process = try start()
        let reached = try await eventually(timeout: .seconds(60), condition)
        process.terminate()
        process.waitUntilExit()
        return reached
    }

    func converge(to head: String) async throws {
        let admin = admin, namespace = namespace
        let reached = try await untilRunning {
            let status = try await admin.get(FluxInstance.self, name: "apps", namespace: namespace).status
            return status?.lastAppliedRevision == head && status?.conditions?.first { $0.type == "Ready" }?.status == "True"
        }
        #expect(reached, "the instance applies \(head.prefix(7)) after the kills")
    }

    /// The names in the instance's inventory.
    func inventory() async throws -> Set<String> {
        let data = try await admin.get(.configMaps, name: Flotilla.inventoryPrefix + "apps", namespace: namespace)["data"]?["objects"]?.stringValue ?? ""
        return Set(data.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            return fields.count == 5 ? String(fields[3]) : nil
        }.filter { $0.hasPrefix("cm") })
    }
}

func withKillHarness(_ body: (KillHarness) async throws -> Void) async throws {
    try await withTestCluster { cluster in
        let harness = try await KillHarness(cluster: cluster)
        do {
            try await body(harness)
        } catch {
            try? await harness.admin.shutdown()
            throw error
        }
        try? await harness.admin.shutdown()
    }
}
