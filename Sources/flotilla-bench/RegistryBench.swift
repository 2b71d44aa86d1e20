import ArgumentParser
import CSupport
import Foundation
import GitTesting
import ImageAutomation

/// Registry scanning against Debian's docker-registry on loopback: requests per rescan of many
/// image repositories through the shared cache, and the cache's memory per 10,000 tags.
struct RegistryBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "registry", abstract: "Requests per rescan and cache memory of registry scanning.")

    @Option(help: "Image repositories scanned.") var images = 100
    @Option(help: "Tags per repository (pushed through the registry's API).") var tags = 5
    @Option(help: "Tags in the one large repository used for the memory figure (written into the registry's storage).") var largeTags = 10_000

    func run() async throws {
        let registry = try LocalRegistry()
        defer { registry.stop() }
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        for i in 0..<images {
            for t in 0..<tags { try registry.push("bench/app-\(i)", tag: "1.0.\(t)", created: start.addingTimeInterval(Double(t) * 60)) }
        }
        var settings = RegistryHostSettings()
        settings.insecure = true
        settings.rps = 10_000
        settings.burst = 1000
        let client = RegistryClient(limits: HostRateLimits())
        let cache = RegistryCache(client: client)
        let refs = (0..<images).map { ImageRef("\(registry.host)/bench/app-\($0):1.0.0")! }

        // First scan: tag lists plus metadata (glob filters need creation times).
        var r0 = client.requests
        let t0 = ContinuousClock.now
        for ref in refs {
            let scan = try await cache.tags(ref, credentials: nil, settings: settings, maxAge: .seconds(300))
            _ = try await cache.infos(ref, tags: scan.tags, credentials: nil, settings: settings)
        }
        let firstRequests = client.requests - r0, firstTime = ContinuousClock.now - t0
        // Rescan within maxAge: answered from the cache.
        r0 = client.requests
        for ref in refs { _ = try await cache.tags(ref, credentials: nil, settings: settings, maxAge: .seconds(300)) }
        let cachedRequests = client.requests - r0
        // Rescan after maxAge with nothing new: one tag list per repository, no manifest.
        r0 = client.requests
        let t1 = ContinuousClock.now
        for ref in refs {
            let scan = try await cache.tags(ref, credentials: nil, settings: settings, maxAge: .zero)
            _ = try await cache.infos(ref, tags: scan.tags, credentials: nil, settings: settings)
        }
        let rescanRequests = client.requests - r0, rescanTime = ContinuousClock.now - t1

        // Memory of 10,000 tags with their metadata: tags written into the registry's storage as
        // links to one manifest (pushing 10,000 manifests through the API would take minutes).
        let digest = try registry.push("bench/large", tag: "seed", created: start)
        let tagsDir = registry.dir + "/data/docker/registry/v2/repositories/bench/large/_manifests/tags"
        for i in 0..<largeTags {
            let dir = "\(tagsDir)/v\(i / 100).\(i % 100).0/current"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try digest.write(toFile: dir + "/link", atomically: false, encoding: .utf8)
        }
        let large = ImageRef("\(registry.host)/bench/large")!
        let bigCache = RegistryCache(client: client, maxTags: largeTags + 10, maxTagsPerRepository: largeTags + 10)
        flotilla_malloc_trim()
        let before = mallocInUse()
        let scan = try await bigCache.tags(large, credentials: nil, settings: settings, maxAge: .seconds(300))
        let afterTags = mallocInUse()
        _ = try await bigCache.infos(large, tags: scan.tags, credentials: nil, settings: settings)
        flotilla_malloc_trim()
        let afterInfo = mallocInUse()
        let size = await bigCache.size

        print("\(images) image repositories × \(tags) tags on docker-registry (distribution 2.8) over loopback; one large repository of \(scan.tags.count) tags.\n")
        print("| figure | value |")
        print("|---|---|")
        print("| first scan: tag lists + manifest and config blob of every tag | \(firstRequests) requests (\(String(format: "%.1f", Double(firstRequests) / Double(images))) per image), \(ms(firstTime)) |")
        print("| rescan within pollInterval | \(cachedRequests) requests |")
        print("| rescan after pollInterval, nothing new | \(rescanRequests) requests (\(String(format: "%.1f", Double(rescanRequests) / Double(images))) per image), \(ms(rescanTime)) |")
        print("| cache memory for \(size.tags) tags: tag list only / with digest and creation time | \(kib(afterTags - before)) / \(kib(afterInfo - before)) (\(String(format: "%.0f", Double(afterInfo - before) / Double(max(1, size.tags)))) bytes per tag) |")
    }

    func mallocInUse() -> Int {
        var inUse = 0, fromSystem = 0
        flotilla_malloc_stats(&inUse, &fromSystem)
        return inUse
    }

    func kib(_ bytes: Int) -> String { String(format: "%.0f KiB", Double(bytes) / 1024) }
}
