import Foundation
import KubeClient
import KubeEmulator
import KubeModel
import KubeTesting
import Testing

func temporaryDirectory() -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flotilla-tests-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// Writes through a close-on-exec descriptor: a process another test spawns meanwhile must not
/// inherit it, or executing the file (an exec plugin) fails with "Text file busy".
func write(_ text: String, to url: URL, mode: Int = 0o600) {
    let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(mode))
    precondition(fd >= 0, "cannot write \(url.path)")
    let bytes = Array(text.utf8)
    precondition(bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) } == bytes.count)
    close(fd)
}

@Suite("Kubeconfig and in-cluster configuration")
struct KubeConfigTests {
    @Test("several KUBECONFIG files merge with the first one winning; --context selects")
    func merging() throws {
        let dir = temporaryDirectory()
        write("""
            apiVersion: v1
            kind: Config
            clusters:
            - name: one
              cluster: {server: "https://one.example:6443", insecure-skip-tls-verify: true}
            users:
            - name: u1
              user: {token: first}
            contexts:
            - name: c1
              context: {cluster: one, user: u1, namespace: team-a}
            current-context: c1
            """, to: dir.appendingPathComponent("a"))
        write("""
            apiVersion: v1
            kind: Config
            clusters:
            - name: one
              cluster: {server: "https://shadowed.example"}
            - name: two
              cluster: {server: "https://two.example"}
            users:
            - name: u2
              user: {token: second}
            contexts:
            - name: c2
              context: {cluster: two, user: u2}
            current-context: c2
            """, to: dir.appendingPathComponent("b"))
        let env = ["KUBECONFIG": dir.appendingPathComponent("a").path + ":" + dir.appendingPathComponent("b").path]
        let current = try ClientConfiguration.resolve(environment: env)
        #expect(current.server == "https://one.example:6443")
        #expect(current.namespace == "team-a")
        #expect(current.credentials == .token("first"))
        #expect(current.insecureSkipTLSVerify)
        let other = try ClientConfiguration.resolve(context: "c2", environment: env)
        #expect(other.server == "https://two.example")
        #expect(other.credentials == .token("second"))
        #expect(other.namespace == "default")
    }

