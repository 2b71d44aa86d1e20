import Foundation
import GitSource
import GitTesting
import KubeModel
@testable import Manifests
@testable import Primitives
import Testing

@Suite(".flux.yaml manifest generation")
struct GenerationTests {
    let generate = RenderOptions(paths: ["apps"], manifestGeneration: true)

    @Test("commandUpdated: generators run in the path's directory; the .flux.yaml is found above the path")
    func commandUpdated() async throws {
        let flux = """
            version: 1
            commandUpdated:
              generators:
              - command: cat base.yaml
              - command: 'printf "apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: from-%s\\n" "$(basename "$PWD")"'
            """
        let f = try RenderFixture([".flux.yaml": flux, "apps/base.yaml": cm("base"), "apps/ignored-by-generators.yaml": cm("plain")])
        let set = try await f.render(generate)
        #expect(set.manifests.map(\.name) == ["base", "from-apps"], "generated output only; plain files are not also read")
        #expect(set.manifests[1].source.contains("printf"))
    }

    @Test("without manifest generation the .flux.yaml is ignored and files are read")
    func generationOff() async throws {
        let flux = "version: 1\ncommandUpdated:\n  generators:\n  - command: exit 1\n"
        let f = try RenderFixture(["apps/.flux.yaml": flux, "apps/a.yaml": cm("a")])
        #expect(try await f.render(RenderOptions(paths: ["apps"])).manifests.map(\.name) == ["a"])
    }

    @Test("scanForFiles reads the YAML files as usual")
    func scanForFiles() async throws {
        let f = try RenderFixture(["apps/.flux.yaml": "version: 1\nscanForFiles: {}\n", "apps/a.yaml": cm("a"), "apps/b/c.yaml": cm("c")])
        #expect(try await f.render(generate).manifests.map(\.name) == ["a", "c"])
    }

