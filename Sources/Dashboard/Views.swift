import FlotillaAPI
import KubeModel

/// What the templates show, as plain stored properties (Mustache reads them by reflection).
struct LayoutView {
    var title: String
    var user: String
    var cluster: String
    var body: String
    /// The live feed's version the page shows; its event stream starts after it.
    var version: Int
    var csrf: String
    /// The operator's dashboard, someone signed in: offer to sign out.
    var signedIn: Bool
}

struct RowView {
    var namespace, name, key, state, stateClass, revision, lastSync, health, message: String
    var behind, drift: Int

    init(_ r: InstanceRow) {
        (namespace, name, key, state, stateClass) = (r.namespace, r.name, r.key, r.state, r.stateClass)
        (revision, lastSync, health, message, behind, drift) = (r.revision, r.lastSync, r.health, r.message, r.behind, r.drift)
    }
}

struct OverviewView {
    struct Count { var state, stateClass, link: String; var count: Int; var current: Bool }
    struct Option { var value, label: String; var selected: Bool }

    var rows: [RowView]
    var counts: [Count]
    var found, matching, total, page, pages: Int
    var search: String
    var state: String?
    var allLink: String
    var stateOptions: [Option]
    var sortOptions: [Option]
    var previous: String?
    var next: String?
    var error: String?

    init(_ page: OverviewPage, query: OverviewQuery, error: String?) {
        rows = page.rows.map(RowView.init)
        counts = page.counts.map { Count(state: $0.state, stateClass: $0.state.lowercased(), link: query.link(state: .some($0.state)),
                                         count: $0.count, current: query.state == $0.state) }
        found = page.counts.reduce(0) { $0 + $1.count }
        (matching, total, self.page, pages) = (page.matching, page.total, page.page, page.pages)
        search = query.search
        state = query.state
        allLink = query.link(state: .some(nil))
        stateOptions = InstanceRow.states.map { Option(value: $0, label: $0, selected: query.state == $0) }
        let labels: [OverviewQuery.Sort: String] = [.name: "name", .state: "problems first", .lastSync: "last sync", .behind: "most behind", .drift: "most drift"]
        sortOptions = OverviewQuery.Sort.allCases.map { Option(value: $0.rawValue, label: labels[$0] ?? $0.rawValue, selected: query.sort == $0) }
        previous = page.page > 1 ? query.link(page: page.page - 1) : nil
        next = page.page < page.pages ? query.link(page: page.page + 1) : nil
        self.error = error
    }
}

/// One FluxInstance in depth; `events` are read as the user, beside it.
struct InstanceView {
    struct ConditionView { var type, status, reason, message, time: String }
    struct EventView { var time, type, reason, message: String; var count: Int }

    var namespace, name, state, stateClass, message, source, revision, head, lastSync, counts, identity, health: String
    var branch: String?
    var paths: [String]
    /// "2 commit(s) behind", or nil.
    var behindText: String?
    var suspended: Bool
    var conditions: [ConditionView]
    var unhealthy: [UnhealthyObject]
    var hasUnhealthy: Bool
    var driftCount: Int
    var drifted: [DriftedObject]
    var hasDrifted: Bool
    var lastScan: String
    var scanned: Int
    var imagesError: String?
    var workloads: [WorkloadImageStatus]
    var hasWorkloads: Bool
    /// The automated workloads, offered in the lock and release forms.
    var workloadIDs: [String]
    var requests: [RequestResult]
    var hasRequests: Bool
    struct SyncView { var revision, short, subject, author, time: String; var applied, unchanged, pruned, failed: Int }
    var syncs: [SyncView]
    var pendingDeletions: [String]
    var hasPendingDeletions: Bool
    var pruneRevision, pruneRevisionShort: String
    var events: [EventView]
    var eventsError: String?
    var inventory: [InventoryTree.Namespace]
    var inventoryTotal: Int
    var inventoryError: String?
    var csrf: String
    var notice: String?
    var noticeIsError: Bool
    /// The part the page refreshes live, rendered first (`instance-live`).
    var live = ""

