import NIOHTTP1
import KubeModel
import Primitives
import Synchronization

/// Maps apiVersion + kind to resource types using discovery, cached per group/version. A miss
/// (a CRD created since) refreshes that group/version once, never more than once a second, and
/// concurrent misses share one discovery request.
public actor RESTMapper {
    struct Entry: Sendable {
        var resources: [ResourceType]
        var fetched: ContinuousClock.Instant
    }
    private var cache: [String: Entry] = [:]
    /// Concurrent misses of one group/version share one discovery request.
    private let discovery = SingleFlight<String, Entry>()
    /// Discovery requests made (for tests and metrics).
    public var discoveryRequests: Int { requests.load(ordering: .relaxed) }
    private let requests = Atomic<Int>(0)
    private nonisolated func countRequest() { requests.add(1, ordering: .relaxed) }

    public init() {}

    public func mapping(apiVersion: String, kind: String, client: KubeClient) async throws(KubeError) -> ResourceType {
        if let hit = cache[apiVersion]?.resources.first(where: { $0.kind == kind }) { return hit }
        if let entry = cache[apiVersion], ContinuousClock.now - entry.fetched < .seconds(1) {
            throw noMatch(apiVersion, kind)
        }
        let entry = try await refresh(apiVersion, client: client)
        guard let found = entry.resources.first(where: { $0.kind == kind }) else { throw noMatch(apiVersion, kind) }
        return found
    }

    /// Every resource of a group/version (cached).
    public func resources(apiVersion: String, client: KubeClient) async throws(KubeError) -> [ResourceType] {
        if let entry = cache[apiVersion] { return entry.resources }
        return try await refresh(apiVersion, client: client).resources
    }

    public func invalidate() { cache.removeAll() }

    /// Forgets one group/version (e.g. after a CRD for it was created).
    public func invalidate(apiVersion: String) { cache[apiVersion] = nil }

    private func store(_ apiVersion: String, _ entry: Entry) { cache[apiVersion] = entry }

    private func noMatch(_ apiVersion: String, _ kind: String) -> KubeError {
        KubeError(code: 404, reason: "NotFound", message: "no matches for kind \"\(kind)\" in version \"\(apiVersion)\"")
    }

    private func refresh(_ apiVersion: String, client: KubeClient) async throws(KubeError) -> Entry {
        do {
            // The flight stores its answer before it ends, so a miss arriving between the end of the
            // flight and this caller's resumption finds the cache filled instead of asking again.
            return try await discovery.run(apiVersion) { [self] in
                countRequest()
                let entry = try await Self.fetch(apiVersion, client: client)
                await store(apiVersion, entry)
                return entry
            }.value
        } catch {
            if let e = error as? KubeError {
                if e.isNotFound {
                    cache[apiVersion] = Entry(resources: [], fetched: .now)
                    throw KubeError(code: 404, reason: "NotFound", message: "the server does not serve \(apiVersion)")
                }
                throw e
            }
            throw KubeError.transport("discovery of \(apiVersion): \(error)")
        }
    }

    static func fetch(_ apiVersion: String, client: KubeClient) async throws -> Entry {
        let path = apiVersion.contains("/") ? "/apis/\(apiVersion)" : "/api/\(apiVersion)"
        let list = try await client.send(.GET, path).json
        let group = apiVersion.contains("/") ? String(apiVersion.split(separator: "/")[0]) : ""
        let version = apiVersion.contains("/") ? String(apiVersion.split(separator: "/")[1]) : apiVersion
        let resources: [ResourceType] = (list["resources"]?.arrayValue ?? []).compactMap { r in
            guard let name = r["name"]?.stringValue, !name.contains("/"), let kind = r["kind"]?.stringValue else { return nil }
            return ResourceType(group: group, version: version, resource: name, kind: kind, namespaced: r["namespaced"]?.boolValue ?? false)
        }
        return Entry(resources: resources, fetched: .now)
    }
}
