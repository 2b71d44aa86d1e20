import FlotillaAPI
import Foundation
import KubeClient
import KubeModel
import Manifests
import Primitives

/// The demo that `flotilla dev` starts with: a bare git repository with sample manifests for two
/// teams, a checkout to commit in, and one FluxInstance per team.
enum DemoRepository {
    static let files: [String: String] = [
        "teams/a/web.yaml": """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: web
            spec:
              selector:
                matchLabels: {app: web}
              template:
                metadata:
                  labels: {app: web}
                spec:
                  containers:
                  - name: web
                    image: nginx:1.25.3
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: web
            spec:
              selector: {app: web}
              ports:
              - {port: 80, targetPort: 80}

            """,
        "teams/a/config.yaml": """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: settings
            data:
              greeting: hello from team a

            """,
        "teams/b/config.yaml": """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: settings
            data:
              greeting: hello from team b

            """,
        "README.md": "Flotilla demo repository: edit teams/a or teams/b, commit and push; the instances apply it.\n",
    ]

    /// Creates (or reuses) `<dir>/repo.git` and `<dir>/checkout`; returns the repository's URL.
    static func create(at dir: String) async throws -> String {
        let bare = dir + "/repo.git"
        let url = "file://" + bare
        if FileManager.default.fileExists(atPath: bare + "/HEAD") { return url }
        let checkout = dir + "/checkout"
        try FileManager.default.createDirectory(atPath: checkout, withIntermediateDirectories: true)
        for (path, text) in files {
            let full = checkout + "/" + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: full, atomically: true, encoding: .utf8)
        }
        try await git("git init -q --bare -b main \(quote(bare))", in: dir)
        try await git("git init -q -b main && git add -A && git commit -q -m 'Demo manifests' && git remote add origin \(quote(bare)) && git push -q -u origin main",
                      in: checkout)
        return url
    }

    static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    static func git(_ command: String, in dir: String) async throws {
        let env = ["PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": dir, "GIT_AUTHOR_NAME": "Flotilla demo", "GIT_AUTHOR_EMAIL": "demo@flotilla.dev",
                   "GIT_COMMITTER_NAME": "Flotilla demo", "GIT_COMMITTER_EMAIL": "demo@flotilla.dev"]
        let result = try await Subprocess.shell(command, in: dir, environment: env, limits: .init(timeout: .seconds(30)))
        guard result.outcome == .exited(0) else {
            throw DemoError(message: "`\(command)` failed (\(result.outcome)): \(result.stderrTail)")
        }
    }

    struct DemoError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// The demo's webhook token (made once, kept beside the repository).
    static func webhookToken(in dir: String) throws -> String {
        let file = dir + "/webhook-token"
        if let token = try? String(contentsOfFile: file, encoding: .utf8), !token.isEmpty { return token }
        let token = (0..<20).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        _ = FileManager.default.createFile(atPath: file, contents: Data(token.utf8), attributes: [.posixPermissions: 0o600])
        return token
    }

    /// A post-receive hook in the bare repository: every push posts a signed delivery (the generic
    /// receiver's `X-Signature: sha256=<HMAC>`) to each team's receiver, as a git host would.
    static func installHook(bare: String, receiver: String, token: String) throws {
        let teams = ["a", "b"].map { """
            curl -s -o /dev/null -X POST -H "X-Signature: sha256=$sig" -H "X-Delivery: $id-\($0)" \
              -H 'Content-Type: application/json' --data "$body" '\(receiver)/hooks/team-\($0)/webhook' || true
            """ }.joined(separator: "\n")
        let hook = """
            #!/bin/sh
            # Written by `flotilla dev`: tells the demo instances about each push (see docs/webhooks.md).
            body='{"event":"push"}'
            sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac \(quote(token)) | sed 's/^.* //')
            id=$(date +%s%N)
            \(teams)

            """
        let path = bare + "/hooks/post-receive"
        _ = FileManager.default.createFile(atPath: path, contents: Data(hook.utf8), attributes: [.posixPermissions: 0o755])
    }

    /// Installs the CRD, the teams' namespaces, their webhook Secrets and FluxInstances (a push
    /// wakes them through the receiver; they also poll every minute).
    static func install(client: KubeClient, repositoryURL url: String, webhookToken: String) async throws {
        try await installCRD(client: client)
        for team in ["a", "b"] {
            let namespace = "team-\(team)"
            _ = try await client.apply(["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(namespace)]],
                                       as: .namespaces, fieldManager: "flotilla-dev", force: true)
            _ = try await client.apply(["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "webhook", "namespace": .string(namespace)],
                                        "stringData": ["token": .string(webhookToken)]], as: .secrets, fieldManager: "flotilla-dev", force: true)
            let instance: JSONValue = [
                "apiVersion": .string(Flotilla.apiVersion), "kind": "FluxInstance",
                "metadata": ["name": "apps", "namespace": .string(namespace)],
                "spec": ["git": ["url": .string(url), "paths": [.string("teams/\(team)")], "pollInterval": "1m"],
                         "sync": ["interval": "1m", "garbageCollection": ["enabled": true], "wait": .bool(team == "a"), "healthTimeout": "2m"],
                         "receiver": ["type": "generic", "secretRef": ["name": "webhook"]]],
            ]
            _ = try await client.apply(instance, as: FluxInstance.resourceType, fieldManager: "flotilla-dev", force: true)
        }
    }

    /// The FluxInstance CRD, once the API serves FluxInstances.
    static func installCRD(client: KubeClient) async throws {
        let crd = try YAML.decode(FluxInstanceCRD.yaml)
        _ = try await client.apply(crd, as: .customResourceDefinitions, fieldManager: "flotilla-dev", force: true)
        for _ in 0..<100 {
            if (try? await client.list(FluxInstance.resourceType, pageSize: 1, firstPageOnly: true)) != nil { break }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
