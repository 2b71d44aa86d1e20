import Foundation
import GitSource
import GitTesting
import KubeModel
import Logging
@testable import Manifests
import Testing

/// `.flux.yaml` commands written as an attacker would: each tries to read what the operator holds
/// or to outlive its render. Each runs in the real sandbox (Debian's bubblewrap) and, where it
/// shows the attack is real, unsandboxed as well.
@Suite(".flux.yaml commands in the sandbox")
struct SandboxTests {
    let generate = RenderOptions(paths: ["apps"], manifestGeneration: true)

    /// Secrets planted where the operator keeps them: its kubeconfig, another instance's mirror
    /// under the same work root, and the operator's environment.
    struct Planted {
        let workRoot = tempDir("work-root")
        let home = tempDir("operator-home")
        var kubeconfig: String { home + "/.kube/config" }
        var otherMirror: String { workRoot + "/team-b/other/git/mirror.git/config" }
        var renderDirectory: String { workRoot + "/team-a/app/render" }

        init() throws {
            for (path, text) in [(kubeconfig, "PLANTED-KUBECONFIG"), (otherMirror, "PLANTED-MIRROR")] {
                try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try text.write(toFile: path, atomically: true, encoding: .utf8)
            }
            setenv("FLOTILLA_TEST_TOKEN", "PLANTED-ENV", 1)
        }

        /// A generator printing a ConfigMap of whatever it could read.
        var thief: String {
            """
            read() { cat "$1" 2>/dev/null || echo unreadable; }
            printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: loot}\\ndata:\\n'
            printf '  kubeconfig: "%s"\\n' "$(read \(kubeconfig))"
            printf '  mirror: "%s"\\n' "$(read \(otherMirror))"
            printf '  workroot: "%s"\\n' "$(ls \(workRoot) 2>/dev/null | tr '\\n' ' ' || true)"
            printf '  token: "%s"\\n' "$(ls /var/run/secrets 2>/dev/null || echo absent)"
            printf '  env: "%s"\\n' "${FLOTILLA_TEST_TOKEN:-unset}"
            """
        }
    }

    func loot(_ sandbox: GeneratorSandbox, _ planted: Planted) async throws -> JSONValue {
        let flux = "version: 1\ncommandUpdated:\n  generators:\n  - command: sh thief.sh\n"
        let f = try RenderFixture(["apps/.flux.yaml": flux, "apps/thief.sh": planted.thief], sandbox: sandbox, workDirectory: planted.renderDirectory)
        return try #require(try await f.render(generate).manifests.first?.object["data"])
    }

    @Test("a generator reads neither the operator's kubeconfig, nor another instance's mirror, nor the work root, nor a token")
    func generatorReadsNothingOfTheOperators() async throws {
        let planted = try Planted()
        let data = try await loot(.bubblewrap(Bubblewrap()), planted)
        #expect(data["kubeconfig"] == "unreadable")
        #expect(data["mirror"] == "unreadable")
        #expect(data["workroot"] == "")
        #expect(data["token"] == "absent")
        #expect(data["env"] == "unset")
        // The same generator, unsandboxed, reads them: the attack is real.
        let exposed = try await loot(.unsandboxed, planted)
        #expect(exposed["kubeconfig"] == "PLANTED-KUBECONFIG")
        #expect(exposed["mirror"] == "PLANTED-MIRROR")
        #expect(exposed["workroot"]?.stringValue?.contains("team-b") == true)
    }

    /// Processes whose command line contains `marker`.
    static func processes(_ marker: String) -> [String] {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.filter { Int($0) != nil } ?? []
        return pids.filter { pid in
            guard let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: raw.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(marker)
        }
    }

