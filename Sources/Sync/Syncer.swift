import Primitives
import FlotillaAPI
import KubeClient
import KubeModel
import Logging
import Manifests

/// Why a revision was not synced at all (nothing applied, nothing deleted).
public enum SyncError: Error, Sendable, CustomStringConvertible {
    case plan(SyncPlanError)
    case inventory(String)

    public var description: String {
        switch self {
        case .plan(let e): return e.description
        case .inventory(let m): return "inventory: \(m)"
        }
    }
}

/// Syncs one instance's rendered revisions into the cluster: plan, staged server-side apply,
/// inventory, conservative garbage collection. One per instance; syncs run one at a time.
/// Every request is made with `client`, which impersonates the instance's identity.
public actor Syncer {
    public let options: SyncOptions
    let client: KubeClient
    let live: LiveCache
    let store: any InventoryStore
    let logger: Logger
    private var inventory: Inventory?
    /// Syncs of one instance never overlap (an actor alone would interleave them at every await).
    private let gate = Gate()
    /// The revision whose objects the preflight access check last allowed.
    var lastCheckedRevision: String?
    /// Plans by manifest content key (see `Planner.plan`).
    private var planCache: [String: CachedPlan] = [:]
    /// Live objects already found up to date: resourceVersion, the checksum they matched and
    /// whether they were healthy (`Current`). The same resourceVersion means the same object, so
    /// neither the field-by-field check nor the health is worked out again.
    var verified: [ResourceID: Verified] = [:]
    /// The revision `verified` was last pruned for.
    private var verifiedRevision: String?
    /// The objects last claimed (a fingerprint of their ids: a list of them would cost 8 KiB per
    /// 100 objects, per instance, all the time), the registry's generation that claim left, and
    /// its answer.
    private var lastClaim: (ids: Int, count: Int, generation: Int, contested: [String: [InstanceRef]])?

    struct Verified {
        var resourceVersion: String
        var checksum: String
        var current: Bool

        init(_ resourceVersion: String, _ checksum: String, health: ObjectHealth) {
            self.resourceVersion = resourceVersion
            self.checksum = checksum
            self.current = health.status == .current
        }
    }

    public init(client: KubeClient, live: LiveCache, inventoryStore: any InventoryStore, options: SyncOptions, logger: Logger) {
        self.client = client
        self.live = live
        self.store = inventoryStore
        self.options = options
        live.keepsHandEdits = options.driftCorrection != .revert
        var logger = logger
        logger[metadataKey: "instance"] = "\(options.instance)"
        self.logger = logger
    }

    /// The inventory as last saved (loaded on first use).
    public var currentInventory: Inventory? { inventory }

    public func sync(_ rendered: RenderedSet) async throws(SyncError) -> SyncResult {
        await gate.acquire()
        do {
            let result = try await syncHoldingGate(rendered)
            gate.release()
            return result
        } catch {
            gate.release()
            throw error
        }
    }

    func syncHoldingGate(_ rendered: RenderedSet) async throws(SyncError) -> SyncResult {
        // Live objects are listed on first use in this sync and dropped at its end.
        live.beginPass()
        defer { live.endPass() }
        let desired: [DesiredObject]
        do {
            var cache = planCache
            defer { planCache = cache }
            desired = try await Planner(options: options).plan(rendered.manifests, client: client, cache: &cache)
        } catch {
            logger.warning("revision refused", metadata: ["revision": "\(rendered.revision.prefix(7))", "reason": "\(error.reason.rawValue)", "error": "\(error)"])
            throw .plan(error)
        }
        var contested: [String: [InstanceRef]] = [:]
        if let claims = options.claims { contested = claim(desired, in: claims) }
        if options.preflightAccessCheck && rendered.revision != lastCheckedRevision {
            try await preflight(desired.filter { $0.ignore != .ignored && contested[$0.id.description] == nil }, revision: rendered.revision)
            lastCheckedRevision = rendered.revision
        }
        var inventory = try await loadInventory()
        let before = inventory
        // Write-ahead: objects about to be created are recorded first (their uid unknown yet), so
        // that a crash between creating them and saving the inventory cannot leave objects that no
        // later sync would collect once they leave git.
        var stored = before
        let new = desired.filter { $0.type != nil && $0.ignore != .ignored && inventory.entries[$0.id] == nil && contested[$0.id.description] == nil }
        if !new.isEmpty {
            for d in new { inventory.entries[d.id] = InventoryEntry(id: d.id, apiVersion: d.apiVersion, uid: InventoryEntry.pending) }
            inventory.setName = options.setName
            do {
                try await store.save(inventory)
            } catch {
                logger.error("inventory not saved", metadata: ["error": "\(error)"])
                throw .inventory("cannot save the inventory: \(error)")
            }
            stored = inventory
        }

        var applied = await applyStaged(contested.isEmpty ? desired : desired.filter { contested[$0.id.description] == nil })
        for d in desired where !contested.isEmpty {
            guard let others = contested[d.id.description] else { continue }
            let names = others.map(\.description).joined(separator: ", ")
            applied.append(Applied(object: d, change: Change(id: d.id, action: .conflict,
                                                             reason: "\(d.manifest.location): \(d.id) is also declared by FluxInstance \(names); neither applies it")))
        }
        var changes = applied.map(\.change)
        // Built only if an entry changes (a resync that changes nothing never needs it).
        var idsByUID: [String: [ResourceID]]? = nil
        // Entries found exactly as recorded (id, uid, apiVersion) for an object just applied.
        var confirmed = 0
        for result in applied where result.change.action.keepsObject {
            guard let uid = result.uid else { continue }
            let id = result.object.id
            if let entry = inventory.entries[id], entry.uid == uid, entry.apiVersion == result.object.apiVersion {
                confirmed += 1
                continue
            }
            if idsByUID == nil { idsByUID = Dictionary(inventory.entries.values.map { ($0.uid, [$0.id]) }, uniquingKeysWith: +) }
            // The same object recorded under another API group (e.g. an Ingress that moved from
            // extensions to networking.k8s.io) is one object: keep one entry.
            for other in idsByUID?[uid] ?? [] where other != id { inventory.entries[other] = nil }
            inventory.entries[id] = InventoryEntry(id: id, apiVersion: result.object.apiVersion, uid: uid)
        }

        // Every entry is an object just applied (the usual resync): nothing to collect.
        let everyEntryApplied = idsByUID == nil && confirmed == inventory.entries.count
        let candidates = everyEntryApplied ? [] : collectionCandidates(inventory, desired: desired, applied: applied)
        var pending: [ResourceID] = []
        var heldReason: String? = nil
        if options.garbageCollection.enabled && !candidates.isEmpty {
            heldReason = PruneGuard(options: options.garbageCollection)
                .holdReason(candidates: candidates.map(\.id), inventory: before.count, renderedObjects: desired.count, revision: rendered.revision)
            if let heldReason {
                pending = candidates.map(\.id)
                changes += candidates.map { Change(id: $0.id, action: .held, reason: heldReason) }
                logger.warning("deletions held", metadata: ["revision": "\(rendered.revision.prefix(7))", "count": "\(pending.count)", "reason": "\(heldReason)"])
            } else if options.garbageCollection.dryRun {
                changes += candidates.map { Change(id: $0.id, action: .wouldDelete, reason: "garbage collection dry run") }
            } else {
                for entry in candidates {
                    let (change, keep) = await prune(entry)
                    if !keep { inventory.entries[entry.id] = nil }
                    if let change { changes.append(change) }
                }
            }
        }

        inventory.setName = options.setName
        if inventory != stored {
            do {
                CrashPoint.pass("inventory")
                try await store.save(inventory)
            } catch {
                logger.error("inventory not saved", metadata: ["error": "\(error)"])
                throw .inventory("cannot save the inventory: \(error)")
            }
        }
        self.inventory = inventory
        // Entries of objects no longer in git go (only when the revision moved: the same
        // revision declares the same objects, unless a generator printed others, whose stale
        // entries then wait for the next revision and are never read meanwhile).
        if rendered.revision != verifiedRevision {
            let wanted = Set(desired.map(\.id.description))
            verified = verified.filter { wanted.contains($0.key.description) }
            verifiedRevision = rendered.revision
        }
        let assessed = applied.filter { $0.health != nil }
        let unhealthy = Dictionary(assessed.compactMap { a in a.health.flatMap { $0.status == .current ? nil : (a.object.id, $0) } },
                                   uniquingKeysWith: { a, _ in a })
        let result = SyncResult(revision: rendered.revision, changes: changes, pendingDeletions: pending, pruneHeldReason: heldReason,
                                unhealthy: unhealthy, assessed: assessed.count)
        logger.info("synced", metadata: ["revision": "\(rendered.revision.prefix(7))", "created": "\(result.count(.created))",
                                         "configured": "\(result.count(.configured))", "unchanged": "\(result.count(.unchanged))",
                                         "failed": "\(result.count(.failed))", "conflicts": "\(result.count(.conflict))", "deleted": "\(result.count(.deleted))", "held": "\(pending.count)",
                                         "drifted": "\(result.drifted.count)", "unhealthy": "\(unhealthy.count)"])
        return result
    }

    /// Claims the objects in the process's registry, and returns the contested ones with the
    /// other instances that declare them. The same objects as last time, with no other instance's
    /// claims moving over them since (the registry's generation), get the same answer without
    /// claiming again. The objects are compared by a 64-bit fingerprint of their ids (two
    /// different lists agree by chance once in 2^64).
    func claim(_ desired: [DesiredObject], in claims: ClaimRegistry) -> [String: [InstanceRef]] {
        var hasher = Hasher()
        for d in desired { hasher.combine(d.id) }
        let fingerprint = hasher.finalize()
        if let last = lastClaim, last.generation == claims.generation(of: options.instance), last.count == desired.count, last.ids == fingerprint {
            return last.contested
        }
        let (contested, generation) = claims.claimWithGeneration(options.instance, ids: Set(desired.map(\.id.description)))
        lastClaim = (fingerprint, desired.count, generation, contested)
        return contested
    }

    func loadInventory() async throws(SyncError) -> Inventory {
        if let inventory { return inventory }
        do {
            let loaded = try await store.load()
            inventory = loaded
            return loaded
        } catch {
            logger.error("inventory not loaded", metadata: ["error": "\(error)"])
            throw .inventory("cannot load the inventory: \(error)")
        }
    }

    // MARK: reading live objects

    enum LiveRead {
        case found(JSONValue)
        case absent
        case failed(KubeError)
    }

    /// The live object from this sync's lists, or with one GET when they cannot say.
    func read(_ type: ResourceType, namespace: String?, name: String) async -> LiveRead {
        let scope = type.namespaced && !options.allowsAllNamespaces ? namespace : nil
        switch await live.lookup(type, scope: scope, objectNamespace: namespace, name: name) {
        case .found(let object):
            return .found(object)
        case .absent, .unknown:
            do {
                return .found(try await client.get(type, name: name, namespace: namespace))
            } catch {
                return error.isNotFound ? .absent : .failed(error)
            }
        }
    }
}
