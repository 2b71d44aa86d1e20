import FlotillaAPI
import Foundation
import GitSource
import ImageAutomation
import KubeClient
import KubeModel
import KubeRuntime
import Logging
import Sync

/// A request the instance will not carry out, with the reason for the caller.
struct RequestRefused: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// The requests of the fluxctl-like verbs (`flotilla release`, `automate`, `list-images`, …).
/// The caller writes a `requests.flotilla.dev/<id>` annotation on the FluxInstance (so their RBAC
/// on it decides); the instance carries the request out with its own deploy key and identity at
/// the start of its next pass (at once: an annotation change wakes it), answers in
/// `status.requests` and removes the annotation. Writes are commits to git, never to the cluster:
/// the sync that follows applies them.
extension InstanceReconciler {
    static let maxRequestResults = 10
    /// A query's answer stays in the status this long (the caller reads it within seconds).
    static let requestPayloadLifetime: TimeInterval = 300

    func handleRequests() async {
        var changed = dropStalePayloads()
        let answered = Set(requestResults.map(\.id))
        for id in settings.requests.keys.sorted() where !answered.contains(id) {
            let result = await answer(id: id, raw: settings.requests[id]!)
            requestResults.append(result)
            await notify(.requestAnswered, revision: result.revision,
                         message: "\(result.action) by \(result.user ?? "unknown"): \(result.state)\(result.message.isEmpty ? "" : " (\(result.message))")")
            requestResults.removeFirst(max(0, requestResults.count - Self.maxRequestResults))
            changed = true
        }
        if changed {
            let outcome = lastWrittenStatus.flatMap(Self.outcome(of:))
                ?? Outcome(reason: ConditionReason.progressing, message: "Reconciling", ready: false, failure: nil)
            await writeStatus(outcome, head: nil)
        }
        // Answered (and the answer written): the annotation has done its job.
        let written = Set(lastWrittenStatus?.requests?.map(\.id) ?? [])
        let done = settings.requests.keys.filter(written.contains)
        guard !done.isEmpty else { return }
        var annotations: [String: JSONValue] = [:]
        for id in done { annotations[Flotilla.requestAnnotationPrefix + id] = .null }
        do {
            _ = try await env.client.patch(FluxInstance.resourceType, name: settings.ref.name, namespace: settings.ref.namespace,
                                           ["metadata": ["annotations": .object(annotations)]])
            for id in done { settings.requests[id] = nil }
        } catch {
            logger.warning("request annotations not removed", metadata: ["error": "\(error)"])
        }
    }

    /// Drops the answers of queries that are older than `requestPayloadLifetime` (their state
    /// and message stay); true when something was dropped.
    func dropStalePayloads() -> Bool {
        var changed = false
        for i in requestResults.indices where requestResults[i].result != nil {
            if let at = KubeTime.date(requestResults[i].completedAt), Date().timeIntervalSince(at) < Self.requestPayloadLifetime { continue }
            requestResults[i].result = nil
            changed = true
        }
        return changed
    }

