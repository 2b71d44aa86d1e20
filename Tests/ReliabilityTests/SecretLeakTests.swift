import FlotillaAPI
import Foundation
import GitTesting
import KubeClient
import KubeModel
import KubeTesting
import Testing

/// Secrets never leave their Secrets: values planted in a git credential Secret, a registry
/// docker config, a Secret manifest the instance applies (and then changes), and a generated
/// deploy key are searched for in everything the operator shows — its log at trace level, every
/// FluxInstance (status included), every Event — and none is found.
@Suite("Security: no Secret value in logs, status or Events", .serialized)
struct SecretLeakTests {
    @Test("planted secret values appear in no log line, status or Event, at trace level")
    func plantedSecrets() async throws {
        let planted = ["git-pw": "planted-git-password-7Qx", "registry-pw": "planted-registry-password-9Kd",
                       "manifest": "planted-manifest-value-3Jz", "changed": "planted-changed-value-5Mv", "sops": "planted-sops-value-8Rw"]
        let age = try AgeKey()
        let ageSecretKey = try #require(age.identity.split(separator: "\n").first { $0.hasPrefix("AGE-SECRET-KEY-") }.map(String.init))
        let registry = try LocalRegistry(auth: .basic(user: "robot", password: planted["registry-pw"]!))
        defer { registry.stop() }
        try registry.push("team/app", tag: "1.0.0", created: Date(timeIntervalSince1970: 1_700_000_000))
        try registry.push("team/app", tag: "1.0.1", created: Date(timeIntervalSince1970: 1_700_000_600))
        try await withKillHarness { h in
            let ns = h.namespace
            let secretManifest = { (value: String) in
                "apiVersion: v1\nkind: Secret\nmetadata: {name: app-secret}\nstringData:\n  token: \(value)\n"
            }
            let deployment = """
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: app, annotations: {fluxcd.io/automated: "true"}}
                spec:
                  selector: {matchLabels: {app: app}}
                  template:
                    metadata: {labels: {app: app}}
                    spec:
                      containers: [{name: app, image: "\(registry.host)/team/app:1.0.0"}]

                """
            let encrypted = try age.sopsEncrypt("apiVersion: v1\nkind: Secret\nmetadata: {name: sops-secret}\nstringData:\n  token: \(planted["sops"]!)\n",
                                                encryptedRegex: "^(data|stringData)$")
            let repo = try UpstreamRepo(files: ["secret.yaml": secretManifest(planted["manifest"]!), "app.yaml": deployment, "sops-secret.yaml": encrypted])
            _ = try await h.admin.create(.secrets, ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "sops-keys", "namespace": .string(ns)],
                                                    "stringData": ["identity.agekey": .string(age.identity)]])
            let docker = #"{"auths":{"\#(registry.host)":{"username":"robot","password":"\#(planted["registry-pw"]!)"}}}"#
            _ = try await h.admin.create(.secrets, ["apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                                                    "metadata": ["name": "pull", "namespace": .string(ns)],
                                                    "stringData": [".dockerconfigjson": .string(docker)]])
            _ = try await h.admin.create(.secrets, ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "git", "namespace": .string(ns)],
                                                    "stringData": ["username": "u", "password": .string(planted["git-pw"]!)]])
            try await h.apply(spec: ["git": ["url": .string(repo.url), "pollInterval": "1s", "secretRef": ["name": "git"]], "sync": ["interval": "1h"],
                                     "registry": ["insecureHosts": [.string(registry.host)], "pollInterval": "1s", "dockerConfigSecretRef": ["name": "pull"]],
                                     "automation": ["interval": "1s"], "decryption": ["provider": "sops", "secretRef": ["name": "sops-keys"]]])
            _ = try await h.admin.apply(["apiVersion": .string(Flotilla.apiVersion), "kind": "FluxInstance",
                                         "metadata": ["name": "ssh", "namespace": .string(ns)],
                                         "spec": ["git": ["url": "ssh://git@127.0.0.1:1/repo.git", "pollInterval": "1s", "timeout": "1s"]]],
                                        as: FluxInstance.resourceType, fieldManager: "kubectl", force: true)
            let log = tempDir("leaks") + "/operator.log"
            FileManager.default.createFile(atPath: log, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: KillHarness.binary)
            process.arguments = ["run", "--kubeconfig", h.kubeconfig, "--work-dir", h.workDir, "--metrics-address", "", "--log-level", "trace"]
            process.standardOutput = FileHandle(forWritingAtPath: log)
            process.standardError = process.standardOutput
            try process.run()
            defer { process.terminate(); process.waitUntilExit() }
            // Automation commits (an authenticated registry scan), the Secret is applied, then changed.
            let admin = h.admin
            #expect(try await eventually(timeout: .seconds(40)) {
                try sh(["git", "--git-dir", repo.bare, "log", "-1", "--format=%s", "main"]).hasPrefix("Auto-release")
            }, "automation scanned the authenticated registry")
            try sh(["git", "pull", "-q", "--rebase", "origin", "main"], cwd: repo.work)  // the automation's commit
            try repo.commit(["secret.yaml": secretManifest(planted["changed"]!)], message: "rotate")
            let head = try repo.head()
            #expect(try await eventually(timeout: .seconds(30)) {
                try await admin.get(FluxInstance.self, name: "apps", namespace: ns).status?.lastAppliedRevision == head
            })
            let secret = try await admin.get(Secret.self, name: "app-secret", namespace: ns)
            #expect(secret.value("token").map { String(decoding: $0, as: UTF8.self) } == planted["changed"], "the Secret was applied")
            let decrypted = try await admin.get(Secret.self, name: "sops-secret", namespace: ns)
            #expect(decrypted.value("token").map { String(decoding: $0, as: UTF8.self) } == planted["sops"], "the SOPS Secret was decrypted and applied")
            // The SSH instance generated a deploy key: its private part is planted too.
            var deployKey = ""
            #expect(try await eventually(timeout: .seconds(20)) {
                deployKey = (try? await admin.get(Secret.self, name: "flotilla-ssh-deploy-key", namespace: ns))?.value("identity")
                    .map { String(decoding: $0, as: UTF8.self) } ?? ""
                return !deployKey.isEmpty
            })
            let keyLines = deployKey.split(separator: "\n").filter { !$0.hasPrefix("-----") && $0.count > 20 }.map(String.init)
            try await Task.sleep(for: .seconds(2))

            let instances = try await admin.list(FluxInstance.resourceType, namespace: ns).items.map { $0.jsonString() }.joined()
            let events = try await admin.list(.events, namespace: ns).items.map { $0.jsonString() }.joined()
            let logText = try String(contentsOfFile: log, encoding: .utf8)
            #expect(logText.contains("instance=kills/apps") && logText.contains("automation pushed"), "the log has the syncs and the automation to search")
            #expect(instances.contains("publicKey") && events.contains("Synced"), "there were status and Events to search")
            for (name, value) in planted {
                let base64 = Data(value.utf8).base64EncodedString()
                for (place, text) in [("log", logText), ("FluxInstances", instances), ("Events", events)] {
                    #expect(!text.contains(value) && !text.contains(base64), "\(name) leaked into \(place)")
                }
            }
            for line in keyLines + [ageSecretKey] {
                for (place, text) in [("log", logText), ("FluxInstances", instances), ("Events", events)] {
                    #expect(!text.contains(line), "the private deploy key leaked into \(place)")
                }
            }
            print("RELIABILITY secrets planted=\(planted.count + 2) searched-bytes=\(logText.count + instances.count + events.count) leaks=0")
        }
    }
}
