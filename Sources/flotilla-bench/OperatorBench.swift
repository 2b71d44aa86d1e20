import ArgumentParser
import CSupport
import Crypto
import FlotillaAPI
import Foundation
import GitSource
import GitTesting
import KubeClient
import KubeModel
import Logging
import Manifests
import NIOHTTP1
import Operator
import Sync

/// Many instances in one operator process, against `flotilla dev --api-only` running as a separate
/// process (so the operator's RSS and CPU are its own): time to all Ready, idle RSS and CPU,
/// commit-to-applied latency after a reconcile request, and a storm of one commit per instance.
struct OperatorBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "operator", abstract: "Density, idle cost, latency and storm figures of the operator.")

    @Option(help: "FluxInstances (one namespace each).") var instances = 1000
    @Option(help: "Manifests per instance (ConfigMaps).") var manifests = 100
    @Option(help: "Seconds of idle measurement after all are Ready.") var idleSeconds = 60
    @Option(help: "Poll interval of the instances.") var pollInterval = "1m"
    @Option(help: "Distinct upstream repositories the instances are spread over (1: all share one, whose polls they then share; N: copies of it, each polled on its own).") var repositories = 1
    @Flag(help: "Serve the repositories with `git daemon` (git://) in its own process instead of file://, so that the git host's side of every poll and push is not counted as the operator's.") var gitDaemon = false
    @Flag(help: "Read-only instances (spec.git.readonly): no sync tag is pushed after a sync, so the storm shows what the git host's receive-packs cost.") var readonly = false
    @Option(help: "Concurrent syncs in the operator.") var concurrency = 8
    @Option(help: "Latency rounds (reconcile request after a commit).") var latencyRounds = 30
    @Flag(help: "Exit right after the idle measurement (for heap profilers: what is still allocated then is the idle state).") var exitAfterIdle = false
    @Option(help: "The flotilla binary that serves the API emulator.") var flotilla = ".build/release/flotilla"
    @Option(help: "Soak: minutes of steady work after the storm (a commit to the shared repository every --soak-commit-seconds; RSS sampled each minute, every commit's lag to every instance).") var soakMinutes = 0
    @Option(help: "Soak: seconds between commits.") var soakCommitSeconds = 60

    static let webhookToken = "bench-webhook-token"

    func run() async throws {
        flotilla_limit_malloc_arenas(2)  // as `flotilla run` does
        let work = tempDir("opbench")
        let emulator = try EmulatorProcess.start(binary: flotilla, directory: work)
        defer { emulator.stop() }
        var configuration = try ClientConfiguration.resolve(kubeconfig: emulator.kubeconfig)
        configuration.qps = 5000
        configuration.burst = 5000
        configuration.maxConnectionsPerHost = 256  // `flotilla run`'s default
        let client = try KubeClient(configuration: configuration)

        var files: [String: String] = ["README.md": "bench\n"]
        for i in 0..<manifests { files["apps/cm-\(i).yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-\(i)\ndata:\n  value: \"\(i)\"\n  mode: production\n" }
        let shared = try UpstreamRepo(files: files)
        // Copies of the shared repository (bare directories, same history) so that instances can
        // also be measured with a remote each, whose polls nobody shares.
        let copies: [String] = try (1..<max(1, repositories)).map { i in
            let bare = work + "/upstream-\(i).git"
            _ = try sh(["cp", "-a", shared.bare, bare])
            return bare
        }
        var urls = [shared.url] + copies.map { "file://" + $0 }
        var daemon: TestGitDaemon?
        if gitDaemon {
            let d = try TestGitDaemon(root: "/", logging: false)
            urls = ([shared.bare] + copies).map { "git://127.0.0.1:\(d.port)\($0)" }
            daemon = d
        }
        defer { daemon?.stop() }
        let instanceURLs = urls
        let single = try UpstreamRepo(files: ["apps/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: latency\ndata:\n  round: \"0\"\n"])

        _ = try await client.apply(try YAML.decode(FluxInstanceCRD.yaml), as: .customResourceDefinitions, fieldManager: "bench", force: true)
        while (try? await client.list(FluxInstance.resourceType, pageSize: 1, firstPageOnly: true)) == nil { try await Task.sleep(for: .milliseconds(100)) }
        let names = (0..<instances).map { "fleet-\($0)" } + ["latency"]
        try await forEachConcurrently(names, limit: 32) { ns in
            _ = try await client.apply(["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(ns)]], as: .namespaces, fieldManager: "bench", force: true)
            let url = ns == "latency" ? single.url : instanceURLs[(Int(ns.dropFirst("fleet-".count)) ?? 0) % instanceURLs.count]
            let instance: JSONValue = ["apiVersion": .string(Flotilla.apiVersion), "kind": "FluxInstance", "metadata": ["name": "apps", "namespace": .string(ns)],
                                       "spec": ["git": ["url": .string(url), "paths": ["apps"], "pollInterval": .string(ns == "latency" ? "1h" : pollInterval), "readonly": .bool(readonly)],
                                                "sync": ["interval": "1h"], "receiver": ["type": "generic", "secretRef": ["name": "webhook"]]]]
            _ = try await client.apply(["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "webhook", "namespace": .string(ns)],
                                        "stringData": ["token": .string(Self.webhookToken)]], as: .secrets, fieldManager: "bench", force: true)
            _ = try await client.apply(instance, as: FluxInstance.resourceType, fieldManager: "bench", force: true)
        }

        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let rssBefore = rssMiB()
        let supervisor = Supervisor(environment: OperatorEnvironment(client: client, workRoot: work + "/instances", concurrency: concurrency, tenancy: TenancyPolicy(generators: .bubblewrap(Bubblewrap())), logger: logger))
        let running = Task { try await supervisor.run() }
        defer { running.cancel() }
        let started = ContinuousClock.now
        var head = try shared.head()
        /// Instances whose written status says `revision` is applied, asked of the reconcilers in
        /// this process: listing every FluxInstance from the API server five times a second (as
        /// this bench did until 2026-12-06) cost the storm about a tenth of its CPU, here and in
        /// the emulator.
        func appliedAt(_ revision: String) async throws -> Int {
            var n = 0
            for ref in supervisor.running {
                if await supervisor.reconciler(ref)?.reportedRevision == revision { n += 1 }
            }
            return n
        }
        /// Up to five instances that have not applied `revision`, with their Ready condition and
        /// when it last changed, as the API server has them.
        func straggling(_ revision: String, client: KubeClient) async throws -> [String] {
            var out: [String] = []
            for ref in supervisor.running where out.count < 5 && ref.namespace != "latency" {
                guard await supervisor.reconciler(ref)?.reportedRevision != revision else { continue }
                let status = try await client.get(FluxInstance.resourceType, name: ref.name, namespace: ref.namespace)["status"]
                let ready = status?["conditions"]?.arrayValue?.first { $0["type"]?.stringValue == "Ready" }
                out.append("\(ref): \(ready?["reason"]?.stringValue ?? "no Ready condition") since \(ready?["lastTransitionTime"]?.stringValue ?? "–"): "
                           + (ready?["message"]?.stringValue ?? ""))
            }
            return out
        }
        while try await appliedAt(head) < instances { try await Task.sleep(for: .seconds(1)) }
        let allReady = ContinuousClock.now - started
        // A thousand instances moved their sync tag in this one repository, each push leaving a
        // small pack; a git host repacks such a repository in its housekeeping. Polling a file://
        // remote runs the host's side in this process, so without it every poll would map and
        // unmap every pack index to peel the tag (not the operator's cost).
        for bare in [shared.bare, single.bare] + copies { _ = try sh(["git", "--git-dir", bare, "repack", "-a", "-d", "-q"]) }

        // Idle: nothing changes; instances poll every pollInterval.
        try await Task.sleep(for: .seconds(5))
        let requests0 = try await apiRequests(client)
        func passes() async -> Int {
            var n = 0
            for ref in supervisor.running { n += await supervisor.reconciler(ref)?.passes ?? 0 }
            return n
        }
        let passes0 = await passes()
        let reused0 = SharedPolls.shared.reused
        let cpu0 = cpuTime(), t0 = ContinuousClock.now
        FileHandle.standardError.write(Data("idle: measuring for \(idleSeconds) s (attach a profiler now)\n".utf8))
        try await Task.sleep(for: .seconds(idleSeconds))
        let idleCPU = (cpuTime() - cpu0).seconds / (ContinuousClock.now - t0).seconds
        let idleRSS = rssMiB()
        let idleRequests = try await apiRequests(client).merging(requests0) { $0 - $1 }.filter { $0.value > 0 }
        let idleMemory = memoryBreakdown()
        let idlePasses = await passes() - passes0
        let idleReused = SharedPolls.shared.reused - reused0
        if exitAfterIdle {
            print("idle: RSS \(Int(idleRSS)) MiB, \(idleMemory)")
            emulator.stop()
            Foundation.exit(0)
        }

        // Latency: a commit, then a reconcile request; until the status says it is applied.
        var latencies: [Duration] = []
        for round in 1...latencyRounds {
            let revision = try single.commit(["apps/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: latency\ndata:\n  round: \"\(round)\"\n"], message: "round \(round)")
            let t = ContinuousClock.now
            _ = try await client.patch(FluxInstance.resourceType, name: "apps", namespace: "latency",
                                       ["metadata": ["annotations": [.init(stringLiteral: Flotilla.reconcileRequestedAt): .string("\(round)")]]])
            while try await client.get(FluxInstance.resourceType, name: "apps", namespace: "latency")["status"]?["lastAppliedRevision"]?.stringValue != revision {
                try await Task.sleep(for: .milliseconds(2))
            }
            latencies.append(ContinuousClock.now - t)
        }

        // Push webhook: a commit, then a signed delivery to the latency instance's receiver (as the
        // HTTP endpoint hands it to the supervisor); until the status says it is applied. The
        // other instances poll every pollInterval meanwhile.
        var pushLatencies: [Duration] = []
        for round in 1...latencyRounds {
            let revision = try single.commit(["apps/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: latency\ndata:\n  push: \"\(round)\"\n"], message: "push \(round)")
            let t = ContinuousClock.now
            let body = Array(#"{"push":\#(round)}"#.utf8)
            let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(Self.webhookToken.utf8))).map { String(format: "%02x", $0) }.joined()
            let answer = await supervisor.receive(namespace: "latency", receiver: "webhook",
                                                  delivery: WebhookDelivery(headers: ["X-Signature": "sha256=" + mac, "X-Delivery": "bench-\(round)"], body: body))
            guard answer.status == 202 else { throw ValidationError("the webhook was refused: \(answer.status) \(answer.message)") }
            while try await client.get(FluxInstance.resourceType, name: "apps", namespace: "latency")["status"]?["lastAppliedRevision"]?.stringValue != revision {
                try await Task.sleep(for: .milliseconds(2))
            }
            pushLatencies.append(ContinuousClock.now - t)
        }

        // Storm: one commit reaches every instance; each is asked to reconcile at once.
        var changed: [String: String?] = [:]
        for i in 0..<max(1, manifests / 10) { changed["apps/cm-\(i).yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-\(i)\ndata:\n  value: \"storm\"\n" }
        head = try shared.commit(changed, message: "storm")
        try publishAtOnce(head, from: shared.bare, to: copies)
        let stormRequests0 = try await apiRequests(client)
        FileHandle.standardError.write(Data("storm: starting (attach a profiler now)\n".utf8))
        let stormStart = ContinuousClock.now
        let stormCPU0 = cpuTime()
        let emulatorCPU0 = processCPU(emulator.process.processIdentifier), machineCPU0 = machineCPU()
        try await forEachConcurrently(Array(names.dropLast()), limit: 32) { ns in
            _ = try await client.patch(FluxInstance.resourceType, name: "apps", namespace: ns,
                                       ["metadata": ["annotations": [.init(stringLiteral: Flotilla.reconcileRequestedAt): "storm"]]])
        }
        // When half, nine tenths and all had applied it (to 200 ms): a long tail is a few
        // instances retrying, not a slow storm; what the stragglers' status said then is printed.
        var half: Duration?, most: Duration?, stragglers: [String] = []
        while true {
            let n = try await appliedAt(head)
            if n >= instances { break }
            let now = ContinuousClock.now - stormStart
            if half == nil, n * 2 >= instances { half = now }
            if most == nil, n * 10 >= instances * 9 { most = now }
            if let most, stragglers.isEmpty, now - most > .seconds(3) {
                stragglers = try await straggling(head, client: client)
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        let storm = ContinuousClock.now - stormStart
        let stormCPU = cpuTime() - stormCPU0
        let emulatorCPU = processCPU(emulator.process.processIdentifier) - emulatorCPU0
        let otherCPU = machineCPU() - machineCPU0 - stormCPU - emulatorCPU
        let writes = instances * max(1, manifests / 10)
        let stormRequests = try await apiRequests(client).merging(stormRequests0) { $0 - $1 }.filter { $0.value > 0 }

        let soak = soakMinutes > 0 ? try await runSoak(client: client, shared: shared, copies: copies, names: Array(names.dropLast())) : nil

        let sorted = latencies.sorted()
        print("\(instances) instances × \(manifests) manifests (ConfigMaps), one namespace each, over \(urls.count) repositor\(urls.count == 1 ? "y" : "ies"), polling every \(pollInterval)\(readonly ? ", read-only (no sync tag)" : ""), \(concurrency) concurrent syncs; the API emulator in a separate process.\n")
        print("| figure | value |")
        print("|---|---|")
        print("| all \(instances) instances Ready (first clone, render, \(instances * manifests) objects created) | \(ms(allReady)) |")
        print("| RSS of the operator process: before the instances / after \(idleSeconds) s idle | \(Int(rssBefore)) MiB / \(Int(idleRSS)) MiB |")
        print("| memory after idle | \(idleMemory) |")
        print("| API requests during the idle minute (the bench's own two scrapes included) | \(idleRequests.values.reduce(0, +)) (\(idleRequests.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))) |")
        print("| reconcile passes during the idle minute (polls, all instances) | \(idlePasses) (\(idleReused) answered from another instance's recent poll of the same remote) |")
        print("| idle CPU over \(idleSeconds) s (share of one core) | \(String(format: "%.2f %%", idleCPU * 100)) |")
        print("| commit-to-applied after a reconcile request, p50 / p99 of \(latencyRounds) | \(ms(sorted[sorted.count / 2])) / \(ms(sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))])) |")
        let pushed = pushLatencies.sorted()
        print("| push-to-applied through a webhook (generic receiver), p50 / p99 of \(latencyRounds) | \(ms(pushed[pushed.count / 2])) / \(ms(pushed[min(pushed.count - 1, Int(Double(pushed.count) * 0.99))])) |")
        print("| storm: half of the instances applied / nine tenths / all | \(half.map(ms) ?? "–") / \(most.map(ms) ?? "–") / \(ms(storm)) |")
        for line in stragglers { print("| storm straggler, 3 s after nine tenths | \(line) |") }
        print("| API requests during the storm (the bench's own reconcile requests and two scrapes included) | \(stormRequests.values.reduce(0, +)) (\(stormRequests.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))) |")
        print("| storm: one commit to every instance (\(writes) objects changed), all applied | \(ms(storm)) (\(String(format: "%.0f", Double(writes) / storm.seconds)) writes/s; CPU: operator \(ms(stormCPU)), API emulator \(ms(emulatorCPU)), other processes \(gitDaemon ? "(git daemon's upload-packs and receive-packs) " : "")\(ms(otherCPU))) |")
        if let soak { print(soak) }
        running.cancel()
        _ = try? await running.value
        try? await client.shutdown()
    }
}

/// The emulator's request counters (its /metrics, as kube-apiserver's apiserver_request_total).
extension OperatorBench {
    /// Steady work for `soakMinutes`: a commit every `soakCommitSeconds`, found by each instance's
    /// own polls (no reconcile request). Samples RSS each minute and, per commit, the lag until each
    /// instance applied it. Rows for the BENCHMARKS/RELIABILITY tables.
    func runSoak(client: KubeClient, shared: UpstreamRepo, copies: [String], names: [String]) async throws -> String {
        FileHandle.standardError.write(Data("soak: \(soakMinutes) min, a commit every \(soakCommitSeconds) s\n".utf8))
        let end = ContinuousClock.now + .seconds(soakMinutes * 60)
        var rss: [Double] = [rssMiB()]
        var lags: [Double] = []
        // Per instance, the commits it has not applied yet (round, when committed); a later
        // revision applied settles the earlier ones too, with their own lag.
        var outstanding: [String: [(round: Int, at: ContinuousClock.Instant)]] = [:]
        var rounds: [String: Int] = [:]
        var lastSample = ContinuousClock.now
        var round = 0
        func settle() async throws {
            for item in try await client.list(FluxInstance.resourceType).items {
                guard let ns = item["metadata"]?["namespace"]?.stringValue, let applied = item["status"]?["lastAppliedRevision"]?.stringValue,
                      let r = rounds[applied], let waiting = outstanding[ns], !waiting.isEmpty else { continue }
                let now = ContinuousClock.now
                for w in waiting where w.round <= r { lags.append((now - w.at).seconds) }
                outstanding[ns] = waiting.filter { $0.round > r }
            }
        }
        while ContinuousClock.now < end {
            round += 1
            let revision = try shared.commit(["apps/cm-0.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-0\ndata:\n  value: \"soak \(round)\"\n"], message: "soak \(round)")
            for bare in copies { _ = try sh(["git", "--git-dir", shared.bare, "push", "-q", bare, "main"]) }
            let committed = ContinuousClock.now
            rounds[revision] = round
            for ns in names { outstanding[ns, default: []].append((round, committed)) }
            let roundEnd = committed + .seconds(soakCommitSeconds)
            while ContinuousClock.now < roundEnd {
                try await Task.sleep(for: .milliseconds(500))
                try await settle()
            }
            if ContinuousClock.now - lastSample >= .seconds(60) {
                rss.append(rssMiB())
                lastSample = ContinuousClock.now
            }
        }
        // The last commit gets a poll interval and a half to arrive everywhere.
        let grace = ContinuousClock.now + .seconds(max(soakCommitSeconds, 90))
        while outstanding.values.contains(where: { !$0.isEmpty }) && ContinuousClock.now < grace {
            try await Task.sleep(for: .milliseconds(500))
            try await settle()
        }
        let never = outstanding.values.reduce(0) { $0 + $1.count }
        rss.append(rssMiB())
        lags.sort()
        let p = { (q: Double) in lags.isEmpty ? 0 : lags[min(lags.count - 1, Int(Double(lags.count) * q))] }
        let third = max(1, rss.count / 3)
        let early = rss.prefix(third).reduce(0, +) / Double(third), late = rss.suffix(third).reduce(0, +) / Double(third)
        return "| soak: \(soakMinutes) min, \(round) commits each found by \(names.count) instances' polls | lag p50 \(String(format: "%.1f", p(0.5))) s / p99 \(String(format: "%.1f", p(0.99))) s / max \(String(format: "%.1f", lags.last ?? 0)) s over \(lags.count) instance-commits; \(never) never applied; RSS \(Int(rss.first!)) → \(Int(rss.last!)) MiB (mean of first third \(Int(early)), last third \(Int(late)); samples \(rss.map { String(Int($0)) }.joined(separator: ", "))) |"
    }
}

/// Makes `commit` (in `source`, one commit past every copy's `main`) the `main` of every copy at
/// nearly the same moment: its objects go into each copy first, as a pack no ref names (invisible
/// to polls), then each copy's `refs/heads/main` is replaced by a rename, as git's own ref update
/// does. Pushing to one copy after another took 20 s or more, and the instances that polled in
/// the meantime synced before the storm began (a third of them, by one run's request counts).
func publishAtOnce(_ commit: String, from source: String, to copies: [String]) throws {
    let dir = tempDir("storm-pack")
    let pack = try sh(["sh", "-c", "git --git-dir '\(source)' rev-list --objects \(commit)^..\(commit) | git --git-dir '\(source)' pack-objects -q '\(dir)/pack'"])
        .trimmingCharacters(in: .whitespacesAndNewlines)
    for copy in copies {
        for ext in ["pack", "idx"] {
            try FileManager.default.copyItem(atPath: "\(dir)/pack-\(pack).\(ext)", toPath: "\(copy)/objects/pack/pack-\(pack).\(ext)")
        }
    }
    for copy in copies {
        let ref = copy + "/refs/heads/main"
        try Data((commit + "\n").utf8).write(to: URL(fileURLWithPath: ref + ".lock"))
        guard rename(ref + ".lock", ref) == 0 else { throw FixtureError("cannot move \(ref): errno \(errno)") }
    }
}

func apiRequests(_ client: KubeClient) async throws -> [String: Int] {
    let text = String(decoding: try await client.send(.GET, "/metrics", accept: "text/plain").body, as: UTF8.self)
    var out: [String: Int] = [:]
    for line in text.split(separator: "\n") where line.hasPrefix("apiserver_request_total{") {
        guard let space = line.lastIndex(of: " "), let n = Int(line[line.index(after: space)...]) else { continue }
        let labels = line[line.index(after: line.firstIndex(of: "{")!)..<line.firstIndex(of: "}")!]
            .split(separator: ",").map { $0.split(separator: "=").last.map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) } ?? "" }
        out[labels.joined(separator: " "), default: 0] += n
    }
    return out
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

func forEachConcurrently<T: Sendable>(_ items: [T], limit: Int, _ body: @escaping @Sendable (T) async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        var iterator = items.makeIterator()
        for _ in 0..<limit {
            guard let item = iterator.next() else { break }
            group.addTask { try await body(item) }
        }
        while try await group.next() != nil {
            if let item = iterator.next() { group.addTask { try await body(item) } }
        }
    }
}

/// `flotilla dev --api-only` as a child process.
final class EmulatorProcess: Sendable {
    let process: Process
    let kubeconfig: String

    init(process: Process, kubeconfig: String) {
        self.process = process
        self.kubeconfig = kubeconfig
    }

    static func start(binary: String, directory: String, extraArguments: [String] = []) throws -> EmulatorProcess {
        let kubeconfig = directory + "/kubeconfig"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["dev", "--api-only", "--port", "0", "--kubeconfig", kubeconfig, "--watch-window", "200000", "--log-level", "error"] + extraArguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        for _ in 0..<300 {
            if FileManager.default.fileExists(atPath: kubeconfig) { return EmulatorProcess(process: process, kubeconfig: kubeconfig) }
            usleep(100_000)
        }
        process.terminate()
        throw ValidationError("the emulator did not start (\(binary))")
    }

    func stop() {
        if process.isRunning { process.terminate() }
    }
}
