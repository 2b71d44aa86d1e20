import ArgumentParser
import Foundation
import CSupport
import KubeClient
import KubeEmulator
import KubeModel
import KubeRuntime
import KubeTesting

/// Typical manifests: a Deployment, a Service and a ConfigMap, round-robin.
enum SampleManifests {
    static func make(_ i: Int) -> JSONValue {
        switch i % 3 {
        case 0:
            return ["apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": ["name": .string("web-\(i)"), "namespace": "bench", "labels": ["app": .string("web-\(i)"), "tier": "frontend"],
                                 "annotations": ["fluxcd.io/automated": "true", "fluxcd.io/tag.app": "semver:~1.25"]],
                    "spec": ["replicas": 2, "selector": ["matchLabels": ["app": .string("web-\(i)")]],
                             "template": ["metadata": ["labels": ["app": .string("web-\(i)")]],
                                          "spec": ["containers": [["name": "app", "image": "nginx:1.25.3",
                                                                   "ports": [["containerPort": 80, "name": "http"]],
                                                                   "env": [["name": "MODE", "value": "production"], ["name": "LOG_LEVEL", "value": "info"]],
                                                                   "resources": ["requests": ["cpu": "100m", "memory": "128Mi"], "limits": ["memory": "256Mi"]],
                                                                   "readinessProbe": ["httpGet": ["path": "/healthz", "port": 80], "periodSeconds": 10]]]]]]]
        case 1:
            return ["apiVersion": "v1", "kind": "Service",
                    "metadata": ["name": .string("web-\(i)"), "namespace": "bench", "labels": ["app": .string("web-\(i)")]],
                    "spec": ["selector": ["app": .string("web-\(i)")], "ports": [["name": "http", "port": 80, "targetPort": 80, "protocol": "TCP"]]]]
        default:
            return ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": .string("cfg-\(i)"), "namespace": "bench"],
                    "data": ["app.properties": .string("mode=production\nworkers=4\nname=cfg-\(i)\n"), "LOG_LEVEL": "info", "FEATURE_X": "true"]]
        }
    }
}

/// Lets Codable carry arbitrary JSON, for a like-for-like "Codable" comparison.
struct AnyCodable: Codable {
    let value: Any?
    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { value = nil }
        else if let b = try? c.decode(Bool.self) { value = b }
        else if let i = try? c.decode(Int64.self) { value = i }
        else if let d = try? c.decode(Double.self) { value = d }
        else if let s = try? c.decode(String.self) { value = s }
        else if let a = try? c.decode([AnyCodable].self) { value = a }
        else { value = try c.decode([String: AnyCodable].self) }
    }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch value {
        case let b as Bool: try c.encode(b)
        case let i as Int64: try c.encode(i)
        case let d as Double: try c.encode(d)
        case let s as String: try c.encode(s)
        case let a as [AnyCodable]: try c.encode(a)
        case let o as [String: AnyCodable]: try c.encode(o)
        default: try c.encodeNil()
        }
    }
}

func rssMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kb / 1024
}