    func answer(id: String, raw: String) async -> RequestResult {
        var result = RequestResult(id: id, action: "unknown", state: "Failed", message: "", completedAt: "")
        do {
            let request = try JSONDecoder().decode(InstanceRequest.self, from: Data(raw.utf8))
            result.action = request.action.rawValue
            result.user = request.user
            result.dryRun = request.dryRun
            try await execute(request, into: &result)
            result.state = "Succeeded"
        } catch let error as DecodingError {
            result.message = "the annotation \(Flotilla.requestAnnotationPrefix)\(id) is not a request: \(Self.describe(error))"
        } catch let error as GitError {
            result.message = "git: \(error.message)"
        } catch {
            result.message = "\(error)"
        }
        result.completedAt = KubeTime.string()
        let level: Logger.Level = result.state == "Succeeded" ? .notice : .warning
        logger.log(level: level, "request", metadata: ["request": "\(id)", "action": "\(result.action)", "user": "\(result.user ?? "")",
                                                   "state": "\(result.state)", "message": "\(result.message)"])
        return result
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .dataCorrupted(let c), .keyNotFound(_, let c), .typeMismatch(_, let c), .valueNotFound(_, let c):
            let path = c.codingPath.map(\.stringValue).joined(separator: ".")
            return (path.isEmpty ? "" : "\(path): ") + c.debugDescription
        @unknown default: return "\(error)"
        }
    }

    func execute(_ request: InstanceRequest, into result: inout RequestResult) async throws {
        if request.action == .regenerateIdentity {
            try await regenerateIdentity(into: &result)
            return
        }
        // What is in git now: a request never acts on a shared or stale poll answer.
        let (mirror, branch, head) = try await fetchHead(maxAge: .zero)
        switch request.action {
        case .listWorkloads: try await listWorkloads(mirror: mirror, head: head, into: &result)
        case .listImages: try await listImages(request, mirror: mirror, head: head, into: &result)
        case .release: try await release(request, mirror: mirror, branch: branch, head: head, into: &result)
        case .policy: try await updatePolicy(request, mirror: mirror, branch: branch, head: head, into: &result)
        case .regenerateIdentity: break
        }
    }

    // MARK: queries

    func listWorkloads(mirror: GitMirror, head: String, into result: inout RequestResult) async throws {
        let found = try await workloads(mirror: mirror, head: head)
        var synced: [String: Change] = [:]
        for change in lastCounts?.changes ?? [] { synced[change.id.description] = change }
        let rows: [JSONValue] = found.workloads.sorted { $0.id < $1.id }.map { w in
            var row: [String: JSONValue] = [
                "id": .string(w.id.description), "file": .string(w.file), "automated": .bool(w.policy.automated), "locked": .bool(w.policy.locked),
                "containers": .array(w.containers.map { ["name": .string($0.name), "image": .string($0.image)] }),
            ]
            if let m = w.policy.lockedMessage { row["lockedMessage"] = .string(m) }
            if let u = w.policy.lockedUser { row["lockedUser"] = .string(u) }
            if !w.policy.filters.isEmpty { row["filters"] = .object(w.policy.filters.mapValues(JSONValue.string)) }
            // What the last sync did with it; `pending` when the last sync did not include it.
            let change = synced[w.id.description]
            let failed = change.map { $0.action == .failed || $0.action == .conflict } ?? false
            row["status"] = .string(change == nil ? "pending" : failed ? "failed" : "ready")
            if let reason = change?.reason, failed { row["error"] = .string(reason) }
            return .object(row)
        }
        var answer: [String: JSONValue] = ["revision": .string(head), "workloads": .array(rows)]
        if let synced = lastCounts?.revision { answer["syncedRevision"] = .string(synced) }
        if !found.errors.isEmpty { answer["errors"] = .array(found.errors.map(JSONValue.string)) }
        result.result = .object(answer)
        result.message = "\(rows.count) workload(s) at \(head.prefix(7))"
    }

    func listImages(_ request: InstanceRequest, mirror: GitMirror, head: String, into result: inout RequestResult) async throws {
        guard let images = settings.images else {
            throw RequestRefused("registry scanning is disabled for this instance (spec.registry.disableScanning)")
        }
        let found = try await workloads(mirror: mirror, head: head)
        var selected = found.workloads
        if let wanted = request.workloads, !wanted.isEmpty {
            let ids = try Self.workloadIDs(wanted)
            try Self.requireDeclared(ids, in: found, head: head)
            selected = selected.filter { ids.contains($0.id) }
        }
        let limit = min(request.limit.map { $0 <= 0 ? 100 : $0 } ?? 10, 100)
        let scan = try await scanImages(of: selected, images: images, allInfos: true)
        let rows: [JSONValue] = scan.containers.map { c in
            var row: [String: JSONValue] = ["workload": .string(c.workload.id.description), "container": .string(c.container.name),
                                            "current": .string(c.container.image)]
            if let latest = c.status.latest { row["latest"] = .string(latest) }
            if let error = c.status.error { row["error"] = .string(error) }
            if c.excluded { row["excluded"] = true }
            if let text = c.workload.policy.filters[c.container.name] { row["filter"] = .string(text) }
            let current = ImageRef(c.container.image)?.tag
            if let filter = c.filter {
                let ordered = TagSelection.newestFirst(tags: c.tags, filter: filter, info: c.info)
                row["tags"] = .array(ordered.prefix(limit).map { tag in
                    var t: [String: JSONValue] = ["tag": .string(tag), "allowed": .bool(filter.matches(tag))]
                    if tag == current { t["current"] = true }
                    if let created = c.info[tag]?.created { t["created"] = .string(KubeTime.string(created)) }
                    return .object(t)
                })
                if ordered.count > limit { row["moreTags"] = .int(Int64(ordered.count - limit)) }
            }
            return .object(row)
        }
        result.result = ["revision": .string(head), "images": .array(rows)]
        result.message = "\(rows.count) container(s), \(scan.repositories) repositor\(scan.repositories == 1 ? "y" : "ies") scanned"
    }

    // MARK: helpers

    static func workloadIDs(_ texts: [String]) throws -> [WorkloadID] {
        try texts.map { text in
            guard let id = WorkloadID(text) else {
                throw RequestRefused("\"\(text)\" is not a workload id: write NAMESPACE:KIND/NAME, e.g. default:deployment/web")
            }
            return id
        }
    }

    static func requireDeclared(_ ids: [WorkloadID], in found: KnownWorkloads, head: String) throws {
        let known = Set(found.workloads.map(\.id))
        let missing = ids.filter { !known.contains($0) }
        guard missing.isEmpty else {
            throw RequestRefused("\(missing.map(\.description).joined(separator: ", ")) not declared under the instance's paths at \(head.prefix(7))")
        }
    }

    /// The subject, the caller's message, what changed, and who asked.
    func commitMessage(_ subject: String, _ request: InstanceRequest, details: String?) -> String {
        var parts = [subject]
        if let m = request.message, !m.isEmpty, request.action != .policy || request.lock != true { parts.append(m) }
        if let details { parts.append(details) }
        if let user = request.user, !user.isEmpty { parts.append("Requested by \(user) with flotilla \(request.action.rawValue)") }
        return parts.joined(separator: "\n\n")
    }

    /// The caller as the commit's author, when `spec.git.setAuthor` is on (`Name <email>`, or a
    /// user name with the committer's email).
    func author(of request: InstanceRequest) -> GitSignature? {
        guard settings.source.setAuthor, let user = request.user?.trimmingCharacters(in: .whitespaces), !user.isEmpty else { return nil }
        if let open = user.firstIndex(of: "<"), let close = user.lastIndex(of: ">"), open < close {
            let name = user[..<open].trimmingCharacters(in: .whitespaces)
            let email = String(user[user.index(after: open)..<close])
            return GitSignature(name: name.isEmpty ? email : name, email: email)
        }
        return GitSignature(name: user, email: settings.source.committer.email)
    }
}
