import ArgumentParser
import FlotillaAPI
import Foundation
import KubeClient
import KubeModel

/// How the verbs that need the instance (its git checkout, deploy key, registry credentials) reach
/// it: the request is an annotation `requests.flotilla.dev/<id>` written on the FluxInstance as the
/// caller, so their RBAC (`patch` on the FluxInstance) decides; the operator answers in
/// `status.requests`. See docs/cli.md.
struct InstanceRequestOptions: ParsableArguments {
    @Option(name: [.short, .customLong("instance")], help: "The FluxInstance.") var instance: String
    @Option(help: "Who asks (\"Name <email>\"; default: your Kubernetes user name). The commit's author when the instance sets authors.")
    var user: String?
    @Option(help: "How long to wait for the instance's answer (e.g. 30s, 2m).") var timeout = "2m"

    func limit() throws -> Duration {
        guard let d = DurationParser.parse(timeout), d > .zero else { throw ValidationError("--timeout: \"\(timeout)\" is not a duration such as 30s or 2m") }
        return d
    }
}

struct InstanceRequester {
    let client: KubeClient
    let namespace: String
    let instance: String
    var target: String { "FluxInstance \(namespace)/\(instance)" }

    /// Sends `request` (as the caller) and waits for its answer; a refused or failed request is
    /// a `CLIError` with the instance's reason.
    func send(_ request: InstanceRequest, verb: String, timeout: Duration) async throws -> RequestResult {
        let id = InstanceRequest.newID()
        let key = Flotilla.requestAnnotationPrefix + id
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = String(decoding: try encoder.encode(request), as: UTF8.self)
        do {
            _ = try await client.patch(FluxInstance.resourceType, name: instance, namespace: namespace,
                                       ["metadata": ["annotations": [.init(stringLiteral: key): .string(body)]]])
        } catch {
            if error.code == 403 { throw CLIError("you may not \(verb) \(target): \(error.message)") }
            if error.isNotFound { throw CLIError("\(target) not found") }
            throw CLIError("cannot send the request to \(target): \(error)")
        }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(250))
            let status: FluxInstanceStatus?
            do { status = try await client.get(FluxInstance.self, name: instance, namespace: namespace).status } catch {
                throw CLIError("cannot read \(target): \(error)")
            }
            if let answer = status?.requests?.first(where: { $0.id == id }) {
                guard answer.state == "Succeeded" else { throw CLIError("\(target) refused: \(answer.message)") }
                return answer
            }
        }
        // Withdraw the request: an operator that comes back later must not act on it.
        _ = try? await client.patch(FluxInstance.resourceType, name: instance, namespace: namespace,
                                    ["metadata": ["annotations": [.init(stringLiteral: key): .null]]])
        throw CLIError("\(target) did not answer within \(Self.text(timeout)): is the operator running, and does it serve this instance (its shard's selector)?")
    }

    static func text(_ d: Duration) -> String { "\(Int(d.components.seconds))s" }

    /// The head revision the instance reports now (nil when unknown or unreadable).
    func headRevision() async -> String? {
        try? await client.get(FluxInstance.self, name: instance, namespace: namespace).status?.headRevision
    }

    /// `--user`, else the caller's user name as the API server knows it (SelfSubjectReview),
    /// else nil.
    func caller(_ flag: String?) async -> String? {
        if let flag, !flag.isEmpty { return flag }
        let reviews = ResourceType(group: "authentication.k8s.io", version: "v1", resource: "selfsubjectreviews", kind: "SelfSubjectReview", namespaced: false)
        let review = try? await client.create(reviews, ["apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"])
        return review?["status"]?["userInfo"]?["username"]?.stringValue
    }

    /// Waits until `revision` (nil: the head revision as the instance sees it), or a later commit,
    /// is applied by a sync at or after `since`; prints it with the sync's counts. A failure the
    /// instance reports after `since` ends the wait with its reason. `headBefore` is the head the
    /// instance reported before the request: a status still at that head is not a later commit
    /// (a sync of it can finish in the same second as the request, and sync times have seconds).
    func waitApplied(_ revision: String?, since: Date, timeout: Duration, health: Bool = false, headBefore: String? = nil) async throws {
        let what = revision.map { String($0.prefix(7)) } ?? "its head revision"
        if revision != nil { print("Waiting for revision \(what) to be applied…") }
        let deadline = ContinuousClock.now + timeout
        let sinceSecond = Date(timeIntervalSince1970: since.timeIntervalSince1970.rounded(.down))
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(300))
            let status: FluxInstanceStatus?
            do { status = try await client.get(FluxInstance.self, name: instance, namespace: namespace).status } catch {
                throw CLIError("cannot read \(target): \(error)")
            }
            let ready = status?.conditions?.first { $0.type == "Ready" }
            let syncedAt = status?.lastSyncTime.flatMap { ISO8601DateFormatter().date(from: $0) }
            if ready?.status == "True", let syncedAt, syncedAt >= sinceSecond, let applied = status?.lastAppliedRevision,
               applied == revision || (applied == status?.headRevision && status?.behind ?? 0 == 0 && (headBefore == nil || applied != headBefore)) {
                let counts = status?.counts
                print("Revision \(applied.prefix(7)) applied (\(counts?.applied ?? 0) changed, \(counts?.unchanged ?? 0) unchanged, \(counts?.pruned ?? 0) pruned).")
                if health { try await waitHealthy(applied, since: sinceSecond, deadline: deadline, timeout: timeout) }
                return
            }
            // A failure after the request (the instance's previous state is given two seconds to change).
            let failedNow = revision.map { status?.headRevision == $0 } ?? (Date().timeIntervalSince(since) > 2)
            if ready?.status == "False", ready?.reason != "Reconciling", failedNow {
                throw CLIError("\(target) failed to apply \(what): \(ready?.reason ?? "unknown"): \(status?.lastError ?? ready?.message ?? "")")
            }
        }
        throw CLIError("\(target) did not apply \(what) within \(Self.text(timeout))" + (revision == nil ? "" : "; the commit is in git and will be applied"))
    }
}

