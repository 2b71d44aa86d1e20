import Foundation
import KubeModel
import Synchronization

/// Configuration of an emulated API server.
public struct EmulatorConfiguration: Sendable {
    /// Users that authenticate with static bearer tokens.
    public var users: [StaticUser]
    /// How many changes the watch log retains; a watch from an older resourceVersion gets 410.
    public var watchWindow: Int = 10_000
    /// `serverAddressByClientCIDRs` address and the address in generated kubeconfigs.
    public var advertisedAddress: String = "127.0.0.1:6443"
    /// How often the built-in controllers (namespace, garbage collector, CRD cleanup) run.
    public var controllerInterval: Duration = .milliseconds(50)
    /// How long a deleted namespace stays Terminating at least before its contents are removed.
    public var namespaceDeletionDelay: Duration = .milliseconds(500)
    /// How long an Event lives after its last write (kube-apiserver `--event-ttl`, default 1 h);
    /// then it is deleted, and watches see DELETED.
    public var eventTTL: Duration = .seconds(3600)
    /// How often a watch that allows bookmarks gets one (kube-apiserver: about a minute).
    public var bookmarkInterval: Duration = .seconds(60)
    /// The audience API requests must carry in ServiceAccount tokens.
    public var apiAudience = "https://kubernetes.default.svc.cluster.local"
    /// Minimal workload controllers: Deployments get ReplicaSets, ReplicaSets get Pods, Pods turn
    /// Ready, Jobs complete, claims bind, StatefulSets and DaemonSets report their replicas ready
    /// (off by default: a test of the API alone wants objects to stay as written).
    public var workloadControllers = false
    /// How long a Pod takes to turn Ready (and a Job to complete, a claim to bind).
    public var workloadStartDelay: Duration = .seconds(1)
    /// The CA bundle clients verify the server with (published in each namespace's kube-root-ca.crt).
    public var caBundlePEM: String = ""

    public init(users: [StaticUser], watchWindow: Int = 10_000) {
        self.users = users
        self.watchWindow = watchWindow
    }

    /// An admin (`system:masters`) plus two unprivileged users, all with random tokens.
    public static func withDefaultUsers() -> EmulatorConfiguration {
        EmulatorConfiguration(users: [
            StaticUser(name: "admin", groups: ["system:masters", "system:authenticated"], token: TokenGenerator.random(32)),
            StaticUser(name: "alice", groups: ["developers", "system:authenticated"], token: TokenGenerator.random(32)),
            StaticUser(name: "bob", groups: ["system:authenticated"], token: TokenGenerator.random(32)),
        ])
    }
}

/// The Kubernetes API emulator's core: transport-independent request handling over an in-memory
/// store. `EmulatorHTTPServer` puts it on the wire; tests may call `handle` directly.
public final class KubeAPIServer: Sendable {
    public let configuration: EmulatorConfiguration
    let state: Mutex<State>
    let startTime = Date()

    public init(configuration: EmulatorConfiguration) {
        self.configuration = configuration
        var s = State(watchWindow: configuration.watchWindow)
        for user in configuration.users {
            s.tokens[user.token] = TokenEntry(user: UserInfo(name: user.name, groups: user.groups))
        }
        self.state = Mutex(s)
        bootstrap()
    }

    /// The token of a configured static user.
    public func token(for user: String) -> String? { configuration.users.first { $0.name == user }?.token }

    /// Creates what a fresh cluster has: the default namespaces and the bootstrap RBAC policy.
    private func bootstrap() {
        state.withLock { s in
            for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
                _ = try? createObject(&s, resource: s.catalog.resource(group: "", version: "v1", name: "namespaces")!,
                                      namespace: "", body: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(ns)]],
                                      manager: "kube-apiserver", dryRun: false)
            }
            let cr = s.catalog.resource(group: "rbac.authorization.k8s.io", version: "v1", name: "clusterroles")!
            for role in BootstrapPolicy.clusterRoles {
                _ = try? createObject(&s, resource: cr, namespace: "", body: role, manager: "kube-apiserver", dryRun: false)
            }
            aggregateClusterRoles(&s)
            let crb = s.catalog.resource(group: "rbac.authorization.k8s.io", version: "v1", name: "clusterrolebindings")!
            for binding in BootstrapPolicy.clusterRoleBindings {
                _ = try? createObject(&s, resource: crb, namespace: "", body: binding, manager: "kube-apiserver", dryRun: false)
            }
        }
    }

    /// Serves one request.
    public func handle(_ request: APIRequest) async -> APIResponse {
        let info = RequestInfo(method: request.method, path: request.path, query: request.query)
        // Faults first: they model a misbehaving server in front of everything else.
        let counted = "\(info.verb) \(info.resource)" + (wantsMetadata(request) != nil ? " (metadata)" : "")
        let fault = state.withLock { s -> FaultRule.Action? in
            s.requestCounts[counted, default: 0] += info.isResourceRequest ? 1 : 0
            guard let i = s.faults.firstIndex(where: { $0.rule.matches(info) }) else { return nil }
            let action = s.faults[i].rule.action
            s.faultHits[s.faults[i].id, default: 0] += 1
            if let t = s.faults[i].rule.times {
                if t <= 1 { s.faults.remove(at: i) } else { s.faults[i].rule.times = t - 1 }
            }
            return action
        }
        var dropAfter: Duration? = nil
        switch fault {
        case .status(let code, let retryAfter)?:
            let e = APIError(code: code, reason: FaultRule.reason(for: code), message: FaultRule.message(for: code),
                             details: retryAfter.map { ["retryAfterSeconds": .int(Int64($0))] })
            var headers: [(String, String)] = []
            if let retryAfter { headers.append(("Retry-After", String(retryAfter))) }
            return .json(code, e.status, headers: headers)
        case .latency(let d)?:
            try? await Task.sleep(for: d)
        case .dropWatch(let after)?:
            dropAfter = after
        case nil:
            break
        }
        do {
            return try route(request, info, dropWatchAfter: dropAfter)
        } catch {
            return .error(error)
        }
    }

    func route(_ request: APIRequest, _ info: RequestInfo, dropWatchAfter: Duration?) throws(APIError) -> APIResponse {
        let user = try authenticate(request)
        let path = request.path.hasSuffix("/") && request.path.count > 1 ? String(request.path.dropLast()) : request.path
        let effective = try impersonate(request, user: user)
        if !info.isResourceRequest {
            try authorizeNonResource(user: effective, path: path)
            return try serveNonResource(request, path: path, info: info)
        }
        return try serveResource(request, info, user: effective, dropWatchAfter: dropWatchAfter)
    }
}
