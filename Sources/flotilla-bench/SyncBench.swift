import ArgumentParser
import Foundation
import GitSource
import GitTesting
import KubeClient
import KubeEmulator
import KubeModel
import KubeTesting
import Logging
import Manifests
import Sync

/// One instance syncing a repository of N manifests into the emulator (in process, over HTTPS):
/// parse time, first sync, no-op resync (requests sent, CPU) and one changed object.
struct SyncBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sync", abstract: "Render and sync figures for one instance.")

    @Option(help: "Manifests in the repository (Deployment / Service / ConfigMap mix).") var manifests = 1000
    @Option(help: "Rounds for the parse and no-op figures (the median is reported).") var rounds = 21
    @Option(help: "Serve the API from `flotilla dev --api-only` run from this binary in its own process, so that the CPU figures are the instance's alone (by default the emulator runs in this process and its work is counted too).")
    var emulatorProcess: String?
    @Flag(inversion: .prefixedNo, help: "Run the emulator's workload controllers, so that Deployments roll out and become healthy as on a cluster (without them a Deployment never reports status and stays in progress).")
    var workloadControllers = true

    static func yaml(_ i: Int) -> String {
        switch i % 3 {
        case 0:
            return """
                apiVersion: apps/v1
                kind: Deployment
                metadata:
                  name: web-\(i)
                  labels: {app: web-\(i), tier: frontend}
                  annotations:
                    fluxcd.io/automated: "true"
                    fluxcd.io/tag.app: semver:~1.25
                spec:
                  selector:
                    matchLabels: {app: web-\(i)}
                  template:
                    metadata:
                      labels: {app: web-\(i)}
                    spec:
                      containers:
                      - name: app
                        image: nginx:1.25.3
                        ports:
                        - {containerPort: 80, name: http}
                        env:
                        - {name: MODE, value: production}
                        - {name: LOG_LEVEL, value: info}
                        resources:
                          requests: {cpu: 100m, memory: 128Mi}
                          limits: {memory: 256Mi}
                        readinessProbe:
                          httpGet: {path: /healthz, port: 80}
                          periodSeconds: 10

                """
        case 1:
            return """
                apiVersion: v1
                kind: Service
                metadata:
                  name: web-\(i)
                  labels: {app: web-\(i)}
                spec:
                  selector: {app: web-\(i)}
                  ports:
                  - {name: http, port: 80, targetPort: 80, protocol: TCP}

                """
        default:
            return configMap(i, workers: 4)
        }
    }

    static func configMap(_ i: Int, workers: Int) -> String {
        """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: cfg-\(i)
        data:
          app.properties: |
            mode=production
            workers=\(workers)
            name=cfg-\(i)
          LOG_LEVEL: info
          FEATURE_X: "true"

        """
    }

    func run() async throws {
        var files: [String: String] = [:]
        for i in 0..<manifests { files["apps/group\(i / 50)/m\(i).yaml"] = Self.yaml(i) }
        let upstream = try UpstreamRepo(files: files)
        let bytes = files.values.reduce(0) { $0 + $1.utf8.count }

        // Parse: every file, no cache.
        let texts = files.sorted { $0.key < $1.key }.map { (path: $0.key, bytes: Array($0.value.utf8)) }
        var parseTimes: [Duration] = []
        for _ in 0..<rounds {
            let t = ContinuousClock.now
            var count = 0
            for file in texts { count += try ManifestParser.parse(file.bytes, source: file.path).count }
            parseTimes.append(ContinuousClock.now - t)
            precondition(count == manifests)
        }

        if let emulatorProcess {
            let emulator = try EmulatorProcess.start(binary: emulatorProcess, directory: tempDir("sync-bench"),
                                                     extraArguments: ["--workloads", workloadControllers ? "true" : "false"])
            defer { emulator.stop() }
            var configuration = try ClientConfiguration.resolve(kubeconfig: emulator.kubeconfig)
            configuration.qps = 10_000
            configuration.burst = 10_000
            let admin = try KubeClient(configuration: configuration)
            let counts = RequestCounter { try await apiRequests(admin) }
            try await measure(admin: admin, counts: counts, upstream: upstream, files: files, bytes: bytes, parseTimes: parseTimes,
                              where: "the API server in its own process: CPU is the instance's alone")
            try await admin.shutdown()
        } else {
            try await withTestCluster({ $0.workloadControllers = workloadControllers; $0.workloadStartDelay = .milliseconds(100) }) { cluster in
                let admin = try cluster.client { $0.qps = 10_000; $0.burst = 10_000 }
                let counts = RequestCounter { cluster.api.requestCounts() }
                try await measure(admin: admin, counts: counts, upstream: upstream, files: files, bytes: bytes, parseTimes: parseTimes,
                                  where: "the emulator in this process: CPU includes its work")
            }
        }
    }

    /// Requests served, as a difference between two readings of the server's counters.
    struct RequestCounter {
        let read: () async throws -> [String: Int]
        private var base: [String: Int] = [:]
        init(_ read: @escaping () async throws -> [String: Int]) { self.read = read }
        mutating func reset() async throws { base = try await read() }
        func since() async throws -> [String: Int] {
            try await read().reduce(into: [:]) { out, item in
                let n = item.value - (base[item.key] ?? 0)
                if n > 0 { out[item.key] = n }
            }
        }
    }

    func measure(admin: KubeClient, counts: RequestCounter, upstream: UpstreamRepo, files: [String: String], bytes: Int, parseTimes: [Duration],
                 where place: String) async throws {
        var counts = counts
        _ = try await admin.create(.namespaces, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "bench"]])
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let instance = InstanceRef(namespace: "bench", name: "bench")
        let mirror = GitMirror(GitMirror.Options(url: upstream.url, directory: tempDir("bench-mirror")))
        let renderer = ManifestRenderer(source: mirror, workDirectory: tempDir("bench-render"), sandbox: .unsandboxed, logger: logger)
        let live = LiveCache(client: admin, instance: instance, logger: logger)
        var options = SyncOptions(instance: instance, setName: GCMark.setName(url: upstream.url, branch: "main", paths: ["apps"]))
        options.garbageCollection.enabled = true
        // As in the operator: every instance's objects are claimed in one registry per process.
        options.claims = ClaimRegistry()
        let syncer = Syncer(client: admin, live: live, inventoryStore: ConfigMapInventoryStore(client: admin, instance: instance),
                            options: options, logger: logger)
        var head = try await mirror.fetch()["main"]!
        let renderOptions = RenderOptions(paths: ["apps"])

        /// Render, then sync; wall time of both, and CPU of the render and of the sync.
        func renderAndSync() async throws -> (SyncResult, wall: Duration, cpu: (render: Duration, sync: Duration)) {
            let cpu0 = cpuTime(), t0 = ContinuousClock.now
            let rendered = try await renderer.render(revision: head, options: renderOptions)
            let cpu1 = cpuTime()
            let result = try await syncer.sync(rendered)
            return (result, ContinuousClock.now - t0, (cpu1 - cpu0, cpuTime() - cpu1))
        }

        let (first, firstWall, firstCPU) = try await renderAndSync()
        precondition(first.count(.created) == manifests, "first sync created \(first.count(.created))")
        // Settled: every object unchanged and verified (the workload controllers have rolled the
        // Deployments out, so a resync needs no full list). Up to a minute.
        var settled = false
        for _ in 0..<300 where !settled {
            try await Task.sleep(for: .milliseconds(200))
            try await counts.reset()
            let unchanged = try await renderAndSync().0.count(.unchanged) == manifests
            let fullLists = try await counts.since().keys.filter { $0.lowercased().hasPrefix("list ") && !$0.hasSuffix("(metadata)") }
            settled = unchanged && fullLists.isEmpty
        }

        var noopCPU: [(render: Duration, sync: Duration)] = [], noopWall: [Duration] = []
        var noopCounts: [String: Int] = [:]
        for _ in 0..<rounds {
            try await counts.reset()
            let (r, wall, cpu) = try await renderAndSync()
            precondition(r.count(.unchanged) == manifests)
            for (k, v) in try await counts.since() { noopCounts[k, default: 0] += v }
            noopCPU.append(cpu)
            noopWall.append(wall)
        }

        var changeCPU: [(render: Duration, sync: Duration)] = [], changeWall: [Duration] = []
        var changeCounts: [String: Int] = [:]
        let changes = 5
        for round in 0..<changes {
            let i = 3 * (round * 37 % (manifests / 3)) + 2
            try upstream.commit(["apps/group\(i / 50)/m\(i).yaml": Self.configMap(i, workers: 100 + round)], message: "change \(i)")
            head = try await mirror.fetch()["main"]!
            try await Task.sleep(for: .milliseconds(300))
            try await counts.reset()
            let (r, wall, cpu) = try await renderAndSync()
            precondition(r.count(.configured) == 1, "configured \(r.count(.configured))")
            for (k, v) in try await counts.since() { changeCounts[k, default: 0] += v }
            changeCPU.append(cpu)
            changeWall.append(wall)
        }

        print("Repository: \(manifests) manifests (\(bytes / 1024) KiB of YAML in \(files.count) files), one instance, GC on; \(place).\n")
        print("| step | wall | CPU: render | CPU: sync | requests to the API server |")
        print("|---|---:|---:|---:|---|")
        print("| parse every file (libyaml → JSONValue, no cache), median of \(rounds) | \(ms(median(parseTimes))) | – | – | – |")
        print("| first sync (cold parse cache) | \(ms(firstWall)) | \(ms(firstCPU.render)) | \(ms(firstCPU.sync)) | \(first.count(.created)) created |")
        func perRound(_ counts: [String: Int], _ rounds: Int) -> String {
            counts.sorted { $0.key < $1.key }.map { "\($0.key): \(Double($0.value) / Double(rounds))" }.joined(separator: ", ")
        }
        print("| no-op resync (render from the parse cache + compare with the live cache), median of \(rounds) | \(ms(median(noopWall))) | \(ms(median(noopCPU.map(\.render)))) | \(ms(median(noopCPU.map(\.sync)))) | per round: \(perRound(noopCounts, rounds)) |")
        print("| one changed object, median of \(changes) | \(ms(median(changeWall))) | \(ms(median(changeCPU.map(\.render)))) | \(ms(median(changeCPU.map(\.sync)))) | per round: \(perRound(changeCounts, changes)) |")
        print("\nRSS after: \(Int(rssMiB())) MiB (\(emulatorProcess == nil ? "emulator, its copy of the objects and the instance in one process" : "the instance and its caches"))")
        renderer.release()
    }
}

func median(_ samples: [Duration]) -> Duration { samples.sorted()[samples.count / 2] }

func ms(_ d: Duration) -> String {
    String(format: "%.2f ms", Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
}

/// User + system CPU time of the whole process.
func cpuTime() -> Duration {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let micros = Int64(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000 + Int64(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
    return .microseconds(micros)
}