extension InstanceRequester {
    /// Waits until the instance reports `revision`'s objects healthy; a degraded revision ends
    /// the wait with the objects that are not.
    func waitHealthy(_ revision: String, since: Date, deadline: ContinuousClock.Instant, timeout: Duration) async throws {
        print("Waiting for revision \(revision.prefix(7)) to be healthy…")
        var reported = ""
        while ContinuousClock.now < deadline {
            let report: HealthReport?
            do { report = try await client.get(FluxInstance.self, name: instance, namespace: namespace).status?.health } catch {
                throw CLIError("cannot read \(target): \(error)")
            }
            // A report from a check made after the request (not one left from before it).
            if let report, report.revision == revision, let checked = report.lastCheckTime.flatMap({ ISO8601DateFormatter().date(from: $0) }), checked >= since {
                let objects = (report.objects ?? []).map { "  \($0.object): \($0.status) \($0.reason ?? ""): \($0.message ?? "")" }
                switch report.state {
                case "Healthy":
                    print("Revision \(revision.prefix(7)) is healthy (\(report.total ?? 0) objects).")
                    return
                case "Degraded":
                    throw CLIError("\(target): revision \(revision.prefix(7)) is not healthy:\n" + objects.joined(separator: "\n"))
                default:
                    let line = objects.first ?? ""
                    if line != reported && !line.isEmpty { print("Waiting for" + line) }
                    reported = line
                }
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        throw CLIError("\(target): revision \(revision.prefix(7)) was not healthy within \(Self.text(timeout))")
    }
}

extension ClientOptions {
    func requester(_ instance: String) throws -> InstanceRequester {
        let (client, namespace) = try client()
        return InstanceRequester(client: client, namespace: namespace, instance: instance)
    }

    /// Prints a JSON value as the chosen output (tables are the caller's).
    func emit(_ value: JSONValue) {
        switch output {
        case .json: print(ListInstances.pretty(value))
        case .yaml: print(YAMLWriter.write(value), terminator: "")
        case .table: break
        }
    }
}
