import FlotillaAPI
import Foundation
import GitSource
import GitTesting
import KubeClient
import KubeModel
import KubeTesting
import Operator
import Testing

/// The source step: credentials from the Secret the instance names, host keys, a generated deploy
/// key when there is none, and bad input (a missing Secret, a wrong URL) reported on the status
/// without stopping other instances.
@Suite("Source step", .serialized)
struct SourceStepTests {
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

    @Test("a missing Secret is reported on the status; a wrong URL is GitFetchFailed; other instances stay Ready")
    func badInputIsolated() async throws {
        let up = try UpstreamRepo(files: ["a.yaml": cm("a")])
        try await withOperator(namespaces: ["team-a"]) { f in
            try await f.apply("good", namespace: "team-a", spec: ["git": gitSpec(up.url)])
            try await f.apply("nosecret", namespace: "team-a", spec: ["git": gitSpec(up.url, ["secretRef": ["name": "missing"]])])
            try await f.apply("nowhere", namespace: "team-a", spec: ["git": gitSpec("file:///nonexistent/repo.git")])
            let missing = try await f.waitFor("nosecret", namespace: "team-a", reason: "InvalidSpec")
            #expect(missing?.status?.lastError == "Secret team-a/missing (spec.git.secretRef) not found")
            let nowhere = try await f.waitFor("nowhere", namespace: "team-a", reason: "GitFetchFailed")
            #expect(nowhere?.status?.lastError?.contains("/nonexistent/repo.git") == true)
            _ = try await f.waitFor("good", namespace: "team-a", reason: "Synced", revision: try up.head())
        }
    }
}
