import Foundation
import ImageAutomation
import KubeModel
import Manifests

/// A TCP proxy on 127.0.0.1 in front of a server (the API emulator), which can make the server
/// unreachable: `down()` resets every connection and refuses new ones; `up()` listens again on
/// the same port (`hack/testing/tcp-fault-proxy.py`).
public final class TCPFaultProxy: Sendable {
    public let port: Int
    let process: Process

    public init(upstreamPort: Int) throws {
        port = try freePort()
        process = try startReadyScript("tcp-fault-proxy.py", ["\(port)", "\(upstreamPort)"])
    }

    /// The server becomes unreachable: open connections are reset, new ones refused.
    public func down() { kill(process.processIdentifier, SIGUSR1) }
    public func up() { kill(process.processIdentifier, SIGUSR2) }

    public func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// A seeded generator of hostile and mangled YAML for the manifest loader, the `.flux.yaml`
/// parser and the workload scanner: valid documents mutated (bytes flipped, cut, spliced, YAML
/// syntax inserted) and built-to-hurt shapes (deep nesting, alias bombs, a flood of documents,
/// huge scalars, wide mappings). The same seed gives the same inputs.
public struct ManifestFuzzer: Sendable {
    var state: UInt64

    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    /// SplitMix64.
    mutating func random() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func int(_ range: Range<Int>) -> Int { range.lowerBound + Int(random() % UInt64(range.count)) }
    mutating func pick<T>(_ items: [T]) -> T { items[int(0..<items.count)] }

