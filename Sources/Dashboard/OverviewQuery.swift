import KubeClient
import KubeModel

/// The overview's question: which instances (search, state), in which order, which page. A value
/// decided from the query string and applied to rows, without I/O; the server pages and filters,
/// so a browser never receives more than one page of a thousand instances.
public struct OverviewQuery: Sendable, Equatable {
    public enum Sort: String, Sendable, CaseIterable {
        case name, state, lastSync = "last-sync", behind, drift
    }

    public var search = ""
    public var state: String?
    public var sort = Sort.name
    public var page = 1
    public var pageSize = 50

    public static let maxPageSize = 500

    public init() {}

    /// From `q`, `state`, `sort`, `page` and `size`; what does not parse keeps its default.
    public init(parameters: [String: String]) {
        search = parameters["q"]?.trimmingSpacesAndTabs ?? ""
        if let s = parameters["state"], InstanceRow.states.contains(s) { state = s }
        sort = parameters["sort"].flatMap(Sort.init(rawValue:)) ?? .name
        page = max(1, Int(parameters["page"] ?? "") ?? 1)
        pageSize = min(Self.maxPageSize, max(1, Int(parameters["size"] ?? "") ?? 50))
    }

    public func apply(_ rows: [InstanceRow]) -> OverviewPage {
        let needle = search.lowercased()
        let found = needle.isEmpty ? rows : rows.filter {
            $0.key.lowercased().contains(needle) || $0.source.lowercased().contains(needle) || $0.reason.lowercased().contains(needle)
        }
        var counts: [String: Int] = [:]
        for row in found { counts[row.state, default: 0] += 1 }
        let matching = state.map { s in found.filter { $0.state == s } } ?? found
        let ordered = matching.sorted(by: order)
        let pages = max(1, (ordered.count + pageSize - 1) / pageSize)
        let current = min(page, pages)
        let slice = ordered.dropFirst((current - 1) * pageSize).prefix(pageSize)
        return OverviewPage(rows: Array(slice), total: rows.count, matching: ordered.count, page: current, pages: pages,
                            counts: InstanceRow.states.map { StateCount(state: $0, count: counts[$0] ?? 0) })
    }

    /// Problems first for `state` (Failing, Progressing, …); newest first for `last-sync`; most
    /// behind / most drifted first. Ties by namespace/name, so paging is stable.
    func order(_ a: InstanceRow, _ b: InstanceRow) -> Bool {
        let rank = ["Failing": 0, "Progressing": 1, "Unknown": 2, "Suspended": 3, "Ready": 4]
        switch sort {
        case .name: break
        case .state: if a.state != b.state { return rank[a.state, default: 5] < rank[b.state, default: 5] }
        case .lastSync: if a.lastSync != b.lastSync { return a.lastSync > b.lastSync }
        case .behind: if a.behind != b.behind { return a.behind > b.behind }
        case .drift: if a.drift != b.drift { return a.drift > b.drift }
        }
        return (a.namespace, a.name) < (b.namespace, b.name)
    }

    /// The query string of this query on another page (or with another state / sort).
    public func link(page: Int? = nil, state: String?? = nil, sort: Sort? = nil) -> String {
        var parts: [String] = []
        if !search.isEmpty { parts.append("q=\(Self.escape(search))") }
        if let s = state ?? self.state { parts.append("state=\(s)") }
        let sorted = sort ?? self.sort
        if sorted != .name { parts.append("sort=\(sorted.rawValue)") }
        if pageSize != 50 { parts.append("size=\(pageSize)") }
        let p = page ?? 1
        if p > 1 { parts.append("page=\(p)") }
        return parts.isEmpty ? "/" : "/?" + parts.joined(separator: "&")
    }

    static func escape(_ text: String) -> String { KubeClient.percentEncode(text) }
}

public struct StateCount: Sendable, Equatable {
    public var state: String
    public var count: Int
}

/// One page of the overview, with the counts by state of everything the search matched.
public struct OverviewPage: Sendable, Equatable {
    public var rows: [InstanceRow]
    /// Instances the user may list.
    public var total: Int
    /// Instances the search and the state filter matched.
    public var matching: Int
    public var page: Int
    public var pages: Int
    public var counts: [StateCount]
}
