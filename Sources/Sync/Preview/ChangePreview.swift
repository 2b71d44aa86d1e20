import FlotillaAPI
import KubeClient
import KubeModel
import Manifests

/// What applying a rendered revision would do, object by object, found by asking the API server
/// (server-side apply with `dryRun=All`, as `client`, which impersonates the instance so that its
/// RBAC decides) and compared with the live objects; plus what garbage collection would delete
/// and what the blast-radius guard would hold. Changes nothing.
public struct ChangePreview: Sendable {
    public struct Entry: Sendable, Equatable {
        public enum Action: String, Sendable, CaseIterable {
            case create, update, unchanged, delete, held, skipped, forbidden, failed
        }
        public var id: ResourceID
        public var action: Action
        /// A unified diff (empty for unchanged, skipped and errors).
        public var diff: String
        /// Why (skipped, held, forbidden, failed), naming the file.
        public var message: String?
    }

    let client: KubeClient
    let options: SyncOptions

    public init(client: KubeClient, options: SyncOptions) {
        self.client = client
        self.options = options
    }

    public func preview(_ desired: [DesiredObject], inventory: Inventory?) async -> [Entry] {
        let namespacesCreated = Set(desired.filter { $0.kind == "Namespace" && $0.id.group.isEmpty }.map(\.id.name))
        let kindsCreated = Set(Planner.customResourceTypes(in: desired.map(\.manifest)).keys.map { "\($0.group)/\($0.kind)" })
        var entries = await concurrentMap(desired, limit: 4) { d in
            await self.entry(d, comesWithRevision: d.id.namespace.map(namespacesCreated.contains) ?? false || kindsCreated.contains("\(d.id.group)/\(d.kind)"))
        }
        entries += await deletions(desired, inventory: inventory)
        return entries
    }

    /// `comesWithRevision`: its namespace or its CRD is created by the same revision.
    func entry(_ d: DesiredObject, comesWithRevision: Bool) async -> Entry {
        let location = d.manifest.location
        func refused(_ e: KubeError, _ doing: String) -> Entry {
            Entry(id: d.id, action: e.code == 403 ? .forbidden : .failed, diff: "", message: "\(location): \(doing): \(e.message)")
        }
        guard let type = d.type else {
            return Entry(id: d.id, action: .failed, diff: "", message: "\(location): \(d.unresolved ?? "unknown kind")")
        }
        if d.ignore == .ignored {
            return Entry(id: d.id, action: .skipped, diff: "", message: "\(location): annotated fluxcd.io/ignore in git")
        }
        var live: JSONValue?
        do {
            live = try await client.get(type, name: d.id.name, namespace: d.id.namespace)
        } catch {
            if error.code == 403 { return refused(error, "may not read it") }
            if !error.isNotFound { return refused(error, "cannot read it") }
        }
        if let live {
            if IgnoreMode(object: live) == .ignored {
                return Entry(id: d.id, action: .skipped, diff: "", message: "annotated fluxcd.io/ignore in the cluster")
            }
            if let owner = live["metadata"]?["labels"]?[Flotilla.instanceLabel]?.stringValue, owner != options.instance.labelValue {
                return Entry(id: d.id, action: .failed, diff: "", message: "\(location): the live object belongs to another FluxInstance (\(Flotilla.instanceLabel)=\(owner))")
            }
        }
        let merged: JSONValue
        do {
            merged = try await client.apply(d.object, as: type, fieldManager: options.fieldManager, force: true, dryRun: true)
        } catch {
            // Its namespace or its CRD comes with the same revision: the server cannot dry-run it
            // yet; it would be created as written.
            guard live == nil, error.isNotFound, comesWithRevision else { return refused(error, "the API server refuses it") }
            merged = d.object
        }
        let diff = ComparedObject.diff(live: live, merged: merged)
        return Entry(id: d.id, action: live == nil ? .create : diff.isEmpty ? .unchanged : .update, diff: diff)
    }

    /// Objects in the inventory that left git: deleted by garbage collection, or held.
    func deletions(_ desired: [DesiredObject], inventory: Inventory?) async -> [Entry] {
        guard options.garbageCollection.enabled, let inventory else { return [] }
        let wanted = Set(desired.map(\.id.description))
        let candidates = inventory.entries.values.filter { !wanted.contains($0.id.description) }.sorted { $0.id < $1.id }
        guard !candidates.isEmpty else { return [] }
        let held = PruneGuard(options: options.garbageCollection)
            .holdReason(candidates: candidates.map(\.id), inventory: inventory.count, renderedObjects: desired.count, revision: "")
        var out: [Entry] = []
        for entry in candidates {
            var live: JSONValue?
            if let type = try? await client.mapper.mapping(apiVersion: entry.apiVersion, kind: entry.id.kind, client: client) {
                live = try? await client.get(type, name: entry.id.name, namespace: entry.id.namespace)
            }
            guard let live else { continue }
            if IgnoreMode(object: live) != .none {
                out.append(Entry(id: entry.id, action: .skipped, diff: "", message: "not deleted: annotated fluxcd.io/ignore"))
                continue
            }
            if options.garbageCollection.dryRun {
                out.append(Entry(id: entry.id, action: .skipped, diff: "", message: "would be deleted, but garbage collection is a dry run"))
            } else if let held {
                out.append(Entry(id: entry.id, action: .held, diff: "", message: held))
            } else {
                out.append(Entry(id: entry.id, action: .delete, diff: ComparedObject.diff(live: live, merged: nil)))
            }
        }
        return out
    }
}
