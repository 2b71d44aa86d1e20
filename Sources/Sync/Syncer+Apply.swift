import FlotillaAPI
import KubeClient
import KubeModel
import Logging
import Manifests

extension Syncer {
    struct Applied: Sendable {
        var object: DesiredObject
        var change: Change
        var uid: String?
        /// The applied object's health, from the live object or the apply's answer.
        var health: ObjectHealth? = nil
    }

    /// CRDs and Namespaces first (then waits for the CRDs to be Established), then everything
    /// else rank by rank; objects of one rank go concurrently. Objects whose live version is the
    /// one already found up to date are settled first, without a task or a request.
    func applyStaged(_ desired: [DesiredObject]) async -> [Applied] {
        var results = [Applied?](repeating: nil, count: desired.count)
        var first: [(Int, DesiredObject)] = [], rest: [(Int, DesiredObject)] = []
        let seen = desired.map(verifiedAtChecksum)
        var views = ScopeViews(readInFull: scopesReadInFull(desired, seen: seen))
        for (i, d) in desired.enumerated() {
            if let seen = seen[i], let settled = await unchangedSinceVerified(d, seen, views: &views) {
                results[i] = settled
            } else if d.kind == "CustomResourceDefinition" || (d.kind == "Namespace" && d.id.group.isEmpty) {
                first.append((i, d))
            } else {
                rest.append((i, d))
            }
        }
        for (i, r) in await applyByRank(first) { results[i] = r }
        let crds = first.map(\.0).filter { desired[$0].kind == "CustomResourceDefinition" }
        if !crds.isEmpty {
            for i in crds { results[i] = await waitEstablished(results[i]!) }
        }
        for (i, r) in await applyByRank(rest) { results[i] = r }
        return results.map { $0! }
    }

    /// A resource type in the scope the live cache lists it in.
    struct Scope: Hashable {
        var type: ResourceType
        var namespace: String?
    }

    func scope(of d: DesiredObject, _ type: ResourceType) -> Scope {
        Scope(type: type, namespace: type.namespaced && !options.allowsAllNamespaces ? d.id.namespace : nil)
    }

    /// When the object was last found up to date with this very checksum, and healthy: the
    /// resourceVersion it had then.
    func verifiedAtChecksum(_ d: DesiredObject) -> String? {
        guard d.ignore != .ignored, d.type != nil, let seen = verified[d.id], seen.checksum == d.checksum, seen.current else { return nil }
        return seen.resourceVersion
    }

    /// The scopes holding an object that is not known up to date with its checksum (new in git,
    /// changed in git, or never verified): those will be read in full anyway, so they are listed
    /// in full at once. Every other scope is only checked for moved resourceVersions, with a
    /// metadata-only list.
    func scopesReadInFull(_ desired: [DesiredObject], seen: [String?]) -> Set<Scope> {
        var full = Set<Scope>()
        for (d, seen) in zip(desired, seen) where seen == nil && d.ignore != .ignored {
            guard let type = d.type else { continue }
            full.insert(scope(of: d, type))
        }
        return full
    }

    /// The live cache's view of each scope a sync settles objects in, taken once per scope (one
    /// await, not one per object). Objects of one scope mostly follow each other, so the last
    /// scope is compared before the table is hashed.
    struct ScopeViews {
        let readInFull: Set<Scope>
        var views: [Scope: LiveCache.View] = [:]
        var last: (scope: Scope, view: LiveCache.View)? = nil
    }

    /// `.unchanged` when the live object has the resourceVersion that was found up to date (and
    /// healthy) with this very checksum: nothing about it can have changed since.
    func unchangedSinceVerified(_ d: DesiredObject, _ resourceVersion: String, views: inout ScopeViews) async -> Applied? {
        guard let type = d.type else { return nil }
        let scope = scope(of: d, type)
        let view: LiveCache.View
        if let last = views.last, last.scope == scope {
            view = last.view
        } else if let known = views.views[scope] {
            view = known
            views.last = (scope, known)
        } else {
            view = await live.view(type, scope: scope.namespace, metadataOnly: !views.readInFull.contains(scope))
            views.views[scope] = view
            views.last = (scope, view)
        }
        guard case .found(let live, let uid) = view.version(namespace: d.id.namespace, name: d.id.name), live == resourceVersion else { return nil }
        return Applied(object: d, change: Change(id: d.id, action: .unchanged), uid: uid, health: .current)
    }

