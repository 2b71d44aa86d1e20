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
    }

    /// CRDs and Namespaces first (then waits for the CRDs to be Established), then everything
    /// else rank by rank; objects of one rank go concurrently.
    func applyStaged(_ desired: [DesiredObject]) async -> [Applied] {
        let first = desired.filter { $0.kind == "CustomResourceDefinition" || ($0.kind == "Namespace" && $0.id.group.isEmpty) }
        let firstIDs = Set(first.map(\.id))
        var results = await applyByRank(first)
        let crds = results.filter { $0.object.kind == "CustomResourceDefinition" && [.created, .configured, .unchanged].contains($0.change.action) }
        if !crds.isEmpty {
            results = await waitEstablished(results)
        }
        results += await applyByRank(desired.filter { !firstIDs.contains($0.id) })
        let order = Dictionary(desired.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
        return results.sorted { order[$0.object.id, default: 0] < order[$1.object.id, default: 0] }
    }

    func applyByRank(_ objects: [DesiredObject]) async -> [Applied] {
        let ranks = Dictionary(grouping: objects) { KindOrder.rank($0.kind) }
        var out: [Applied] = []
        for rank in ranks.keys.sorted() {
            out += await concurrentMap(ranks[rank]!, limit: options.applyConcurrency) { await self.apply($0) }
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
                return Applied(object: d, change: Change(id: d.id, action: .failed,
                                                         reason: "Conflict: \(location): the live object belongs to another FluxInstance (\(Flotilla.instanceLabel)=\(owner))"))
            }
            if LiveComparison.isUpToDate(desired: d.object, live: live, checksum: d.checksum) {
                return Applied(object: d, change: Change(id: d.id, action: .unchanged), uid: uid)
            }
        }
        do {
            let response = try await client.apply(d.object, as: type, fieldManager: options.fieldManager, force: true)
            logger.debug("applied", metadata: ["object": "\(d.id)", "created": "\(live == nil)"])
            return Applied(object: d, change: Change(id: d.id, action: live == nil ? .created : .configured),
                           uid: response["metadata"]?["uid"]?.stringValue)
        } catch {
            logger.warning("apply failed", metadata: ["object": "\(d.id)", "file": "\(location)", "error": "\(error.message)"])
            return Applied(object: d, change: Change(id: d.id, action: .failed, reason: "\(location): \(error.message)"),
                           uid: live?["metadata"]?["uid"]?.stringValue)
        }
    }

    /// Waits (bounded) until every applied CRD reports Established, so custom resources of the same
    /// revision can be applied; a CRD that does not get there fails.
    func waitEstablished(_ results: [Applied]) async -> [Applied] {
        let crdType = ResourceType(group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions",
                                   kind: "CustomResourceDefinition", namespaced: false)
        let deadline = ContinuousClock.now + options.crdEstablishTimeout
        var out = results
        for i in out.indices where out[i].object.kind == "CustomResourceDefinition" && [.created, .configured, .unchanged].contains(out[i].change.action) {
            let id = out[i].object.id
            var established = false
            while !established && ContinuousClock.now < deadline && !Task.isCancelled {
                if case .found(let crd) = await read(crdType, namespace: nil, name: id.name) {
                    established = (crd["status"]?["conditions"]?.arrayValue ?? []).contains { $0["type"] == "Established" && $0["status"] == "True" }
                }
                if !established { try? await Task.sleep(for: .milliseconds(100)) }
            }
            if established {
                if let group = out[i].object.object["spec"]?["group"]?.stringValue {
                    for v in out[i].object.object["spec"]?["versions"]?.arrayValue ?? [] {
                        if let name = v["name"]?.stringValue { await client.mapper.invalidate(apiVersion: "\(group)/\(name)") }
                    }
                }
            } else {
                out[i].change = Change(id: id, action: .failed, reason: "\(out[i].object.manifest.location): the CRD did not become Established within \(options.crdEstablishTimeout)")
            }
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