    @Test("nothing a generator starts outlives its render, not even a setsid daemon")
    func noBackgroundProcessSurvives() async throws {
        let seconds = 300 + Int.random(in: 0..<600)
        // The generator returns only once its daemon runs (it waits to see it in /proc).
        let digits = String(seconds)
        let pattern = "sleep [\(digits.prefix(1))]\(digits.dropFirst())"  // matches the daemon, not this grep
        let start = "(setsid sleep \(seconds) >/dev/null 2>&1 &); i=0; until cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\000' ' ' | grep -q '\(pattern)'; do i=$((i+1)); [ $i -gt 200 ] && exit 9; sleep 0.02; done"
        let flux = "version: 1\ncommandUpdated:\n  generators:\n  - command: sh start.sh && cat a.yaml\n"
        for sandbox in [GeneratorSandbox.bubblewrap(Bubblewrap()), .unsandboxed] {
            let f = try RenderFixture(["apps/.flux.yaml": flux, "apps/a.yaml": cm("a"), "apps/start.sh": start], sandbox: sandbox)
            #expect(try await f.render(generate).manifests.map(\.name) == ["a"])
            var gone = false
            for _ in 0..<30 where !gone {
                gone = Self.processes("sleep \(seconds)").isEmpty
                if !gone { try await Task.sleep(for: .milliseconds(100)) }
            }
            if sandbox == .unsandboxed {
                // The daemon escaped the command's process group: only the sandbox ends it.
                #expect(!gone, "unsandboxed, a setsid daemon survives (the attack is real)")
                for pid in Self.processes("sleep \(seconds)") { kill(pid_t(pid)!, SIGKILL) }
            } else {
                #expect(gone, "the PID namespace ended with the command")
            }
        }
    }

    @Test("an updater's link to the operator's files is never read back or committed")
    func updaterLinksAreNotFollowed() async throws {
        let planted = try Planted()
        let flux = """
            version: 1
            commandUpdated:
              generators:
              - command: cat a.yaml
              updaters:
              - containerImage:
                  command: 'ln -s \(planted.kubeconfig) stolen.yaml; sed -i "s/k: v/k: $FLUX_TAG/" a.yaml'
            """
        for sandbox in [GeneratorSandbox.bubblewrap(Bubblewrap()), .unsandboxed] {
            let f = try RenderFixture(["apps/.flux.yaml": flux, "apps/a.yaml": cm("a", "data:\n  k: v\n")], sandbox: sandbox)
            let config = try FluxConfig.parse(Array(flux.utf8), directory: "apps")
            let update = UpdaterRequest.containerImage(.init(namespace: "default", kind: "Deployment", name: "web"), container: "app", image: "web", tag: "v2")
            let changed = try await f.renderer.runImageUpdaters(revision: try await f.head(), path: "apps", config: config, updates: [update], options: generate)
            #expect(Set(changed.keys) == ["apps/a.yaml"], "\(sandbox.name): \(changed.keys.sorted())")
            #expect(changed["apps/a.yaml"]??.contains(Array("k: v2".utf8)) == true)
        }
    }

    @Test("without --generator-network a command reaches no address of the host")
    func noNetwork() async throws {
        let listener = try LoopbackListener()
        defer { listener.close() }
        let probe = "curl -s -o /dev/null --max-time 2 http://127.0.0.1:\(listener.port)/; echo \"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: net}\ndata: {curl: \\\"$?\\\"}\""
        let flux = "version: 1\ncommandUpdated:\n  generators:\n  - command: sh probe.sh\n"
        func exitCode(_ bwrap: Bubblewrap) async throws -> String? {
            let f = try RenderFixture(["apps/.flux.yaml": flux, "apps/probe.sh": probe], sandbox: .bubblewrap(bwrap))
            return try await f.render(generate).manifests.first?.object["data"]?["curl"]?.stringValue
        }
        #expect(try await exitCode(Bubblewrap()) == "7", "connection refused: the sandbox's loopback is its own")
        #expect(try await exitCode(Bubblewrap(network: true)) == "28", "with the host's network the listener answers the handshake (then times out)")
    }

    @Test("with no usable sandbox every command is refused, with the reason")
    func unavailableRefuses() async throws {
        let flux = "version: 1\ncommandUpdated:\n  generators:\n  - command: cat a.yaml\n"
        let f = try RenderFixture(["apps/.flux.yaml": flux, "apps/a.yaml": cm("a")], sandbox: .unavailable("bwrap is not installed"))
        let error = try #require(try await f.renderError(generate))
        #expect(error.kind == .generation)
        #expect(error.message.contains("refused: no sandbox for .flux.yaml commands (bwrap is not installed)"), "\(error.message)")
    }

    @Test("the probe tells whether bubblewrap works, and why not")
    func probe() async throws {
        #expect(await Bubblewrap().probe() == nil)
        let missing = await Bubblewrap(executable: "/nonexistent/bwrap").probe()
        #expect(missing?.contains("is not installed") == true)
    }
}

/// A TCP socket listening on 127.0.0.1 that never accepts: the kernel completes handshakes.
struct LoopbackListener {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 8) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { throw CocoaError(.fileWriteUnknown) }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { _ = Glibc.close(fd) }
}

