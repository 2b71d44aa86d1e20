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
            if let at = StatusBuilder.date(requestResults[i].completedAt), Date().timeIntervalSince(at) < Self.requestPayloadLifetime { continue }
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
        result.completedAt = StatusBuilder.timestamp()
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
                    if let created = c.info[tag]?.created { t["created"] = .string(StatusBuilder.timestamp(created)) }
                    return .object(t)
                })
                if ordered.count > limit { row["moreTags"] = .int(Int64(ordered.count - limit)) }
            }
            return .object(row)
        }
        result.result = ["revision": .string(head), "images": .array(rows)]
        result.message = "\(rows.count) container(s), \(scan.repositories) repositor\(scan.repositories == 1 ? "y" : "ies") scanned"
    }

    // MARK: writes to git

    func release(_ request: InstanceRequest, mirror: GitMirror, branch: String, head: String, into result: inout RequestResult) async throws {
        let dryRun = request.dryRun == true
        if settings.source.readonly && !dryRun {
            throw RequestRefused("the instance is read-only (spec.git.readonly): release refused (--dry-run shows what it would change)")
        }
        guard (request.image != nil) != (request.allImages == true) else {
            throw RequestRefused("release needs one of --update-image and --update-all-images")
        }
        let found = try await workloads(mirror: mirror, head: head)
        var targets: [Workload]
        if request.all == true {
            targets = found.workloads
        } else {
            let ids = try Self.workloadIDs(request.workloads ?? [])
            guard !ids.isEmpty else { throw RequestRefused("release needs --workload or --all") }
            try Self.requireDeclared(ids, in: found, head: head)
            targets = found.workloads.filter { ids.contains($0.id) }
        }
        let excluded = Set(try Self.workloadIDs(request.exclude ?? []))
        var skipped: [String] = []
        targets = targets.filter { w in
            if excluded.contains(w.id) {
                skipped.append("\(w.id): excluded")
            } else if w.policy.locked && request.force != true {
                skipped.append("\(w.id): locked" + (w.policy.lockedMessage.map { " (\($0))" } ?? ""))
            } else if !found.updatable(w) {
                skipped.append("\(w.id): generated by a .flux.yaml without a containerImage updater")
            } else {
                return true
            }
            return false
        }
        var changes: [AutomationChange] = []
        if let image = request.image {
            guard let wanted = ImageRef(image), let tag = wanted.tag else {
                throw RequestRefused("--update-image \(image): give an image with a tag, e.g. registry.example/team/app:1.2.3")
            }
            var runs = false
            for w in targets {
                for c in w.containers {
                    guard let ref = ImageRef(c.image), ref.name == wanted.name else { continue }
                    runs = true
                    if let to = ImageRef.retag(c.image, to: tag), to != c.image {
                        changes.append(AutomationChange(file: w.file, workload: w.id, container: c.name, from: c.image, to: to))
                    }
                }
            }
            if !runs && !targets.isEmpty {
                throw RequestRefused("no container of \(targets.map(\.id.description).joined(separator: ", ")) runs \(wanted.name)")
            }
        } else {
            guard let images = settings.images else {
                throw RequestRefused("registry scanning is disabled for this instance (spec.registry.disableScanning): --update-all-images needs it")
            }
            let scan = try await scanImages(of: targets, images: images)
            for c in scan.containers {
                if let to = c.update {
                    changes.append(AutomationChange(file: c.workload.file, workload: c.workload.id, container: c.container.name, from: c.container.image, to: to))
                } else if let error = c.status.error {
                    skipped.append("\(c.workload.id) \(c.container.name): \(error)")
                }
            }
        }
        result.changes = changes.isEmpty ? nil : changes.map { RequestChange(workload: $0.workload.description, container: $0.container, from: $0.from, to: $0.to) }
        result.skipped = skipped.isEmpty ? nil : skipped
        if changes.isEmpty {
            result.message = "nothing to release: every selected container already runs that image"
            return
        }
        if dryRun {
            result.message = "dry run: would release \(changes.count) change(s); nothing was committed"
            return
        }
        let subject = "Release " + Set(changes.map(\.to)).sorted().joined(separator: ", ") + " to " + Set(changes.map(\.workload.description)).sorted().joined(separator: ", ")
        let body = changes.map { "- \($0.workload) (\($0.container)): \($0.from) → \($0.to)" }.joined(separator: "\n")
        let commit = try await commit(changes, mirror: mirror, branch: branch, head: head,
                                      message: commitMessage(subject, request, details: body), author: author(of: request))
        result.revision = commit
        result.message = commit.map { "released in commit \($0.prefix(7))" } ?? "nothing to release: the branch already has these images"
        if let commit {
            await env.events.record(await instanceObject(), type: .normal, reason: "Released",
                                    message: "Commit \(commit.prefix(7)) by \(request.user ?? "unknown"): " + changes.map { "\($0.workload) \($0.container) → \($0.to)" }.joined(separator: ", "))
        }
    }

    func updatePolicy(_ request: InstanceRequest, mirror: GitMirror, branch: String, head: String, into result: inout RequestResult) async throws {
        let dryRun = request.dryRun == true
        if settings.source.readonly && !dryRun {
            throw RequestRefused("the instance is read-only (spec.git.readonly): policy changes refused")
        }
        let ids = try Self.workloadIDs(request.workloads ?? [])
        guard !ids.isEmpty else { throw RequestRefused("policy needs --workload") }
        let found = try await workloads(mirror: mirror, head: head)
        try Self.requireDeclared(ids, in: found, head: head)
        var edits: [(file: String, workload: WorkloadID, changes: [String: String?])] = []
        var described: [String: JSONValue] = [:]
        var verbs: [String] = []
        for w in found.workloads where ids.contains(w.id) {
            if w.file.hasPrefix(Self.generatedPrefix) {
                throw RequestRefused("\(w.id) is generated by the .flux.yaml of \(w.file.dropFirst(Self.generatedPrefix.count)): its policy lives in the generator's input; change it there")
            }
            var tags = request.tags ?? [:]
            if let all = tags.removeValue(forKey: "*") {
                for c in w.containers where tags[c.name] == nil { tags[c.name] = all }
            }
            for name in tags.keys where !w.containers.contains(where: { $0.name == name }) {
                throw RequestRefused("\(w.id) has no container \(name)")
            }
            let update = PolicyUpdate(automate: request.automate, lock: request.lock,
                                      lockMessage: request.lock == true ? request.message : nil,
                                      lockUser: request.lock == true ? request.user : nil, tags: tags)
            guard !update.isEmpty else { throw RequestRefused("nothing to change: give --automate, --deautomate, --lock, --unlock, --tag or --tag-all") }
            // Only what differs from the file: an unchanged policy is no commit.
            let changes = update.annotationChanges.filter { w.annotations[$0.key] != $0.value }
            if changes.isEmpty { continue }
            edits.append((w.file, w.id, changes))
            described[w.id.description] = .object(changes.mapValues { $0.map(JSONValue.string) ?? .null })
        }
        if let a = request.automate { verbs.append(a ? "Automate" : "Deautomate") }
        if let l = request.lock { verbs.append(l ? "Lock" : "Unlock") }
        if let t = request.tags, !t.isEmpty { verbs.append("Set image filters (" + t.keys.sorted().map { "\($0 == "*" ? "all" : $0): \(t[$0]!)" }.joined(separator: ", ") + ") of") }
        result.result = ["annotations": .object(described)]
        guard !edits.isEmpty else {
            result.message = "nothing to change: the policy is already so"
            return
        }
        if dryRun {
            result.message = "dry run: would change the annotations of \(edits.count) workload(s); nothing was committed"
            return
        }
        let defaultNamespace = settings.defaultNamespace
        let planned = edits
        let subject = verbs.enumerated().map { $0.offset == 0 ? $0.element : $0.element.prefix(1).lowercased() + $0.element.dropFirst() }.joined(separator: ", ") + " " + planned.map(\.workload.description).joined(separator: ", ")
        let pushed = try await mirror.commitAndPush(branch: branch, message: commitMessage(subject, request, details: nil), author: author(of: request)) { tree in
            var out: [String: [UInt8]?] = [:]
            for edit in planned {
                guard let bytes = try out[edit.file] ?? tree.read(edit.file) else {
                    throw RequestRefused("\(edit.file) is gone from the branch")
                }
                out[edit.file] = try WorkloadScanner.settingAnnotations(edit.changes, of: edit.workload, bytes: bytes, file: edit.file, defaultNamespace: defaultNamespace)
            }
            return out
        }
        result.revision = pushed?.id
        result.message = pushed.map { "policy changed in commit \($0.id.prefix(7))" } ?? "nothing to change: the branch already has this policy"
        if let commit = pushed?.id {
            await env.events.record(await instanceObject(), type: .normal, reason: "PolicyChanged",
                                    message: "Commit \(commit.prefix(7)) by \(request.user ?? "unknown"): \(subject)")
        }
    }

    /// A new deploy key in the instance's own Secret (the key it generated); the old one stops
    /// working at once. A key from `spec.git.secretRef` is the user's to replace.
    func regenerateIdentity(into result: inout RequestResult) async throws {
        let ref = settings.ref
        guard Self.isSSH(settings.source.url) else {
            throw RequestRefused("the git URL of the instance is not SSH: it has no deploy key")
        }
        if let name = settings.source.secretName {
            throw RequestRefused("the deploy key comes from Secret \(ref.namespace)/\(name) (spec.git.secretRef): put a new `identity` there")
        }
        let name = settings.deployKeySecretName
        let key = newDeployKey()
        let encoded = Data(key.privateKeyOpenSSH.utf8).base64EncodedString()
        do {
            _ = try await env.client.patch(.secrets, name: name, namespace: ref.namespace, ["data": ["identity": .string(encoded)]])
        } catch {
            guard error.isNotFound else { throw error }
            _ = try await env.client.create(deployKeySecret(key))
        }
        publicKey = DeployKey.publicKey(ofPrivateKey: key.privateKeyOpenSSH)
        // The next pass builds a mirror with the new key.
        mirrorSource = nil
        logger.notice("deploy key regenerated", metadata: ["secret": "\(name)"])
        result.result = ["publicKey": publicKey.map(JSONValue.string) ?? .null]
        result.message = "new deploy key in Secret \(ref.namespace)/\(name): add it to the git host (the old key no longer works)"
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
