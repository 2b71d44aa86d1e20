import FlotillaAPI
import Foundation
import GitTesting
import KubeClient
import KubeModel
import KubeTesting
import Testing

/// Image automation end to end: a real docker-registry, a real git repository, the emulator.
@Suite("Automation step: image automation in the operator", .serialized)
struct AutomationStepTests {
    static func deployment(_ name: String, image: String, annotations: String) -> String {
        """
        # \(name): deployed by Flotilla. This comment must survive automation.
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: \(name)
          annotations:
        \(annotations)
        spec:
          selector:
            matchLabels: {app: \(name)}
          template:
            metadata:
              labels: {app: \(name)}
            spec:
              containers:
                - name: app
                  image: "\(image)"   # the tag is automated
                  ports: [{containerPort: 8080}]

        """
    }

    static let created = Date(timeIntervalSince1970: 1_700_000_000)

    @Test("a new tag in the registry → a commit in git that changes only the tag → the cluster runs it; locked and filtered workloads stay")
    func endToEnd() async throws {
        let registry = try LocalRegistry()
        defer { registry.stop() }
        for (i, tag) in ["1.0.0", "1.0.3", "1.1.0", "2.0.0"].enumerated() {
            try registry.push("team/app", tag: tag, created: Self.created.addingTimeInterval(Double(i) * 3600))
        }
        let image = "\(registry.host)/team/app"
        let web = Self.deployment("web", image: image + ":1.0.0", annotations: "    fluxcd.io/automated: \"true\"\n    fluxcd.io/tag.app: semver:~1.0")
        let locked = Self.deployment("frozen", image: image + ":1.0.0",
                                     annotations: "    fluxcd.io/automated: \"true\"\n    fluxcd.io/locked: \"true\"\n    fluxcd.io/locked_msg: incident")
        let legacy = Self.deployment("legacy", image: image + ":1.0.0", annotations: "    flux.weave.works/automated: \"true\"\n    flux.weave.works/tag.app: glob:1.*")
        let up = try UpstreamRepo(files: ["apps/web.yaml": web, "apps/frozen.yaml": locked, "apps/legacy.yaml": legacy])
        let initial = try up.head()
        try await withOperator(namespaces: ["team-a"]) { f in
            try await f.apply("apps", namespace: "team-a", spec: [
                "git": gitSpec(up.url, ["paths": ["apps"]]),
                "registry": ["insecureHosts": [.string(registry.host)], "pollInterval": "1s"],
                "automation": ["interval": "1s"],
            ])
            // Automation commits; the instance then applies its own commit.
            var head = initial
            let committed = try await eventually(timeout: .seconds(30)) {
                head = try up.head()
                return head != initial
            }
            #expect(committed, "automation pushed a commit")
            let message = try sh(["git", "--git-dir", up.bare, "log", "-1", "--format=%B", head])
            #expect(message.contains("Auto-release"))
            #expect(message.contains("team-a:deployment/web (app)"))
            let newWeb = try sh(["git", "--git-dir", up.bare, "show", "\(head):apps/web.yaml"]) + "\n"
            #expect(newWeb == web.replacingOccurrences(of: image + ":1.0.0", with: image + ":1.0.3"), "only the tag changed, comments and quotes kept")
            let newLegacy = try sh(["git", "--git-dir", up.bare, "show", "\(head):apps/legacy.yaml"]) + "\n"
            #expect(newLegacy == legacy.replacingOccurrences(of: image + ":1.0.0", with: image + ":1.1.0"), "glob:1.* picks the newest 1.x by creation time")
            #expect(try sh(["git", "--git-dir", up.bare, "show", "\(head):apps/frozen.yaml"]) + "\n" == locked, "a locked workload is untouched")

            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: head)
            let deployed = try await f.client.get(.deployments, name: "web", namespace: "team-a")
            #expect(deployed["spec"]?["template"]?["spec"]?["containers"]?.arrayValue?.first?["image"] == .string(image + ":1.0.3"))
            let status = try await f.instance("apps", namespace: "team-a")?.status?.images
            #expect(status?.lastCommit == head)
            #expect(status?.workloads?.first { $0.workload == "team-a:deployment/web" }?.latest == "1.0.3")

            // A new tag in the registry reaches the cluster without anyone touching git.
            try registry.push("team/app", tag: "1.0.4", created: Self.created.addingTimeInterval(5 * 3600))
            let reached = try await eventually(timeout: .seconds(30)) {
                let d = try await f.client.get(.deployments, name: "web", namespace: "team-a")
                return d["spec"]?["template"]?["spec"]?["containers"]?.arrayValue?.first?["image"] == .string(image + ":1.0.4")
            }
            #expect(reached, "the cluster runs 1.0.4")
            let commits = try sh(["git", "--git-dir", up.bare, "rev-list", "--count", "\(initial)..main"])
            #expect(commits == "2", "one commit per automation run that changed something, none for runs that did not")
        }
    }

    @Test("a read-only instance never pushes and reports what it would do; an invalid filter and an unreachable registry are errors in the status")
    func readOnlyAndErrors() async throws {
        let registry = try LocalRegistry()
        defer { registry.stop() }
        try registry.push("team/app", tag: "1.0.0", created: Self.created)
        try registry.push("team/app", tag: "1.0.1", created: Self.created.addingTimeInterval(60))
        let image = "\(registry.host)/team/app"
        let files = [
            "web.yaml": Self.deployment("web", image: image + ":1.0.0", annotations: "    fluxcd.io/automated: \"true\"\n    fluxcd.io/tag.app: semver:~1.0"),
            "bad.yaml": Self.deployment("bad", image: image + ":1.0.0", annotations: "    fluxcd.io/automated: \"true\"\n    fluxcd.io/tag.app: semver:not-a-range"),
            "gone.yaml": Self.deployment("gone", image: "127.0.0.1:1/team/app:1.0.0", annotations: "    fluxcd.io/automated: \"true\""),
        ]
        let up = try UpstreamRepo(files: files)
        let initial = try up.head()
        try await withOperator(namespaces: ["team-a"]) { f in
            try await f.apply("apps", namespace: "team-a", spec: [
                "git": gitSpec(up.url, ["readonly": true]),
                "registry": ["insecureHosts": [.string(registry.host), "127.0.0.1:1"], "pollInterval": "1s"],
                "automation": ["interval": "1s"],
            ])
            var images: ImagesStatus?
            let reported = try await eventually(timeout: .seconds(30)) {
                images = try await f.instance("apps", namespace: "team-a")?.status?.images
                return images?.error?.contains("read-only: would update team-a:deployment/web app to \(image):1.0.1") == true
            }
            #expect(reported, "\(String(describing: images))")
            #expect(images?.error?.contains("bad.yaml") == true && images?.error?.contains("not-a-range") == true)
            #expect(images?.workloads?.first { $0.workload == "team-a:deployment/gone" }?.error?.contains("127.0.0.1:1") == true)
            #expect(try up.head() == initial, "nothing pushed")
            #expect(try sh(["git", "--git-dir", up.bare, "tag", "-l"]).isEmpty, "read-only: not even the sync tag")
        }
    }

    @Test("credentials come from the pod's imagePullSecrets, read as the instance; another instance without them is refused, not served from the cache; excluded images are not scanned")
    func pullSecrets() async throws {
        let registry = try LocalRegistry(auth: .basic(user: "team-a", password: "pull-s3cret"))
        defer { registry.stop() }
        try registry.push("private/app", tag: "1.0.0", created: Self.created)
        try registry.push("private/app", tag: "1.0.1", created: Self.created.addingTimeInterval(60))
        try registry.push("vendor/tool", tag: "1.0.0", created: Self.created)
        try registry.push("vendor/tool", tag: "1.0.1", created: Self.created.addingTimeInterval(60))
        let image = "\(registry.host)/private/app"
        func app(_ name: String, pullSecret: Bool) -> String {
            Self.deployment(name, image: image + ":1.0.0", annotations: "    fluxcd.io/automated: \"true\"\n    fluxcd.io/tag.app: semver:~1.0")
                .replacingOccurrences(of: "      containers:\n", with: (pullSecret ? "      imagePullSecrets: [{name: regcred}]\n" : "") + "      containers:\n")
        }
        let vendored = Self.deployment("tool", image: "\(registry.host)/vendor/tool:1.0.0", annotations: "    fluxcd.io/automated: \"true\"")
        let withSecret = try UpstreamRepo(files: ["app.yaml": app("app", pullSecret: true), "tool.yaml": vendored])
        let without = try UpstreamRepo(files: ["app.yaml": app("app", pullSecret: false)])
        let (headA, headB) = (try withSecret.head(), try without.head())
        try await withOperator(namespaces: ["team-a", "team-b"]) { f in
            let auth = Data("team-a:pull-s3cret".utf8).base64EncodedString()
            let config = #"{"auths":{"\#(registry.host)":{"auth":"\#(auth)"}}}"#
            _ = try await f.client.create(.secrets, ["apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                                                     "metadata": ["name": "regcred", "namespace": "team-a"],
                                                     "data": [".dockerconfigjson": .string(Data(config.utf8).base64EncodedString())]])
            let registrySpec: JSONValue = ["insecureHosts": [.string(registry.host)], "pollInterval": "1s", "excludeImages": ["*/vendor/*"]]
            try await f.apply("a", namespace: "team-a", spec: ["git": gitSpec(withSecret.url), "registry": registrySpec, "automation": ["interval": "1s"]])
            let pushed = try await eventually(timeout: .seconds(30)) { try withSecret.head() != headA }
            #expect(pushed, "the instance with the pull secret updates its workload")
            let head = try withSecret.head()
            #expect(try sh(["git", "--git-dir", withSecret.bare, "show", "\(head):app.yaml"]).contains(image + ":1.0.1"))
            #expect(try sh(["git", "--git-dir", withSecret.bare, "show", "\(head):tool.yaml"]) + "\n" == vendored, "an excluded image is not updated")

            // team-b has no pull secret: the cached answer for team-a's credentials is not served to it.
            try await f.apply("b", namespace: "team-b", spec: ["git": gitSpec(without.url), "registry": registrySpec, "automation": ["interval": "1s"]])
            var images: ImagesStatus?
            let refused = try await eventually(timeout: .seconds(30)) {
                images = try await f.instance("b", namespace: "team-b")?.status?.images
                return images?.workloads?.first?.error?.contains("needs credentials") == true
            }
            #expect(refused, "\(String(describing: images))")
            #expect(images?.error?.contains("pull-s3cret") == false, "no credential in the status")
            #expect(try without.head() == headB)

            // The instance's own docker config Secret (spec.registry.dockerConfigSecretRef) serves too.
            let viaSpec = try UpstreamRepo(files: ["app.yaml": app("app", pullSecret: false)])
            let headC = try viaSpec.head()
            _ = try await f.client.create(.secrets, ["apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                                                     "metadata": ["name": "registry", "namespace": "team-b"],
                                                     "data": [".dockerconfigjson": .string(Data(config.utf8).base64EncodedString())]])
            var withConfig = registrySpec
            withConfig["dockerConfigSecretRef"] = ["name": "registry"]
            try await f.apply("c", namespace: "team-b", spec: ["git": gitSpec(viaSpec.url), "registry": withConfig, "automation": ["interval": "1s"]])
            #expect(try await eventually(timeout: .seconds(30)) { try viaSpec.head() != headC }, "dockerConfigSecretRef credentials are used")
        }
    }

    @Test("with manifest generation, generator input is never edited as manifests; without a containerImage updater the status says so; plain paths are automated")
    func generatedPathsLeftAlone() async throws {
        let registry = try LocalRegistry()
        defer { registry.stop() }
        try registry.push("team/app", tag: "1.0.0", created: Self.created)
        try registry.push("team/app", tag: "1.0.1", created: Self.created.addingTimeInterval(60))
        let image = "\(registry.host)/team/app"
        let annotations = "    fluxcd.io/automated: \"true\"\n    fluxcd.io/tag.app: semver:~1.0"
        let generatorInput = Self.deployment("gen", image: image + ":1.0.0", annotations: annotations)
        let up = try UpstreamRepo(files: [
            "gen/.flux.yaml": "version: 1\ncommandUpdated:\n  generators:\n    - command: cat input.yaml\n",
            "gen/input.yaml": generatorInput,
            "plain/web.yaml": Self.deployment("web", image: image + ":1.0.0", annotations: annotations),
        ])
        let initial = try up.head()
        try await withOperator(namespaces: ["team-a"]) { f in
            try await f.apply("apps", namespace: "team-a", spec: [
                "git": gitSpec(up.url, ["paths": ["gen", "plain"]]), "manifestGeneration": true,
                "registry": ["insecureHosts": [.string(registry.host)], "pollInterval": "1s"], "automation": ["interval": "1s"],
            ])
            let pushed = try await eventually(timeout: .seconds(30)) { try up.head() != initial }
            #expect(pushed)
            let head = try up.head()
            #expect(try sh(["git", "--git-dir", up.bare, "show", "\(head):plain/web.yaml"]).contains(image + ":1.0.1"))
            #expect(try sh(["git", "--git-dir", up.bare, "show", "\(head):gen/input.yaml"]) + "\n" == generatorInput, "generator input untouched")
            let error = try await f.instance("apps", namespace: "team-a")?.status?.images?.error
            #expect(error?.contains("gen/.flux.yaml has no containerImage updater") == true, "\(String(describing: error))")
        }
    }

    @Test("a commandUpdated .flux.yaml: the generated workload's image is updated by its containerImage updater with Flux v1's variables, and synced")
    func commandUpdatedUpdater() async throws {
        let registry = try LocalRegistry()
        defer { registry.stop() }
        try registry.push("team/app", tag: "1.0.0", created: Self.created)
        try registry.push("team/app", tag: "1.0.2", created: Self.created.addingTimeInterval(60))
        let image = "\(registry.host)/team/app"
        let input = Self.deployment("gen", image: image + ":1.0.0", annotations: "    fluxcd.io/automated: \"true\"\n    fluxcd.io/tag.app: semver:~1.0")
        let config = """
            version: 1
            commandUpdated:
              generators:
                - command: cat input.yaml
              updaters:
                - containerImage:
                    command: >-
                      sed -i "s|$FLUX_IMG:[^\\"]*|$FLUX_IMG:$FLUX_TAG|" input.yaml &&
                      echo "$FLUX_WORKLOAD $FLUX_WL_NS $FLUX_WL_KIND $FLUX_WL_NAME $FLUX_CONTAINER" > last-update.txt

            """
        let up = try UpstreamRepo(files: ["gen/.flux.yaml": config, "gen/input.yaml": input])
        let initial = try up.head()
        try await withOperator(namespaces: ["team-a"]) { f in
            try await f.apply("apps", namespace: "team-a", spec: [
                "git": gitSpec(up.url, ["paths": ["gen"]]), "manifestGeneration": true,
                "registry": ["insecureHosts": [.string(registry.host)], "pollInterval": "1s"], "automation": ["interval": "1s"],
            ])
            let pushed = try await eventually(timeout: .seconds(30)) { try up.head() != initial }
            #expect(pushed)
            let head = try up.head()
            #expect(try sh(["git", "--git-dir", up.bare, "show", "\(head):gen/input.yaml"]) + "\n" == input.replacingOccurrences(of: ":1.0.0", with: ":1.0.2"))
            #expect(try sh(["git", "--git-dir", up.bare, "show", "\(head):gen/last-update.txt"]) == "team-a:deployment/gen team-a deployment gen app")
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: head)
            let deployed = try await f.client.get(.deployments, name: "gen", namespace: "team-a")
            #expect(deployed["spec"]?["template"]?["spec"]?["containers"]?.arrayValue?.first?["image"] == .string(image + ":1.0.2"))
        }
    }

    @Test("an instance whose registry hangs does not delay another instance's automation")
    func hungRegistry() async throws {
        let registry = try LocalRegistry()
        defer { registry.stop() }
        try registry.push("team/app", tag: "1.0.0", created: Self.created)
        try registry.push("team/app", tag: "1.0.1", created: Self.created.addingTimeInterval(60))
        let hung = try RegistryFaultProxy(upstream: registry, mode: .hang)
        defer { hung.stop() }
        let annotations = "    fluxcd.io/automated: \"true\"\n    fluxcd.io/tag.app: semver:~1.0"
        let slow = try UpstreamRepo(files: ["app.yaml": Self.deployment("app", image: "\(hung.host)/team/app:1.0.0", annotations: annotations)])
        let fast = try UpstreamRepo(files: ["app.yaml": Self.deployment("app", image: "\(registry.host)/team/app:1.0.0", annotations: annotations)])
        let fastHead = try fast.head()
        try await withOperator(namespaces: ["team-a", "team-b"]) { f in
            let registrySpec: JSONValue = ["insecureHosts": [.string(registry.host), .string(hung.host)], "pollInterval": "1s"]
            try await f.apply("slow", namespace: "team-a", spec: ["git": gitSpec(slow.url), "registry": registrySpec, "automation": ["interval": "1s"]])
            // Let the slow instance's scan start and hang first.
            let proxyPort = hung.port
            var hanging = false
            for _ in 0..<200 {
                let stats = try sh(["curl", "-sf", "http://127.0.0.1:\(proxyPort)/stats"])
                hanging = !stats.contains("\"requests\": 0")
                if hanging { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(hanging, "the slow instance is waiting on its registry")
            let started = ContinuousClock.now
            try await f.apply("fast", namespace: "team-b", spec: ["git": gitSpec(fast.url), "registry": registrySpec, "automation": ["interval": "1s"]])
            let pushed = try await eventually(timeout: .seconds(15)) { try fast.head() != fastHead }
            #expect(pushed)
            #expect(ContinuousClock.now - started < .seconds(15), "while the other instance's registry hangs")
            #expect(try await f.instance("slow", namespace: "team-a")?.status?.images?.lastCommit == nil)
        }
    }
}