@Suite("The generator container's protocol")
struct GeneratorContainerTests {
    /// A generator server on a thread of this process (the chart runs it as its container's PID 1).
    static let socket: String = {
        let path = tempDir("gen") + "/gen.sock"
        let server = GeneratorServer(socket: path, workDirectory: tempDir("gen-work"), logger: Logger(label: "generator"))
        let thread = Thread { try? server.serveBlocking() }
        thread.start()
        while !FileManager.default.fileExists(atPath: path) { usleep(10_000) }
        return path
    }()

    @Test("generators and updaters run through the socket; an updater's changes come back")
    func generatorsAndUpdaters() async throws {
        let flux = """
            version: 1
            commandUpdated:
              generators:
              - command: 'cat a.yaml; printf -- "---\\napiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: from-%s}\\n" "$(basename "$PWD")"'
              updaters:
              - containerImage:
                  command: 'sed -i "s/k: v/k: $FLUX_TAG/" a.yaml; echo new > added.txt; rm gone.yaml'
            """
        let f = try RenderFixture(["apps/.flux.yaml": flux, "apps/a.yaml": cm("a", "data:\n  k: v\n"), "apps/gone.yaml": cm("gone")],
                                  sandbox: .container(socket: Self.socket))
        let options = RenderOptions(paths: ["apps"], manifestGeneration: true)
        #expect(try await f.render(options).manifests.map(\.name) == ["a", "from-apps"])
        let config = try FluxConfig.parse(Array(flux.utf8), directory: "apps")
        let update = UpdaterRequest.containerImage(.init(namespace: "default", kind: "Deployment", name: "web"), container: "app", image: "web", tag: "v3")
        let changed = try await f.renderer.runImageUpdaters(revision: try await f.head(), path: "apps", config: config, updates: [update], options: options)
        #expect(Set(changed.keys) == ["apps/a.yaml", "apps/added.txt", "apps/gone.yaml"])
        #expect(changed["apps/a.yaml"]??.contains(Array("k: v3".utf8)) == true)
        #expect(changed["apps/added.txt"] == .some(Array("new\n".utf8)))
        #expect(changed["apps/gone.yaml"] == .some(nil), "deleted")
    }

    @Test("a failing command's status and stderr come back; an unreachable socket is a clear error")
    func failures() async throws {
        let flux = "version: 1\ncommandUpdated:\n  generators:\n  - command: 'echo broken >&2; exit 3'\n"
        let f = try RenderFixture(["apps/.flux.yaml": flux, "apps/a.yaml": cm("a")], sandbox: .container(socket: Self.socket))
        let error = try #require(try await f.renderError(RenderOptions(paths: ["apps"], manifestGeneration: true)))
        #expect(error.message.contains("exited with status 3: broken"), "\(error.message)")
        let g = try RenderFixture(["apps/.flux.yaml": flux, "apps/a.yaml": cm("a")], sandbox: .container(socket: "/nonexistent/gen.sock"))
        let unreachable = try #require(try await g.renderError(RenderOptions(paths: ["apps"], manifestGeneration: true)))
        #expect(unreachable.message.contains("cannot reach the generator container at /nonexistent/gen.sock"), "\(unreachable.message)")
    }

    @Test("a checkout archive holds regular files only and never writes outside its directory")
    func archive() throws {
        let root = tempDir("archive")
        try FileManager.default.createDirectory(atPath: root + "/a/b", withIntermediateDirectories: true)
        try "x".write(toFile: root + "/a/b/file", atomically: true, encoding: .utf8)
        FileManager.default.createFile(atPath: root + "/run.sh", contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755])
        try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: "/etc/passwd")
        let packed = try TreeArchive.pack(root)
        let copy = tempDir("unpacked")
        try TreeArchive.unpack(packed, into: copy)
        #expect(try TreeArchive.files(under: copy) == ["a/b/file", "run.sh"], "the link is not packed")
        #expect(FileManager.default.isExecutableFile(atPath: copy + "/run.sh"))
        for bad in ["../escape", "/etc/x", "a/../../x", "a//b", "./a"] {
            var forged: [UInt8] = [0]
            TreeArchive.appendLength(bad.utf8.count, to: &forged)
            forged += Array(bad.utf8)
            TreeArchive.appendLength(1, to: &forged)
            forged.append(65)
            #expect(throws: TreeArchive.Invalid.self, "\(bad)") { try TreeArchive.unpack(forged, into: tempDir("forged")) }
        }
        #expect(throws: TreeArchive.Invalid.self) { try TreeArchive.unpack(Array(packed.dropLast()), into: tempDir("short")) }
    }
}
