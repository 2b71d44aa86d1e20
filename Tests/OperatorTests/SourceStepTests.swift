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

    @Test("a Secret with only known_hosts: a generated key, kept where generatedKey says, in the status; once authorized the instance syncs over SSH; regenerate keeps known_hosts; a user's own key is never replaced")
    func knownHostsOnlySecret() async throws {
        let up = try UpstreamRepo(files: ["a.yaml": cm("a")])
        let up2 = try UpstreamRepo(files: ["b.yaml": cm("b")])
        let sshd = try TestSSHD(authorizedKeys: [])
        defer { sshd.stop() }
        let url = sshd.url(up.bare)
        let other = try TestSSHD(authorizedKeys: [])  // another host key: a mismatch for the pinned one
        defer { other.stop() }
        let mismatched = sshd.hostKeyLine.replacingOccurrences(of: sshd.hostKeyLine.split(separator: " ")[2], with: other.hostKeyLine.split(separator: " ")[2])
        try await withOperator(namespaces: ["team-a"]) { f in
            _ = try await f.client.create(.secrets, secret("hosts", namespace: "team-a", ["known_hosts": sshd.hostKeyLine]))
            _ = try await f.client.create(.secrets, secret("hosts-in", namespace: "team-a", ["known_hosts": sshd.hostKeyLine]))
            _ = try await f.client.create(.secrets, secret("bad-hosts", namespace: "team-a", ["known_hosts": mismatched]))
            try await f.apply("managed", namespace: "team-a", spec: ["git": gitSpec(url, ["secretRef": ["name": "hosts"], "timeout": "5s"])])
            try await f.apply("inref", namespace: "team-a", spec: ["git": gitSpec(sshd.url(up2.bare), ["secretRef": ["name": "hosts-in"], "generatedKey": "SecretRef", "timeout": "5s"])])
            try await f.apply("mismatch", namespace: "team-a", spec: ["git": gitSpec(url, ["secretRef": ["name": "bad-hosts"], "timeout": "5s"])])

            // Not yet authorized: the key is published, the host is trusted, the server refuses.
            let denied = try await f.waitFor("managed", namespace: "team-a", reason: "AuthenticationFailed")
            let managedKey = try #require(denied?.status?.identity?.publicKey)
            let stored = try await f.client.get(Secret.self, name: "flotilla-managed-deploy-key", namespace: "team-a")
            #expect(stored.value("identity").flatMap { DeployKey.publicKey(ofPrivateKey: String(decoding: $0, as: UTF8.self)) } == managedKey)
            let deniedRef = try await f.waitFor("inref", namespace: "team-a", reason: "AuthenticationFailed")
            let refKey = try #require(deniedRef?.status?.identity?.publicKey)
            let hostsIn = try await f.client.get(Secret.self, name: "hosts-in", namespace: "team-a")
            #expect(hostsIn.value("identity").flatMap { DeployKey.publicKey(ofPrivateKey: String(decoding: $0, as: UTF8.self)) } == refKey, "written into the user's Secret")
            #expect(hostsIn.value("known_hosts").map { String(decoding: $0, as: UTF8.self) } == sshd.hostKeyLine, "known_hosts kept")
            #expect(hostsIn.metadata.annotations?["flotilla.dev/generated-identity"] == "true")
            #expect((try? await f.client.get(.secrets, name: "flotilla-inref-deploy-key", namespace: "team-a")) == nil, "no managed Secret for SecretRef")

            // The user adds the keys to the git host: both sync over SSH, and the sync tag is pushed.
            try sshd.authorize(managedKey)
            try sshd.authorize(refKey)
            let head = try up.head()
            _ = try await f.waitFor("managed", namespace: "team-a", reason: "Synced", revision: head, timeout: .seconds(60))
            _ = try await f.waitFor("inref", namespace: "team-a", reason: "Synced", revision: try up2.head(), timeout: .seconds(60))
            #expect(try await eventually { (try? sh(["git", "--git-dir", up.bare, "rev-parse", "flux-sync^{commit}"])) == head }, "sync tag pushed over SSH")
            #expect(try await eventually { (try? sh(["git", "--git-dir", up2.bare, "rev-parse", "flux-sync^{commit}"])) == (try? up2.head()) })

            // The pinned host key differs from the server's: refused, naming the server's fingerprint.
            let mismatch = try await f.waitFor("mismatch", namespace: "team-a", reason: "HostKeyMismatch", timeout: .seconds(30))
            let fingerprint = KnownHosts(sshd.hostKeyLine).fingerprints(host: "127.0.0.1", port: sshd.port).first ?? "?"
            #expect(mismatch?.status?.lastError?.contains(fingerprint) == true, "\(mismatch?.status?.lastError ?? "")")

            // Regenerate: a new key in the same place, known_hosts untouched.
            for name in ["inref", "managed"] {
                _ = try await f.client.patch(FluxInstance.resourceType, name: name, namespace: "team-a",
                                             ["metadata": ["annotations": ["requests.flotilla.dev/regen": #"{"action":"regenerate-identity"}"#]]])
            }
            #expect(try await eventually(timeout: .seconds(30)) {
                let keys = try await ["inref", "managed"].asyncMap { try await f.instance($0, namespace: "team-a")?.status?.identity?.publicKey }
                return keys[0] != refKey && keys[1] != managedKey && keys.allSatisfy { $0 != nil }
            }, "both keys replaced")
            let after = try await f.client.get(Secret.self, name: "hosts-in", namespace: "team-a")
            #expect(after.value("known_hosts").map { String(decoding: $0, as: UTF8.self) } == sshd.hostKeyLine)
            #expect(after.value("identity") != hostsIn.value("identity"))
            #expect(try await f.client.get(Secret.self, name: "hosts", namespace: "team-a").value("identity") == nil, "the managed store never writes the user's Secret")

            // Attacker: a Secret with the user's own identity is never overwritten, not even on request.
            let own = DeployKey.generateEd25519(comment: "own")
            _ = try await f.client.create(.secrets, secret("own", namespace: "team-a", ["identity": own.privateKeyOpenSSH, "known_hosts": sshd.hostKeyLine]))
            try await f.apply("own", namespace: "team-a", spec: ["git": gitSpec("ssh://root@127.0.0.1:1/none.git", ["secretRef": ["name": "own"], "generatedKey": "SecretRef", "timeout": "5s"])])
            _ = try await f.client.patch(FluxInstance.resourceType, name: "own", namespace: "team-a",
                                         ["metadata": ["annotations": ["requests.flotilla.dev/regen": #"{"action":"regenerate-identity"}"#]]])
            var answer: RequestResult?
            _ = try await eventually(timeout: .seconds(30)) {
                answer = try await f.instance("own", namespace: "team-a")?.status?.requests?.first { $0.id == "regen" }
                return answer != nil
            }
            #expect(answer?.state == "Failed" && answer?.message.contains("put a new `identity` there") == true, "\(String(describing: answer))")
            let ownAfter = try await f.client.get(Secret.self, name: "own", namespace: "team-a")
            #expect(ownAfter.value("identity").map { String(decoding: $0, as: UTF8.self) } == own.privateKeyOpenSSH)
        }
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for e in self { out.append(try await transform(e)) }
        return out
    }
}
