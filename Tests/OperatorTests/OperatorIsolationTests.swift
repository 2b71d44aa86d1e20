import FlotillaAPI
import Foundation
import GitSource
import GitTesting
import KubeClient
import KubeModel
import KubeTesting
import Operator
import Testing

@Suite("The operator: credentials, host keys and isolation between instances", .serialized)
struct OperatorIsolationTests {
    func secret(_ name: String, namespace: String, _ data: [String: String]) -> JSONValue {
        ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": .string(name), "namespace": .string(namespace)],
         "stringData": .object(data.mapValues { .string($0) })]
    }

    @Test("over SSH: the right key syncs; a wrong deploy key is AuthenticationFailed; an unknown host is HostKeyUnknown with its fingerprint")
    func sshCredentials() async throws {
        let up = try UpstreamRepo(files: ["a.yaml": cm("a")])
        let key = DeployKey.generateEd25519(comment: "right")
        let wrong = DeployKey.generateEd25519(comment: "wrong")
        let sshd = try TestSSHD(authorizedKeys: [key.publicKey])
        defer { sshd.stop() }
        let url = sshd.url(up.bare)
        try await withOperator(namespaces: ["team-a"]) { f in
            for (name, data) in [("right", ["identity": key.privateKeyOpenSSH, "known_hosts": sshd.hostKeyLine]),
                                 ("wrong", ["identity": wrong.privateKeyOpenSSH, "known_hosts": sshd.hostKeyLine]),
                                 ("nohost", ["identity": key.privateKeyOpenSSH])] {
                _ = try await f.client.create(.secrets, secret(name, namespace: "team-a", data))
                try await f.apply(name, namespace: "team-a", spec: ["git": gitSpec(url, ["secretRef": ["name": .string(name)]])])
            }
            let right = try await f.waitFor("right", namespace: "team-a", reason: "Synced", revision: try up.head())
            // The public key without its comment: what to add to the repository as a deploy key.
            #expect(right?.status?.identity?.publicKey == key.publicKey.split(separator: " ").prefix(2).joined(separator: " "))
            #expect(right?.status?.identity?.gitHost == "127.0.0.1")
            let denied = try await f.waitFor("wrong", namespace: "team-a", reason: "AuthenticationFailed")
            #expect(denied?.status?.conditions?.contains { $0.type == "Stalled" && $0.status == "True" } == true)
            let unknown = try await f.waitFor("nohost", namespace: "team-a", reason: "HostKeyUnknown")
            let fingerprint = KnownHosts(sshd.hostKeyLine).fingerprints(host: "127.0.0.1", port: sshd.port).first ?? "?"
            #expect(unknown?.status?.lastError?.contains(fingerprint) == true, "\(unknown?.status?.lastError ?? "") names \(fingerprint)")
        }
    }

    @Test("an SSH remote without a Secret gets a generated deploy key, shown in the status")
    func generatedDeployKey() async throws {
        let silent = try SilentServer()
        try await withOperator(namespaces: ["team-a"]) { f in
            try await f.apply("apps", namespace: "team-a", spec: ["git": gitSpec("ssh://git@127.0.0.1:\(silent.port)/repo.git", ["timeout": "1s"])])
            #expect(try await eventually {
                try await f.instance("apps", namespace: "team-a")?.status?.identity?.publicKey?.hasPrefix("ssh-ed25519 ") == true
            })
            let stored = try await f.client.get(Secret.self, name: "flotilla-apps-deploy-key", namespace: "team-a")
            let publicKey = try await f.instance("apps", namespace: "team-a")?.status?.identity?.publicKey
            #expect(stored.value("identity").flatMap { DeployKey.publicKey(ofPrivateKey: String(decoding: $0, as: UTF8.self)) } == publicKey)
        }
    }

    @Test("50 instances in one process with one hung remote: the other 49 stay Ready and follow a commit on time")
    func fiftyWithOneHung() async throws {
        var files: [String: String] = [:]
        for i in 0..<49 { files["apps/\(i)/cm.yaml"] = cm("cm-\(i)") }
        let up = try UpstreamRepo(files: files)
        let silent = try SilentServer()
        try await withOperator(namespaces: ["fleet"], concurrency: 4) { f in
            try await f.apply("hung", namespace: "fleet", spec: ["git": gitSpec("ssh://git@127.0.0.1:\(silent.port)/repo.git", ["timeout": "20s"])])
            for i in 0..<49 {
                try await f.apply("i\(i)", namespace: "fleet", spec: ["git": gitSpec(up.url, poll: "1s", ["paths": [.string("apps/\(i)")]])])
            }
            let first = try up.head()
            func appliedCount(_ revision: String) async throws -> Int {
                let list = try await f.client.list(FluxInstance.resourceType, namespace: "fleet")
                return list.items.filter { $0["status"]?["lastAppliedRevision"]?.stringValue == revision && $0["metadata"]?["name"] != "hung" }.count
            }
            #expect(try await eventually(timeout: .seconds(60)) { try await appliedCount(first) == 49 }, "all 49 Ready")
            var changes: [String: String?] = [:]
            for i in 0..<49 { changes["apps/\(i)/cm.yaml"] = cm("cm-\(i)", value: "2") }
            let next = try up.commit(changes, message: "change all")
            let started = ContinuousClock.now
            #expect(try await eventually(timeout: .seconds(30)) { try await appliedCount(next) == 49 }, "all 49 follow the commit")
            let took = ContinuousClock.now - started
            #expect(took < .seconds(15), "on time while the hung remote is still hanging: \(took)")
            let hung = try await f.instance("hung", namespace: "fleet")
            #expect(hung?.status?.lastAppliedRevision == nil)
            #expect(f.supervisor.running.count == 50)
        }
    }
}
