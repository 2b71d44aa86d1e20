import FlotillaAPI
import KubeClient
import KubeModel
import Logging
import Manifests

extension Syncer {
    /// Deletes one object that left git, only if it is still exactly the object this instance
    /// applied: same uid, Flux's GC mark for this sync set, no ignore annotation. Returns the
    /// change to report (nil when it was already gone) and whether to keep it in the inventory
    /// (only a failed delete is kept, to be retried).
    func prune(_ entry: InventoryEntry) async -> (Change?, keep: Bool) {
        let id = entry.id
        if id.kind == "Namespace" && id.group.isEmpty && id.name == options.instance.namespace {
            return (Change(id: id, action: .skipped, reason: "not deleted: the FluxInstance lives in this namespace"), false)
        }
        let type: ResourceType
        do {
            type = try await client.mapper.mapping(apiVersion: entry.apiVersion, kind: id.kind, client: client)
        } catch {
            if error.isNotFound {
                return (Change(id: id, action: .skipped, reason: "not deleted: \(entry.apiVersion) \(id.kind) is no longer served"), false)
            }
            return (Change(id: id, action: .failed, reason: "cannot resolve \(entry.apiVersion) \(id.kind) to delete it: \(error.message)"), true)
        }
        let live: JSONValue
        switch await read(type, namespace: id.namespace, name: id.name) {
        case .absent:
            return (nil, false)
        case .failed(let error):
            return (Change(id: id, action: .failed, reason: "cannot read it before deleting: \(error.message)"), true)
        case .found(let object):
            live = object
        }
        let metadata = live["metadata"]
        // A write-ahead entry (uid not known yet) relies on the GC mark alone, checked next.
        if entry.uid != InventoryEntry.pending && metadata?["uid"]?.stringValue != entry.uid {
            return (Change(id: id, action: .skipped, reason: "not deleted: it was re-created by someone else since this instance applied it"), false)
        }
        if metadata?["labels"]?[FluxAnnotations.syncGCMark]?.stringValue != GCMark.mark(setName: options.setName, id: id) {
            return (Change(id: id, action: .skipped, reason: "not deleted: it no longer carries this instance's \(FluxAnnotations.syncGCMark)"), false)
        }
        let ignore = IgnoreMode(object: live)
        if ignore != .none {
            let value = ignore == .syncOnly ? FluxAnnotations.ignoreSyncOnly : FluxAnnotations.ignoreTrue
            return (Change(id: id, action: .skipped, reason: "not deleted: annotated fluxcd.io/ignore: \(value)"), false)
        }
        do {
            // Preconditions: exactly the object checked above, unchanged since (an ignore annotation
            // added a moment ago makes the delete fail rather than go through).
            try await client.delete(type, name: id.name, namespace: id.namespace, propagation: .background,
                                    preconditionResourceVersion: metadata?["resourceVersion"]?.stringValue,
                                    preconditionUID: entry.uid == InventoryEntry.pending ? metadata?["uid"]?.stringValue : entry.uid)
            CrashPoint.pass("prune")
            logger.info("deleted", metadata: ["object": "\(id)"])
            return (Change(id: id, action: .deleted), false)
        } catch {
            if error.isNotFound { return (nil, false) }
            if error.isConflict {
                return (Change(id: id, action: .skipped, reason: "not deleted yet: it changed while being checked; checked again at the next sync"), true)
            }
            logger.warning("delete failed", metadata: ["object": "\(id)", "error": "\(error.message)"])
            return (Change(id: id, action: .failed, reason: "delete failed (will retry): \(error.message)"), true)
        }
    }

    /// Inventory entries no object of this sync accounts for. Compared by Flux id (no API group)
    /// and by uid: an object still in git is never a candidate, whatever group it is listed under.
    /// An object whose kind is not served has a guessed scope: its namesakes are not collected
    /// either.
    func collectionCandidates(_ inventory: Inventory, desired: [DesiredObject], applied: [Applied]) -> [InventoryEntry] {
        let appliedUIDs = Set(applied.filter { $0.change.action.keepsObject }.compactMap(\.uid))
        let wanted = Set(desired.map(\.id.description))
        let unresolved = Set(desired.filter { $0.type == nil }.map { "\($0.id.kind)/\($0.id.name)" })
        return inventory.entries.values
            .filter { !wanted.contains($0.id.description) && !appliedUIDs.contains($0.uid) && !unresolved.contains("\($0.id.kind)/\($0.id.name)") }
            // Reverse apply order: custom resources and workloads before what they depend on.
            .sorted { (KindOrder.rank($0.id.kind), $1.id) > (KindOrder.rank($1.id.kind), $0.id) }
    }
}