    func applyByRank(_ objects: [(Int, DesiredObject)]) async -> [(Int, Applied)] {
        let ranks = Dictionary(grouping: objects) { KindOrder.rank($0.1.kind) }
        var out: [(Int, Applied)] = []
        for rank in ranks.keys.sorted() {
            out += await concurrentMap(ranks[rank]!, limit: options.applyConcurrency) { item in (item.0, await self.apply(item.1)) }
        }
        return out
    }

    func apply(_ d: DesiredObject) async -> Applied {
        let location = d.manifest.location
        guard let type = d.type else {
            return Applied(object: d, change: Change(id: d.id, action: .failed, reason: "\(location): \(d.unresolved ?? "unknown kind")"))
        }
        if d.ignore == .ignored {
            return Applied(object: d, change: Change(id: d.id, action: .skipped, reason: "\(location): annotated fluxcd.io/ignore in git"))
        }
        var live: JSONValue? = nil
        switch await read(type, namespace: d.id.namespace, name: d.id.name) {
        case .found(let object): live = object
        case .absent: break
        case .failed(let error):
            return Applied(object: d, change: Change(id: d.id, action: .failed, reason: "\(location): cannot read the live object: \(error.message)"))
        }
        if let live {
            let uid = live["metadata"]?["uid"]?.stringValue
            if IgnoreMode(object: live) == .ignored {
                return Applied(object: d, change: Change(id: d.id, action: .skipped, reason: "annotated fluxcd.io/ignore in the cluster"), uid: uid)
            }
            let owner = live["metadata"]?["labels"]?[Flotilla.instanceLabel]?.stringValue
            if let owner, owner != options.instance.labelValue {
                return Applied(object: d, change: Change(id: d.id, action: .conflict,
                                                         reason: "\(location): the live object belongs to another FluxInstance (\(Flotilla.instanceLabel)=\(owner))"))
            }
            let added = options.driftCorrection == .revertIncludingAddedFields || options.driftCorrection == .report ? AddedFields.managers(of: live) : []
            let upToDate = LiveComparison.isUpToDate(desired: d.object, live: live, checksum: d.checksum)
            if upToDate && added.isEmpty {
                let health = ObjectHealth.of(live)
                if let rv = live["metadata"]?["resourceVersion"]?.stringValue { verified[d.id] = Verified(rv, d.checksum, health: health) }
                return Applied(object: d, change: Change(id: d.id, action: .unchanged), uid: uid, health: health)
            }
            // Git has not changed since this object was applied (same checksum), yet it differs:
            // drift. (A new checksum is a change in git, applied as such.)
            let gitUnchanged = live["metadata"]?["annotations"]?[FluxAnnotations.syncChecksum]?.stringValue == d.checksum
            // What differs although git did not change, and the fields added by hand (in the
            // modes that look for them).
            let disabled = AddedFields.correctionDisabled(desired: d.object, live: live)
            let changed = gitUnchanged && !upToDate ? "\(LiveComparison.difference(desired: d.object, live: live) ?? "a field") changed" : nil
            let extra = added.isEmpty || options.driftCorrection == .revert ? nil : "fields added by \(added.joined(separator: ", "))"
            let found = [changed, extra].compactMap { $0 }.joined(separator: "; ")
            // Drift alone is left in report mode or when the object opts out; a change in git is
            // applied whatever the mode, and only what the write puts back is reported with it.
            if gitUnchanged && !found.isEmpty && (options.driftCorrection == .report || disabled) {
                verified[d.id] = nil
                let why = options.driftCorrection == .report ? "driftCorrection is report" : "annotated \(Flotilla.driftCorrectionAnnotation): disabled"
                return Applied(object: d, change: Change(id: d.id, action: .drifted, reason: "\(location): not corrected (\(why))", drift: found),
                               uid: uid, health: .of(live))
            }
            let removesAdded = extra != nil && options.driftCorrection == .revertIncludingAddedFields && !disabled
            if removesAdded, let failure = await takeOverAddedFields(d, type: type, live: live) { return failure }
            let corrected = [changed, removesAdded ? extra : nil].compactMap { $0 }.joined(separator: "; ")
            let drift: String? = corrected.isEmpty ? nil : corrected
            return await write(d, type: type, live: live, drift: drift)
        }
        return await write(d, type: type, live: nil, drift: nil)
    }

