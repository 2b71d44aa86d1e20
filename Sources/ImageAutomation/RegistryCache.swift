import Foundation
import Primitives

/// What is known of one image repository, as seen with one set of credentials.
public struct RepositoryScan: Sendable {
    public var image: ImageRef
    public var tags: [String]
    /// Digest and creation time of the tags that were asked about (`RegistryCache.infos`).
    public var info: [String: ImageInfo]
    public var scannedAt: Date
}

/// Tags and image metadata in memory, shared by every instance of the process, keyed by (image
/// repository, credential identity): instances with the same credentials share entries, and
/// instances with different credentials never see each other's results (a private repository
/// read with one team's key is not served to another). A rescan within `maxAge` costs nothing; a
/// rescan after it costs one tag-list request (pages of 1,000), and metadata is fetched only for
/// tags not seen before (a tag's creation time does not change). Scans of one key in flight are
/// joined. Bounded: at most `maxTags` tags across all entries and `maxTagsPerRepository` per
/// repository (the lexically last ones kept); the least recently used repositories are dropped
/// first. About 280 bytes per tag with its metadata (BENCHMARKS.md): the default 200,000 tags are
/// about 55 MiB at worst.
public actor RegistryCache {
    struct Key: Hashable {
        var image: String
        var identity: String
    }

    struct Entry {
        var scan: RepositoryScan
        var lastUsed: ContinuousClock.Instant
    }

    let client: RegistryClient
    public let maxTags: Int
    public let maxTagsPerRepository: Int
    var totalTags = 0
    var entries: [Key: Entry] = [:]
    let scans = SingleFlight<Key, RepositoryScan>(cancelWhenUnwanted: true)

    public init(client: RegistryClient, maxTags: Int = 200_000, maxTagsPerRepository: Int = 5000) {
        self.client = client
        self.maxTags = maxTags
        self.maxTagsPerRepository = maxTagsPerRepository
    }

    static func key(_ image: ImageRef, _ credentials: RegistryCredentials?) -> Key {
        Key(image: image.name, identity: credentials?.identity ?? "anonymous")
    }

    /// The repository's tags, at most `maxAge` old.
    public func tags(_ image: ImageRef, credentials: RegistryCredentials?, settings: RegistryHostSettings,
                     maxAge: Duration) async throws(RegistryError) -> RepositoryScan {
        let key = Self.key(image, credentials)
        if var entry = entries[key], Date().timeIntervalSince(entry.scan.scannedAt) <= maxAge.seconds {
            entry.lastUsed = .now
            entries[key] = entry
            return entry.scan
        }
        // Scans of one key in flight are joined; a waiter whose task is cancelled stops waiting
        // at once (the scan goes on for the others, and is cancelled when nobody waits for it).
        let client = client, limit = maxTagsPerRepository
        let previous = entries[key]?.scan.info ?? [:]
        do {
            return try await scans.run(key) {
                var tags = try await client.tags(image, credentials: credentials, settings: settings)
                if tags.count > limit { tags = Array(tags.suffix(limit)) }
                let kept = Set(tags)
                return await self.store(key, RepositoryScan(image: image, tags: tags, info: previous.filter { kept.contains($0.key) }, scannedAt: Date()))
            }.value
        } catch {
            throw error as? RegistryError ?? RegistryError(kind: .timeout, message: "\(image.name): cancelled while scanning")
        }
    }

    /// Metadata (digest, creation time) of `tags`, fetching only what is not known yet, at most
    /// four at a time. A tag whose manifest cannot be read is left out (and reported by the caller
    /// when it matters).
    public func infos(_ image: ImageRef, tags: [String], credentials: RegistryCredentials?,
                      settings: RegistryHostSettings) async throws(RegistryError) -> [String: ImageInfo] {
        let key = Self.key(image, credentials)
        let known = entries[key]?.scan.info ?? [:]
        let missing = tags.filter { known[$0] == nil }
        var fetched: [String: ImageInfo] = [:]
        var firstError: RegistryError?
        let client = client
        await withTaskGroup(of: Result<ImageInfo, RegistryError>.self) { group in
            var next = missing.makeIterator()
            func add() -> Bool {
                guard let tag = next.next() else { return false }
                group.addTask {
                    do { return .success(try await client.info(image, tag: tag, credentials: credentials, settings: settings)) } catch {
                        return .failure(error as? RegistryError ?? RegistryError(kind: .unreachable, message: "\(image.name):\(tag): \(error)"))
                    }
                }
                return true
            }
            for _ in 0..<4 { if !add() { break } }
            for await result in group {
                switch result {
                case .success(let info): fetched[info.tag] = info
                case .failure(let error): firstError = firstError ?? error
                }
                _ = add()
            }
        }
        if fetched.isEmpty, let firstError, !missing.isEmpty { throw firstError }
        if var entry = entries[key] {
            entry.scan.info.merge(fetched) { _, new in new }
            entry.lastUsed = .now
            entries[key] = entry
        }
        return known.merging(fetched) { _, new in new }.filter { tags.contains($0.key) }
    }

    /// Keeps a scan (with what was known of its tags' metadata); the entry as kept.
    @discardableResult
    func store(_ key: Key, _ scan: RepositoryScan) -> RepositoryScan {
        var scan = scan
        if let old = entries[key]?.scan.info {
            let kept = Set(scan.tags)
            scan.info.merge(old.filter { kept.contains($0.key) }) { new, _ in new }
        }
        totalTags -= entries[key]?.scan.tags.count ?? 0
        entries[key] = Entry(scan: scan, lastUsed: .now)
        totalTags += scan.tags.count
        if totalTags > maxTags {
            for (k, e) in entries.sorted(by: { $0.value.lastUsed < $1.value.lastUsed }) where totalTags > maxTags && k != key {
                entries[k] = nil
                totalTags -= e.scan.tags.count
            }
        }
        return scan
    }

    /// Entries held, and tags across them (for metrics and the bench).
    public var size: (repositories: Int, tags: Int) {
        (entries.count, entries.values.reduce(0) { $0 + $1.scan.tags.count })
    }
}

/// Picks the tag a container should run.
public enum TagSelection {
    /// The newest tag `filter` allows: the highest version for semver, the most recently created
    /// image for glob and regex (ties by tag name). Nil when nothing matches.
    public static func latest(tags: [String], filter: TagFilter, info: [String: ImageInfo]) -> String? {
        let candidates = tags.filter(filter.matches)
        if filter.ordersByVersion {
            return candidates.compactMap { t in SemanticVersion(t).map { (t, $0) } }.max { $0.1 < $1.1 }?.0
        }
        return candidates.compactMap { t in info[t]?.created.map { (t, $0) } }
            .max { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }?.0
    }
}

extension TagSelection {
    /// Every tag, newest first: by version when the filter orders by version (tags that are not
    /// versions after them), else by creation time (tags of unknown age last); ties by name.
    public static func newestFirst(tags: [String], filter: TagFilter, info: [String: ImageInfo]) -> [String] {
        func byTime(_ a: String, _ b: String) -> Bool {
            switch (info[a]?.created, info[b]?.created) {
            case let (x?, y?) where x != y: return x > y
            case (.some, nil): return true
            case (nil, .some): return false
            default: return a > b
            }
        }
        guard filter.ordersByVersion else { return tags.sorted(by: byTime) }
        let versions = tags.compactMap { t in SemanticVersion(t).map { (t, $0) } }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 > $1.0 }.map(\.0)
        let versioned = Set(versions)
        return versions + tags.filter { !versioned.contains($0) }.sorted(by: byTime)
    }
}