    @Test("patchUpdated: the patch file is merged into the generated objects (strategic merge)")
    func patchUpdated() async throws {
        let deployment = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web, namespace: prod}
            spec:
              template:
                spec:
                  containers:
                  - {name: app, image: "web:1"}
                  - {name: sidecar, image: "proxy:1"}
            """
        let patch = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web, namespace: prod}
            spec:
              template:
                spec:
                  containers:
                  - {name: app, image: "web:2"}
            """
        let flux = "version: 1\npatchUpdated:\n  generators:\n  - command: cat generated.yaml\n  patchFile: flux-patch.yaml\n"
        let f = try RenderFixture(["apps/.flux.yaml": flux, "apps/generated.yaml": deployment, "apps/flux-patch.yaml": patch])
        let o = try #require(try await f.render(generate).manifests.first?.object)
        let containers = o["spec"]?["template"]?["spec"]?["containers"]?.arrayValue ?? []
        #expect(containers.map { $0["image"]?.stringValue } == ["web:2", "proxy:1"])
    }

    @Test("a failing generator fails the render with the tail of its stderr")
    func failingGenerator() async throws {
        let flux = "version: 1\ncommandUpdated:\n  generators:\n  - command: 'echo \"kustomize: accumulating resources failed\" >&2; exit 3'\n"
        let f = try RenderFixture(["apps/.flux.yaml": flux, "apps/a.yaml": cm("a")])
        let error = try #require(try await f.renderError(generate))
        #expect(error.kind == .generation)
        #expect(error.message.contains("exited with status 3"))
        #expect(error.message.contains("accumulating resources failed"))
        #expect(error.message.contains("apps"))
    }

    @Test("a generator that runs past its timeout is killed, with its children")
    func generatorTimeout() async throws {
        let marker = tempDir("marker") + "/survivor"
        let flux = "version: 1\ncommandUpdated:\n  generators:\n  - command: (sleep 3; touch \(marker)) & sleep 30\n    timeout: 300ms\n"
        let f = try RenderFixture(["apps/.flux.yaml": flux, "apps/a.yaml": cm("a")])
        let started = ContinuousClock.now
        let error = try #require(try await f.renderError(generate))
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(error.message.contains("did not finish within"))
        try await Task.sleep(for: .seconds(4))
        #expect(!FileManager.default.fileExists(atPath: marker), "the background child was killed with the group")
    }

    @Test("generator timeout fails only its instance: another instance renders meanwhile")
    func timeoutIsolated() async throws {
        let slow = try RenderFixture(["apps/.flux.yaml": "version: 1\ncommandUpdated:\n  generators:\n  - command: sleep 60\n    timeout: 20s\n",
                                      "apps/a.yaml": cm("a")])
        let fast = try RenderFixture(["apps/.flux.yaml": "version: 1\ncommandUpdated:\n  generators:\n  - command: cat a.yaml\n",
                                      "apps/a.yaml": cm("fast")])
        let clock = ContinuousClock()
        let start = clock.now
        async let slowError = slow.renderError(generate)
        async let fastSet = fast.render(generate)
        let fastNames = try await fastSet.manifests.map(\.name)
        let fastDone = clock.now - start
        let error = try await slowError
        #expect(fastNames == ["fast"])
        // Generous: the test suite's own blocking helpers can starve a 2-core machine for seconds.
        #expect(fastDone < .seconds(15), "the other instance did not wait for the hung generator (\(fastDone))")
        #expect(error?.message.contains("did not finish within 20.0 seconds") == true, "\(error?.message ?? "no error")")
    }

    @Test("command pipes are close-on-exec from creation, so no other command inherits them")
    func pipesAreCloseOnExec() throws {
        var fds: [Int32] = [-1, -1]
        #expect(Subprocess.makePipe(&fds))
        defer { fds.forEach { close($0) } }
        for fd in fds { #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0) }
    }

    @Test("the deadline holds when a command closes its output and keeps running")
    func closedOutputStillTimesOut() async throws {
        let started = ContinuousClock.now
        let result = try await Subprocess.shell("exec >/dev/null 2>&1; sleep 30", in: tempDir("closed"), environment: [:],
                                                limits: Subprocess.Limits(timeout: .milliseconds(500)))
        #expect(result.outcome == .timedOut)
        #expect(ContinuousClock.now - started < .seconds(20), "not the command's 30 s")
    }

    @Test("generators see a scrubbed environment, never the operator's")
    func scrubbedEnvironment() async throws {
        setenv("FLOTILLA_TEST_SECRET", "hunter2", 1)
        let flux = """
            version: 1
            commandUpdated:
              generators:
              - command: 'printf "apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: env}\\ndata:\\n  secret: \\"%s\\"\\n  path: \\"%s\\"\\n" "${FLOTILLA_TEST_SECRET:-unset}" "$PATH"'
            """
        let f = try RenderFixture(["apps/.flux.yaml": flux, "apps/a.yaml": cm("a")])
        let o = try #require(try await f.render(generate).manifests.first?.object)
        #expect(o["data"]?["secret"] == "unset")
        #expect(o["data"]?["path"]?.stringValue?.contains("/usr/bin") == true)
    }

    @Test("generator output that is not valid YAML is a parse error naming the generator")
    func badGeneratorOutput() async throws {
        let flux = "version: 1\ncommandUpdated:\n  generators:\n  - command: \"printf 'a: [\\\\n'\"\n"
        let f = try RenderFixture(["apps/.flux.yaml": flux, "apps/a.yaml": cm("a")])
        let error = try #require(try await f.renderError(generate))
        #expect(error.kind == .parse)
        #expect(error.message.hasPrefix("output of `printf"))
    }

    @Test("an invalid .flux.yaml names the file and the problem")
    func invalidConfig() async throws {
        for (text, problem) in [("version: 2\nscanForFiles: {}\n", "version must be 1"),
                                ("version: 1\n", "exactly one of"),
                                ("version: 1\nscanForFiles: {}\npatchUpdated: {}\n", "exactly one of"),
                                ("version: 1\npatchUpdated:\n  generators: [{command: ls}]\n", "patchFile is required"),
                                ("version: 1\ncommandUpdated:\n  generators: [{command: ls, timeout: soon}]\n", "timeout must be a duration")] {
            let error = #expect(throws: RenderError.self) { try FluxConfig.parse(Array(text.utf8), directory: "apps") }
            #expect(error?.message.hasPrefix("apps/.flux.yaml: ") == true)
            #expect(error?.message.contains(problem) == true, "\(error?.message ?? "")")
        }
    }

    @Test("updaters get Flux v1's FLUX_* variables")
    func updaterEnvironment() async throws {
        let dir = tempDir("updater")
        let runner = CommandRunner(sandbox: .bubblewrap(Bubblewrap()), home: dir)
        let workload = UpdaterRequest.Workload(namespace: "prod", kind: "Deployment", name: "web")
        let image = UpdaterRequest.containerImage(workload, container: "app", image: "registry/web", tag: "v2")
        let command = FluxConfig.Command(command: "env | grep ^FLUX_ | sort", timeout: nil)
        let out = String(decoding: try await runner.run(command, root: dir, path: "", describedAs: "test", extraEnvironment: image.environment), as: UTF8.self)
        #expect(out.split(separator: "\n") == ["FLUX_CONTAINER=app", "FLUX_IMG=registry/web", "FLUX_TAG=v2", "FLUX_WL_KIND=Deployment",
                                                "FLUX_WL_NAME=web", "FLUX_WL_NS=prod", "FLUX_WORKLOAD=prod:deployment/web"])
        let removal = UpdaterRequest.policy(workload, policy: "automated", value: nil).environment
        #expect(removal["FLUX_POLICY"] == "automated")
        #expect(removal["FLUX_POLICY_VALUE"] == nil, "unset means remove")
    }
}