    init(_ instance: FluxInstance, events: [JSONValue], eventsError: String?, inventory: String?, inventoryError: String?,
         csrf: String, notice: String?, noticeIsError: Bool) {
        let row = InstanceRow(instance)
        let status = instance.status
        (namespace, name, state, stateClass, message, source) = (row.namespace, row.name, row.state, row.stateClass, row.message, row.source)
        branch = instance.spec.git.branch
        paths = instance.spec.git.paths ?? []
        revision = status?.lastAppliedRevision ?? ""
        head = status?.headRevision ?? ""
        behindText = (status?.behind ?? 0) > 0 ? "\(status?.behind ?? 0) commit(s) behind" : nil
        lastSync = status?.lastSyncTime ?? ""
        let c = status?.counts
        counts = c.map { "\($0.applied ?? 0) applied, \($0.unchanged ?? 0) unchanged, \($0.pruned ?? 0) pruned, \($0.failed ?? 0) failed" } ?? ""
        identity = status?.identity?.serviceAccount.map { "ServiceAccount \(row.namespace)/\($0)" } ?? ""
        suspended = instance.spec.suspend == true
        conditions = (status?.conditions ?? []).map {
            ConditionView(type: $0.type, status: $0.status, reason: $0.reason ?? "", message: $0.message ?? "", time: $0.lastTransitionTime ?? "")
        }
        health = status?.health?.state ?? "not checked"
        unhealthy = status?.health?.objects ?? []
        hasUnhealthy = !unhealthy.isEmpty
        driftCount = status?.drift?.count ?? 0
        drifted = status?.drift?.objects ?? []
        hasDrifted = !drifted.isEmpty
        lastScan = status?.images?.lastScanTime ?? "never"
        scanned = status?.images?.scanned ?? 0
        imagesError = status?.images?.error
        workloads = status?.images?.workloads ?? []
        hasWorkloads = !workloads.isEmpty
        workloadIDs = Array(Set(workloads.map(\.workload))).sorted()
        requests = status?.requests ?? []
        hasRequests = !requests.isEmpty
        syncs = (status?.history ?? []).map {
            SyncView(revision: $0.revision, short: String($0.revision.prefix(7)), subject: $0.subject ?? "", author: $0.author ?? "",
                     time: $0.time, applied: $0.applied, unchanged: $0.unchanged, pruned: $0.pruned, failed: $0.failed)
        }
        pendingDeletions = status?.pendingDeletions ?? []
        hasPendingDeletions = !pendingDeletions.isEmpty
        pruneRevision = status?.headRevision ?? ""
        pruneRevisionShort = String(pruneRevision.prefix(7))
        self.events = events.map { e in
            let time = e["lastTimestamp"]?.stringValue ?? e["eventTime"]?.stringValue ?? e["firstTimestamp"]?.stringValue ?? ""
            return EventView(time: time, type: e["type"]?.stringValue ?? "", reason: e["reason"]?.stringValue ?? "",
                             message: e["message"]?.stringValue ?? "", count: Int(e["count"]?.intValue ?? 1))
        }.sorted { $0.time > $1.time }
        self.eventsError = eventsError
        let tree = InventoryTree(inventory: inventory ?? "",
                                 unhealthy: Dictionary(unhealthy.map { ($0.object, [$0.status, $0.reason ?? ""].filter { !$0.isEmpty }.joined(separator: ": ")) },
                                                       uniquingKeysWith: { a, _ in a }),
                                 drifted: Dictionary(drifted.map { ($0.object, $0.drift.isEmpty ? "drifted" : $0.drift) }, uniquingKeysWith: { a, _ in a }))
        self.inventory = tree.namespaces
        inventoryTotal = tree.total
        self.inventoryError = inventoryError
        self.csrf = csrf
        self.notice = notice
        self.noticeIsError = noticeIsError
    }
}
