import Foundation

/// A helper process on 127.0.0.1 serving one of the cloud identity protocols, killed by `stop()`.
public final class LoopbackProcess: @unchecked Sendable {
    // @unchecked: every stored property is a `let`; the process is only signalled.
    public let port: Int
    let process: Process
    public var url: String { "http://127.0.0.1:\(port)" }

    init(executable: String, arguments: [String], environment: [String: String] = [:], port: Int, what: String) throws {
        self.port = port
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        process = p
        // Up to 30 s: moto imports a lot of Python before it listens.
        for _ in 0..<600 {
            if TestSSHD.canConnect(port) { return }
            if !p.isRunning { break }
            usleep(50_000)
        }
        p.terminate()
        throw FixtureError("\(what) did not start on port \(port)")
    }

    public func stop() { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
    deinit { stop() }
}

/// moto's server (PyPI `moto[server]`, installed into `.venv` by hack/test): EC2 instance metadata
/// with IMDSv2, STS, IAM and ECR on one port. With `unauthenticatedCalls`, moto checks every
/// request after that many: the access key must exist in its IAM, the SigV4 signature must match,
/// and the user's policy must allow the action.
public func motoServer(unauthenticatedCalls: Int? = nil) throws -> LoopbackProcess {
    let path = URL(fileURLWithPath: LocalRegistry.hackPath("")).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".venv/bin/moto_server").path
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw FixtureError("\(path) is missing: hack/test installs moto[server] into .venv")
    }
    let port = try freePort()
    return try LoopbackProcess(executable: path, arguments: ["-H", "127.0.0.1", "-p", "\(port)"],
                               environment: unauthenticatedCalls.map { ["INITIAL_NO_AUTH_ACTION_COUNT": "\($0)"] } ?? [:], port: port, what: "moto_server")
}

/// hack/testing/cloud-identity-server.py in `mode` (gce, azure, aws-container, garbage).
public func cloudIdentityServer(_ mode: String, _ arguments: [String: String] = [:]) throws -> LoopbackProcess {
    let port = try freePort()
    return try LoopbackProcess(executable: "/usr/bin/python3",
                               arguments: [LocalRegistry.hackPath("cloud-identity-server.py"), mode, "\(port)"] + arguments.map { "\($0.key)=\($0.value)" },
                               port: port, what: "cloud-identity-server.py \(mode)")
}

/// hack/testing/webhook-sink.py: records the requests it gets; `mode` ok, fail or hang.
public final class WebhookSink: Sendable {
    public let server: LoopbackProcess
    public let log: String
    public var url: String { server.url + "/hook" }

    public init(mode: String = "ok") throws {
        log = tempDir("sink") + "/requests.jsonl"
        FileManager.default.createFile(atPath: log, contents: nil)
        let port = try freePort()
        server = try LoopbackProcess(executable: "/usr/bin/python3", arguments: [LocalRegistry.hackPath("webhook-sink.py"), "\(port)", log, mode],
                                     port: port, what: "webhook-sink.py")
    }

    /// Every request so far: path, headers (as sent) and body.
    public func requests() -> [(path: String, headers: [String: String], body: String)] {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return ((o["path"] as? String) ?? "", (o["headers"] as? [String: String]) ?? [:], (o["body"] as? String) ?? "")
        }
    }

    public func stop() { server.stop() }
}