    /// Server-side applies the object (forcing ownership of git's fields).
    func write(_ d: DesiredObject, type: ResourceType, live: JSONValue?, drift: String?) async -> Applied {
        let location = d.manifest.location
        verified[d.id] = nil
        do {
            let response = try await client.apply(d.object, as: type, fieldManager: options.fieldManager, force: true)
            CrashPoint.pass("apply")
            logger.debug("applied", metadata: ["object": "\(d.id)", "created": "\(live == nil)"])
            let health = ObjectHealth.of(response)
            if let rv = response["metadata"]?["resourceVersion"]?.stringValue { verified[d.id] = Verified(rv, d.checksum, health: health) }
            return Applied(object: d, change: Change(id: d.id, action: live == nil ? .created : .configured, drift: drift),
                           uid: response["metadata"]?["uid"]?.stringValue, health: health)
        } catch {
            logger.warning("apply failed", metadata: ["object": "\(d.id)", "file": "\(location)", "error": "\(error.message)"])
            return Applied(object: d, change: Change(id: d.id, action: .failed, reason: "\(location): \(error.message)", drift: drift),
                           uid: live?["metadata"]?["uid"]?.stringValue)
        }
    }

    /// Folds the hand-edit managers' fields into this instance's (one patch of managedFields,
    /// conditional on the resourceVersion read), so that the apply that follows removes them.
    func takeOverAddedFields(_ d: DesiredObject, type: ResourceType, live listed: JSONValue) async -> Applied? {
        do {
            // The live cache keeps only the hand edits' entries: read them all.
            let live = try await client.get(type, name: d.id.name, namespace: d.id.namespace)
            guard let managed = AddedFields.takenOver(live, by: options.fieldManager) else { return nil }
            let patch: JSONValue = ["metadata": ["managedFields": managed, "resourceVersion": live["metadata"]?["resourceVersion"] ?? .null]]
            _ = try await client.patch(type, name: d.id.name, namespace: d.id.namespace, patch)
            return nil
        } catch {
            logger.warning("added fields not removed", metadata: ["object": "\(d.id)", "error": "\(error.message)"])
            return Applied(object: d, change: Change(id: d.id, action: .failed, reason: "\(d.manifest.location): cannot take over the fields added by hand: \(error.message)"),
                           uid: listed["metadata"]?["uid"]?.stringValue)
        }
    }

    /// Waits (bounded) until an applied CRD reports Established, so custom resources of the same
    /// revision can be applied; a CRD that does not get there fails.
    func waitEstablished(_ result: Applied) async -> Applied {
        guard [.created, .configured, .unchanged].contains(result.change.action) else { return result }
        let deadline = ContinuousClock.now + options.crdEstablishTimeout
        let id = result.object.id
        var established = false
        while !established && ContinuousClock.now < deadline && !Task.isCancelled {
            // A fresh GET each time: this sync's list of CRDs is a snapshot.
            if let crd = try? await client.get(.customResourceDefinitions, name: id.name) {
                established = (crd["status"]?["conditions"]?.arrayValue ?? []).contains { $0["type"] == "Established" && $0["status"] == "True" }
            }
            if !established { try? await Task.sleep(for: .milliseconds(100)) }
        }
        var out = result
        if established {
            let spec = result.object.object["spec"]
            if let group = spec?["group"]?.stringValue {
                for v in spec?["versions"]?.arrayValue ?? [] {
                    if let name = v["name"]?.stringValue { await client.mapper.invalidate(apiVersion: "\(group)/\(name)") }
                }
            }
        } else {
            out.change = Change(id: id, action: .failed, reason: "\(result.object.manifest.location): the CRD did not become Established within \(options.crdEstablishTimeout)")
        }
        return out
    }
}

/// Maps with at most `limit` operations in flight, keeping the input order.
func concurrentMap<T: Sendable, R: Sendable>(_ items: [T], limit: Int, _ body: @escaping @Sendable (T) async -> R) async -> [R] {
    guard items.count > 1, limit > 1 else {
        var out: [R] = []
        for item in items { out.append(await body(item)) }
        return out
    }
    return await withTaskGroup(of: (Int, R).self) { group in
        var results = [R?](repeating: nil, count: items.count)
        var next = 0
        for _ in 0..<min(limit, items.count) {
            let i = next
            group.addTask { (i, await body(items[i])) }
            next += 1
        }
        while let (i, r) = await group.next() {
            results[i] = r
            if next < items.count {
                let j = next
                group.addTask { (j, await body(items[j])) }
                next += 1
            }
        }
        return results.map { $0! }
    }
}