    public static let corpus: [String] = [
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          namespace: team
          annotations:
            fluxcd.io/automated: "true"
            fluxcd.io/tag.app: semver:~1
        spec:
          replicas: 2
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
              - name: app
                image: registry.local:5000/team/app:1.2.0
                args: ["--port", "8080"]
        """,
        """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: settings}
        data:
          greeting: hello
          script: |
            #!/bin/sh
            echo "multi-line"
          on: yes
          octal: 0777
        ---
        apiVersion: v1
        kind: List
        items:
        - {apiVersion: v1, kind: Service, metadata: {name: web}, spec: {ports: [{port: 80}]}}
        """,
        """
        base: &base {apiVersion: v1, kind: ConfigMap}
        ---
        <<: {apiVersion: v1, kind: Secret}
        metadata: &m {name: s, labels: {a: b}}
        stringData: {password: hunter2}
        """,
        """
        version: 1
        commandUpdated:
          generators:
          - command: kustomize build .
          updaters:
          - containerImage:
              command: ./set-image.sh
            policy:
              command: ./set-policy.sh
        """,
        """
        version: 1
        patchUpdated:
          generators:
          - command: cat manifests.yaml
          patchFile: flux-patch.yaml
        """,
    ]

    static let tokens = ["&a ", "*a", "<<: *a\n", "!!binary ", "!!str ", "!custom ", "{", "}", "[", "]", "- ", ": ", ":", "\t", "%YAML 1.1\n",
                         "---\n", "...\n", "\"", "'", "|\n", ">-\n", "? ", "\u{0}", "\u{FEFF}", "é", "𝔘", "0x1F", "1e309", "~", "null", "yes",
                         "0777", "2001-12-14t21:59:43.10-05:00", "\\", "#", "\n  ", "kind: ", "metadata:\n  name: x\n", "apiVersion: v1\n", "\r\n"]

    /// The next input: what kind of input it is, and its bytes.
    public mutating func next() -> (kind: String, bytes: [UInt8]) {
        var base = Array(pick(Self.corpus).utf8)
        switch int(0..<12) {
        case 0, 1:
            for _ in 0..<int(1..<9) where !base.isEmpty { base[int(0..<base.count)] = UInt8(truncatingIfNeeded: random()) }
            return ("flipped", base)
        case 2:
            return ("truncated", Array(base.prefix(int(0..<(base.count + 1)))))
        case 3, 4, 5:
            for _ in 0..<int(1..<6) {
                let token = Array(pick(Self.tokens).utf8)
                base.insert(contentsOf: token, at: int(0..<(base.count + 1)))
            }
            return ("inserted", base)
        case 6:
            let other = Array(pick(Self.corpus).utf8)
            let cut = int(0..<(base.count + 1))
            return ("spliced", Array(base.prefix(cut)) + other.suffix(int(0..<(other.count + 1))))
        case 7:
            let depth = int(1..<3000)
            let open = pick(["[", "{a: ", "- ", "{"])
            return ("nested \(depth)", Array((String(repeating: open, count: depth) + "x").utf8))
        case 8:
            // Billion laughs: each level refers to the previous one `width` times.
            let levels = int(2..<14), width = int(2..<12)
            var text = "a0: &a0 [lol]\n"
            for l in 1..<levels {
                text += "a\(l): &a\(l) [" + Array(repeating: "*a\(l - 1)", count: width).joined(separator: ", ") + "]\n"
            }
            return ("aliases \(levels)x\(width)", Array(("kind: ConfigMap\napiVersion: v1\nmetadata: {name: bomb}\ndata:\n  " + text.replacingOccurrences(of: "\n", with: "\n  ")).utf8))
        case 9:
            let count = pick([10, 1000, 100_001, 150_000])
            return ("documents \(count)", Array(String(repeating: pick(["---\n", "--- {}\n", "---\n# c\n"]), count: count).utf8))
        case 10:
            let size = pick([1 << 10, 1 << 16, 1 << 20, 4 << 20])
            return ("scalar \(size)", Array(("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata: {k: \"" + String(repeating: "x", count: size) + "\"}\n").utf8))
        default:
            let keys = pick([100, 10_000, 50_000])
            var text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: wide}\ndata:\n"
            for k in 0..<keys { text += "  k\(k): v\n" }
            return ("wide \(keys)", Array(text.utf8))
        }
    }
}

/// What a fuzz run saw.
public struct FuzzOutcomes: Sendable, CustomStringConvertible {
    public var parsed = 0
    public var refused = 0
    public var slowest: Duration = .zero
    public init() {}
    public var description: String { "\(parsed) parsed, \(refused) refused, slowest input \(slowest)" }
}

/// The properties every input must have (the seed run in ReliabilityTests and `flotilla-bench fuzz`).
public enum FuzzCheck {
    /// nil when the input was handled well; else what went wrong.
    public static func run(_ bytes: [UInt8], file: String, outcomes: inout FuzzOutcomes) -> String? {
        let clock = ContinuousClock()
        let started = clock.now
        defer {
            let took = clock.now - started
            if took > outcomes.slowest { outcomes.slowest = took }
        }
        do {
            let first = try ManifestParser.parse(bytes, source: file)
            let again = try ManifestParser.parse(bytes, source: file)
            guard first == again else { return "parsed differently twice" }
            for m in first where m.object["kind"]?.stringValue?.isEmpty != false {
                return "a manifest without kind was accepted: \(m.object)"
            }
            outcomes.parsed += 1
        } catch {
            guard error.message.hasPrefix(file) else { return "the error does not name the file: \(error.message)" }
            outcomes.refused += 1
        }
        do { _ = try FluxConfig.parse(bytes, directory: "dir") } catch {
            guard error.message.hasPrefix("dir/.flux.yaml") else { return ".flux.yaml error does not name it: \(error.message)" }
        }
        do { _ = try WorkloadScanner.workloads(in: bytes, file: file, defaultNamespace: "d") } catch {
            guard error.description.hasPrefix(file) else { return "workload scan error does not name the file: \(error.description)" }
        }
        return nil
    }
}

/// A git host on 127.0.0.1 that misbehaves (`hack/testing/bad-git-server.py`): `garbage` answers
/// random bytes, `hang` never answers. Its URL is `http://127.0.0.1:PORT/repo.git`.
public final class BadGitServer: Sendable {
    public let port: Int
    let process: Process
    public var url: String { "http://127.0.0.1:\(port)/repo.git" }

    public init(mode: String) throws {
        port = try freePort()
        process = try startReadyScript("bad-git-server.py", ["\(port)", mode])
    }

    public func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// Starts a `hack/testing` Python script and waits for the "ready" line it prints once listening.
func startReadyScript(_ name: String, _ arguments: [String]) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    process.arguments = [LocalRegistry.hackPath(name)] + arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    guard String(decoding: out.fileHandleForReading.availableData, as: UTF8.self).hasPrefix("ready") else {
        kill(process.processIdentifier, SIGKILL)
        throw FixtureError("\(name) did not start")
    }
    return process
}
