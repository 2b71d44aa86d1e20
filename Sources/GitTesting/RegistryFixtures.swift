import Primitives
import Foundation

/// Debian's `docker-registry` (distribution 2.8) on 127.0.0.1, for tests: without auth, with
/// htpasswd Basic auth, or with token auth served by `hack/testing/registry-token-server.py`.
/// Images are pushed with the registry's HTTP API (curl): a config blob carrying the creation
/// time, one small layer, and a schema 2 manifest under the tag.
public final class LocalRegistry: @unchecked Sendable {
    // @unchecked: every stored property is a `let`; the processes are only signalled.
    public enum Auth: Sendable { case none, basic(user: String, password: String), token(user: String, password: String) }

    public let port: Int
    public let dir: String
    let auth: Auth
    let process: Process
    let tokenServer: Process?
    public let tokenPort: Int?

    public var host: String { "127.0.0.1:\(port)" }
    /// Served over TLS with a self-signed certificate (clients must skip verification).
    public let tls: Bool
    var base: String { (tls ? "https://" : "http://") + host }

    public init(auth: Auth = .none, tls: Bool = false) throws {
        self.tls = tls
        dir = tempDir("registry")
        port = try freePort()
        self.auth = auth
        var authConfig = ""
        var tokenPort: Int?
        var tokenServer: Process?
        switch auth {
        case .none:
            break
        case .basic(let user, let password):
            try sh(["htpasswd", "-Bbc", dir + "/htpasswd", user, password])
            authConfig = "auth:\n  htpasswd:\n    realm: flotilla-test\n    path: \(dir)/htpasswd\n"
        case .token(let user, let password):
            try sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir + "/token.key", "-out", dir + "/token.crt",
                    "-subj", "/CN=flotilla-test-token", "-days", "2"])
            let tp = try freePort()
            tokenPort = tp
            authConfig = "auth:\n  token:\n    realm: http://127.0.0.1:\(tp)/token\n    service: flotilla-test-registry\n    issuer: flotilla-test-issuer\n    rootcertbundle: \(dir)/token.crt\n"
            let server = Process()
            server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            server.arguments = [Self.hackPath("registry-token-server.py"), "\(tp)", dir + "/token.key", dir + "/token.crt", "flotilla-test-issuer", "\(user):\(password)"]
            server.standardError = FileHandle.nullDevice
            try server.run()
            tokenServer = server
        }
        self.tokenPort = tokenPort
        self.tokenServer = tokenServer
        var tlsConfig = ""
        if tls {
            try sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir + "/tls.key", "-out", dir + "/tls.crt",
                    "-subj", "/CN=127.0.0.1", "-days", "2"])
            tlsConfig = ", tls: {certificate: \(dir)/tls.crt, key: \(dir)/tls.key}"
        }
        let config = """
            version: 0.1
            log: {level: error, accesslog: {disabled: true}}
            storage: {filesystem: {rootdirectory: \(dir)/data}, delete: {enabled: true}}
            http: {addr: "127.0.0.1:\(port)"\(tlsConfig)}
            \(authConfig)
            """
        try config.write(toFile: dir + "/config.yml", atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/docker-registry")
        process.arguments = ["serve", dir + "/config.yml"]
        FileManager.default.createFile(atPath: dir + "/registry.log", contents: nil)
        process.standardError = FileHandle(forWritingAtPath: dir + "/registry.log")
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        // Up to 30 s: on 2 busy cores (the operator suites run beside this) a start can be slow.
        for _ in 0..<600 {
            if TestSSHD.canConnect(port) && (tokenPort.map(TestSSHD.canConnect) ?? true) { return }
            if !process.isRunning { break }
            usleep(50_000)
        }
        let log = (try? String(contentsOfFile: dir + "/registry.log", encoding: .utf8)) ?? ""
        throw FixtureError("docker-registry did not start on port \(port): \(log.suffix(500))")
    }

    /// The `hack/testing` script, found from this source file (tests run from the package root).
    static func hackPath(_ name: String) -> String {
        let here = URL(fileURLWithPath: #filePath)
        return here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("hack/testing/" + name).path
    }

    func curlAuth(_ repository: String) -> [String] {
        switch auth {
        case .none: return []
        case .basic(let u, let p): return ["-u", "\(u):\(p)"]
        case .token(let u, let p):
            let token = (try? sh(["curl", "-sf", "-u", "\(u):\(p)", "http://127.0.0.1:\(tokenPort!)/token?service=flotilla-test-registry&scope=repository:\(repository):pull,push"])) ?? ""
            let value = token.split(separator: "\"").dropFirst(3).first.map(String.init) ?? ""
            return ["-H", "Authorization: Bearer \(value)"]
        }
    }

    /// Pushes `repository:tag` as a tiny image created at `created`; returns the manifest digest.
    @discardableResult
    public func push(_ repository: String, tag: String, created: Date) throws -> String {
        let formatter = ISO8601DateFormatter()
        let config = #"{"architecture":"amd64","os":"linux","created":"\#(formatter.string(from: created))","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#
        let layer = "layer of \(repository):\(tag)"
        let configDigest = try upload(repository, Array(config.utf8))
        let layerDigest = try upload(repository, Array(layer.utf8))
        let manifest = """
            {"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",\
            "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":\(config.utf8.count),"digest":"\(configDigest)"},\
            "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":\(layer.utf8.count),"digest":"\(layerDigest)"}]}
            """
        let file = dir + "/manifest.json"
        try manifest.write(toFile: file, atomically: true, encoding: .utf8)
        let headers = try sh(["curl", "-skf", "-D", "-", "-o", "/dev/null", "-X", "PUT"] + curlAuth(repository) +
                             ["-H", "Content-Type: application/vnd.docker.distribution.manifest.v2+json", "--data-binary", "@" + file,
                              "\(base)/v2/\(repository)/manifests/\(tag)"])
        return headers.split(whereSeparator: \.isNewline).first { $0.lowercased().hasPrefix("docker-content-digest:") }
            .map { $0.split(separator: " ", maxSplits: 1)[1].trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
    }

    func upload(_ repository: String, _ bytes: [UInt8]) throws -> String {
        let digest = "sha256:" + (try sh(["sh", "-c", "printf '%s' \"$0\" | sha256sum", String(decoding: bytes, as: UTF8.self)]).prefix(64))
        let file = dir + "/blob"
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let headers = try sh(["curl", "-skf", "-D", "-", "-o", "/dev/null", "-X", "POST"] + curlAuth(repository) + ["\(base)/v2/\(repository)/blobs/uploads/"])
        guard let location = headers.split(whereSeparator: \.isNewline).first(where: { $0.lowercased().hasPrefix("location:") })?
            .split(separator: " ", maxSplits: 1).last?.trimmingCharacters(in: .whitespacesAndNewlines) else {
            throw FixtureError("no upload location from the registry")
        }
        let url = (location.hasPrefix("http") ? location : "\(base)\(location)") + (location.contains("?") ? "&" : "?") + "digest=\(digest)"
        try sh(["curl", "-skf", "-o", "/dev/null", "-X", "PUT"] + curlAuth(repository) + ["-H", "Content-Type: application/octet-stream", "--data-binary", "@" + file, url])
        return digest
    }

    public func stop() {
        kill(process.processIdentifier, SIGKILL)
        if let tokenServer { kill(tokenServer.processIdentifier, SIGKILL) }
    }

    deinit { stop() }
}

/// `hack/testing/registry-fault-proxy.py` in front of a registry: forwards, answers 429 to the
/// first N requests, hangs, or pages tag lists.
public final class RegistryFaultProxy: @unchecked Sendable {
    // @unchecked: every stored property is a `let`; the process is only signalled.
    public enum Mode: Sendable { case pass, tooManyRequests(Int), serverError(Int), hang, pages(Int) }
    public let port: Int
    let process: Process

    public var host: String { "127.0.0.1:\(port)" }

    public init(upstream: LocalRegistry, mode: Mode) throws {
        port = try freePort()
        let args: [String]
        switch mode {
        case .pass: args = ["pass"]
        case .tooManyRequests(let n): args = ["429", "\(n)"]
        case .serverError(let n): args = ["500", "\(n)"]
        case .hang: args = ["hang"]
        case .pages(let n): args = ["page", "\(n)"]
        }
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [LocalRegistry.hackPath("registry-fault-proxy.py"), "\(port)", "\(upstream.port)"] + args
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<600 {
            if TestSSHD.canConnect(port) { return }
            usleep(50_000)
        }
        throw FixtureError("the fault proxy did not start on port \(port)")
    }

    /// Requests the proxy received, and how many it answered 429.
    public func stats() throws -> (requests: Int, limited: Int, times: [Double]) {
        let json = try sh(["curl", "-sf", "http://\(host)/stats"])
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] ?? [:]
        return (object["requests"] as? Int ?? 0, object["limited"] as? Int ?? 0, object["times"] as? [Double] ?? [])
    }

    public func stop() { kill(process.processIdentifier, SIGKILL) }
    deinit { stop() }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now (bound to port 0, then released).
public func freePort() throws -> Int {
    guard let port = freeLoopbackPort() else { throw FixtureError("no free port on 127.0.0.1") }
    return port
}