    @Test("clear errors: missing context, unreadable file, bad certificate")
    func errors() throws {
        let dir = temporaryDirectory()
        let path = dir.appendingPathComponent("config")
        write("""
            clusters:
            - name: c
              cluster: {server: "https://x", certificate-authority: missing-ca.crt}
            - name: bad
              cluster: {server: "https://x", certificate-authority-data: bm90IGEgY2VydA==}
            users:
            - name: u
              user: {token: t}
            contexts:
            - name: ctx
              context: {cluster: c, user: u}
            - name: badctx
              context: {cluster: bad, user: u}
            current-context: ctx
            """, to: path)
        let config = try KubeConfig.load(paths: [path.path])
        #expect(throws: KubeConfigError("context \"nope\" does not exist in the kubeconfig (have: badctx, ctx)")) {
            try ClientConfiguration.from(config, context: "nope")
        }
        #expect(throws: KubeConfigError("cannot read certificate-authority file \(dir.appendingPathComponent("missing-ca.crt").path)")) {
            try ClientConfiguration.from(config)
        }
        #expect(throws: KubeConfigError("certificate-authority of cluster \"bad\" is not a PEM certificate")) {
            try ClientConfiguration.from(config, context: "badctx")
        }
        #expect(throws: KubeConfigError.self) { try KubeConfig.load(paths: [dir.appendingPathComponent("absent").path]) }
    }

    @Test("the dev kubeconfig the emulator writes works as is, for every context")
    func emulatorKubeconfig() async throws {
        try await withTestCluster { cluster in
            let dir = temporaryDirectory()
            write(cluster.kubeconfig(), to: dir.appendingPathComponent("kc"))
            let config = try KubeConfig.load(paths: [dir.appendingPathComponent("kc").path])
            let admin = try KubeClient(configuration: ClientConfiguration.from(config))
            let bob = try KubeClient(configuration: ClientConfiguration.from(config, context: "bob"))
            defer { Task { try await admin.shutdown(); try await bob.shutdown() } }
            #expect(try await admin.list(.namespaces).items.count == 4)
            await #expect(throws: KubeError.self) { try await bob.list(.namespaces) }
        }
    }

    @Test("client certificates authenticate (common name = user, organizations = groups)")
    func clientCertificates() async throws {
        try await withTestCluster { cluster in
            let (cert, key) = try cluster.tls.issueClientCertificate(user: "carol", groups: ["developers"])
            let dir = temporaryDirectory()
            write(cert, to: dir.appendingPathComponent("carol.crt"))
            write(key, to: dir.appendingPathComponent("carol.key"))
            write("""
                clusters:
                - name: emu
                  cluster:
                    server: \(cluster.server)
                    certificate-authority-data: \(Data(cluster.tls.caCertificatePEM.utf8).base64EncodedString())
                users:
                - name: carol
                  user: {client-certificate: carol.crt, client-key: carol.key}
                contexts:
                - name: carol
                  context: {cluster: emu, user: carol}
                current-context: carol
                """, to: dir.appendingPathComponent("config"))
            let config = try ClientConfiguration.from(try KubeConfig.load(paths: [dir.appendingPathComponent("config").path]))
            let client = try KubeClient(configuration: config)
            defer { Task { try await client.shutdown() } }
            do {
                _ = try await client.list(.secrets, namespace: "default")
                Issue.record("carol may not list secrets")
            } catch let error as KubeError {
                #expect(error.isForbidden)
                #expect(error.message.contains(#"User "carol" cannot list resource "secrets""#), "\(error)")
            }
            #expect(try await client.canI(verb: "create", group: "authorization.k8s.io", resource: "selfsubjectaccessreviews"), "system:basic-user via system:authenticated")
            #expect(try await client.canI(verb: "list", resource: "secrets", namespace: "default") == false)
        }
    }

    @Test("in-cluster configuration re-reads a rotated ServiceAccount token")
    func inClusterRotation() async throws {
        try await withTestCluster { cluster in
            let dir = temporaryDirectory()
            write(cluster.api.token(for: "bob")!, to: dir.appendingPathComponent("token"))
            write(cluster.tls.caCertificatePEM, to: dir.appendingPathComponent("ca.crt"))
            write("kube-system", to: dir.appendingPathComponent("namespace"))
            var config = try ClientConfiguration.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": String(cluster.port)],
                                                           serviceAccountDirectory: dir.path)
            config.maxRetries = 0
            #expect(config.namespace == "kube-system")
            #expect(config.server == cluster.server)
            let client = try KubeClient(configuration: config)
            defer { Task { try await client.shutdown() } }
            await #expect(throws: KubeError.self) { try await client.list(.namespaces) }
            try await Task.sleep(for: .milliseconds(1100))
            write(cluster.api.token(for: "admin")!, to: dir.appendingPathComponent("token"))
            try await Task.sleep(for: .milliseconds(1100))
            #expect(try await client.list(.namespaces).items.count == 4, "the rotated token is used")
        }
    }

    @Test("an exec plugin's token is cached until it expires, then fetched again")
    func execPlugin() async throws {
        try await withTestCluster { cluster in
            let dir = temporaryDirectory()
            let counter = dir.appendingPathComponent("calls")
            let script = dir.appendingPathComponent("plugin.sh")
            // The first call hands out an already expired token; later ones a token valid for an hour.
            write("""
                #!/bin/sh
                echo x >> "\(counter.path)"
                n=$(wc -l < "\(counter.path)")
                if [ "$n" -eq 1 ]; then exp="2000-01-01T00:00:00Z"; else exp="$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)"; fi
                test -n "$KUBERNETES_EXEC_INFO" || exit 3
                printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}' "$TOKEN" "$exp"
                """, to: script, mode: 0o755)
            let config = ClientConfiguration(server: cluster.server,
                                             credentials: .exec(.init(command: script.path, args: [], env: ["TOKEN": cluster.api.token(for: "admin")!],
                                                                      apiVersion: "client.authentication.k8s.io/v1")),
                                             caCertificatePEM: Array(cluster.tls.caCertificatePEM.utf8))
            let client = try KubeClient(configuration: config)
            defer { Task { try await client.shutdown() } }
            func calls() -> Int { (try? String(contentsOf: counter, encoding: .utf8))?.split(separator: "\n").count ?? 0 }
            _ = try await client.list(.namespaces)
            #expect(calls() == 1)
            _ = try await client.list(.namespaces)
            #expect(calls() == 2, "the expired token was refreshed")
            _ = try await client.list(.namespaces)
            _ = try await client.list(.namespaces)
            #expect(calls() == 2, "a valid token is cached")
        }
    }

    @Test("a failing exec plugin, found on PATH, fails the request with its status and stderr")
    func execPluginFails() async throws {
        try await withTestCluster { cluster in
            let config = ClientConfiguration(server: cluster.server,
                                             credentials: .exec(.init(command: "sh", args: ["-c", "echo 'no credentials for you' >&2; exit 7"], env: [:],
                                                                      apiVersion: "client.authentication.k8s.io/v1")),
                                             caCertificatePEM: Array(cluster.tls.caCertificatePEM.utf8))
            let client = try KubeClient(configuration: config)
            defer { Task { try await client.shutdown() } }
            do {
                _ = try await client.list(.namespaces)
                Issue.record("the request went through without a credential")
            } catch {
                let message = "\(error)"
                #expect(message.contains("exec credential plugin sh exited with status 7"), "\(message)")
                #expect(message.contains("no credentials for you"), "\(message)")
            }
        }
    }
}