/// Where the resident memory is: anonymous vs file-backed pages, the malloc heap in use, threads.
func memoryBreakdown() -> String {
    func kib(_ file: String, _ key: String) -> Double {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") }),
              let kb = Double(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") else { return 0 }
        return kb
    }
    var inUse = 0, fromSystem = 0
    flotilla_malloc_stats(&inUse, &fromSystem)
    return String(format: "anon %.0f MiB, file %.0f MiB, malloc in use %.0f MiB of %.0f MiB, %.0f threads",
                  kib("/proc/self/smaps_rollup", "Anonymous") / 1024, kib("/proc/self/smaps_rollup", "Pss_File") / 1024,
                  Double(inUse) / 1_048_576, Double(fromSystem) / 1_048_576, kib("/proc/self/status", "Threads"))
}

func milliseconds(_ d: Duration) -> String {
    String(format: "%.1f ms", Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
}

/// JSON encode/decode of 1,000 typical manifests: Flotilla's codec against Foundation's.
struct CodecBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "codec", abstract: "Encode/decode of 1,000 typical manifests.")

    @Option(help: "Manifests per round.") var count = 1000
    @Option(help: "Rounds (the median is reported).") var rounds = 21

    func median(_ f: () throws -> Void) rethrows -> Duration {
        let clock = ContinuousClock()
        var times: [Duration] = []
        for _ in 0..<rounds { times.append(try clock.measure(f)) }
        return times.sorted()[rounds / 2]
    }

    func run() async throws {
        let objects = (0..<count).map(SampleManifests.make)
        let encoded = objects.map { $0.jsonBytes() }
        let bytes = encoded.reduce(0) { $0 + $1.count }
        let datas = encoded.map { Data($0) }
        var sink = 0
        let writeFast = median { for o in objects { sink &+= o.jsonBytes().count } }
        let parseFast = try median { for e in encoded { if case .object(let o) = try JSONValue.parse(e) { sink &+= o.count } } }
        let foundationObjects = try datas.map { try JSONSerialization.jsonObject(with: $0) }
        let writeFoundation = try median { for o in foundationObjects { sink &+= try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]).count } }
        let parseFoundation = try median { for d in datas { if let o = try JSONSerialization.jsonObject(with: d) as? [String: Any] { sink &+= o.count } } }
        let decoder = JSONDecoder()
        let encoder = JSONEncoder()
        let decoded = try datas.map { try decoder.decode([String: AnyCodable].self, from: $0) }
        let parseCodable = try median { for d in datas { sink &+= try decoder.decode([String: AnyCodable].self, from: d).count } }
        let writeCodable = try median { for o in decoded { sink &+= try encoder.encode(o).count } }
        print("\(count) manifests (Deployment/Service/ConfigMap mix), \(bytes / 1024) KiB of JSON; median of \(rounds) rounds (checksum \(sink % 10))")
        print("")
        print("| codec | decode | encode | decode MB/s |")
        print("|---|---:|---:|---:|")
        func mbps(_ d: Duration) -> String {
            String(format: "%.0f", Double(bytes) / 1e6 / (Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18))
        }
        print("| KubeModel JSONValue | \(milliseconds(parseFast)) | \(milliseconds(writeFast)) | \(mbps(parseFast)) |")
        print("| Foundation JSONSerialization (sorted keys) | \(milliseconds(parseFoundation)) | \(milliseconds(writeFoundation)) | \(mbps(parseFoundation)) |")
        print("| Foundation JSONDecoder/JSONEncoder (Codable) | \(milliseconds(parseCodable)) | \(milliseconds(writeCodable)) | \(mbps(parseCodable)) |")
    }
}

/// An informer's list+watch of many objects against the emulator over HTTPS.
struct InformerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "informer", abstract: "list+watch of N objects: time and memory.")

    @Option(help: "Objects.") var objects = 10_000

    func run() async throws {
        try await withTestCluster({ $0.watchWindow = 100_000 }) { cluster in
            var config = cluster.configuration()
            config.qps = 0
            let client = try KubeClient(configuration: config)
            _ = try await client.create(.namespaces, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "bench"]])
            // Seed half through the API, so the list has real objects to page through.
            let half = objects / 2
            try await withThrowingTaskGroup(of: Void.self) { group in
                for w in 0..<16 {
                    group.addTask {
                        for i in stride(from: w, to: half, by: 16) { _ = try await client.create(.configMaps, SampleManifests.make(3 * i + 2)) }
                    }
                }
                try await group.waitForAll()
            }
            let rssBefore = rssMiB()
            let informer = Informer(client: client, type: .configMaps, namespace: "bench")
            let clock = ContinuousClock()
            let t0 = clock.now
            let running = Task { try await informer.run() }
            await informer.waitForSync()
            let listTime = clock.now - t0
            let rssAfterList = rssMiB()
            // The other half arrives through the watch.
            let t1 = clock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for w in 0..<16 {
                    group.addTask {
                        for i in stride(from: half + w, to: objects, by: 16) { _ = try await client.create(.configMaps, SampleManifests.make(3 * i + 2)) }
                    }
                }
                try await group.waitForAll()
            }
            while informer.store.count < objects + 1 { try await Task.sleep(for: .milliseconds(5)) }
            let watchTime = clock.now - t1
            let rssEnd = rssMiB()
            running.cancel()
            print("| step | objects | time | RSS after (MiB) |")
            print("|---|---:|---:|---:|")
            print("| process before the informer (server holds \(half) objects) | – | – | \(String(format: "%.0f", rssBefore)) |")
            print("| list (paged, 500 per page) into the store | \(half + 1) | \(milliseconds(listTime)) | \(String(format: "%.0f", rssAfterList)) |")
            print("| \(objects - half) creates (16 writers) observed through the watch | \(objects - half) | \(milliseconds(watchTime)) | \(String(format: "%.0f", rssEnd)) |")
            print("")
            print("Informer store: \(informer.store.count) objects; server and client share the process (RSS includes the emulator's copy).")
            try await client.shutdown()
        }
    }
}
