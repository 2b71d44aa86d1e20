/// What a sync did to one object.
public struct Change: Sendable, Equatable, CustomStringConvertible {
    public enum Action: String, Sendable {
        case created, configured, unchanged, skipped, failed
        /// Not applied: another FluxInstance declares the object, or the live object carries
        /// another instance's label. Neither instance applies it until one lets go.
        case conflict
        /// Deleted by garbage collection.
        case deleted
        /// Would be deleted (garbage collection dry run).
        case wouldDelete = "would-delete"
        /// Held by the blast-radius guard until approved.
        case held
        /// Differs from git, reported and left alone (`driftCorrection: report`, or the object's
        /// `flotilla.dev/drift-correction: disabled`).
        case drifted

        /// The object is in the cluster as this sync applied or found it: its inventory entry stays.
        var keepsObject: Bool { self == .created || self == .configured || self == .unchanged }
    }
    public var id: ResourceID
    public var action: Action
    /// Why (for skipped, failed, held, and deletions that were not made): names the object's file.
    public var reason: String?
    /// How the live object differed from git although git had not changed (drift), whether
    /// corrected (`configured`) or not (`drifted`): `spec.replicas changed`, `fields added by kubectl-patch`.
    public var drift: String?

    public init(id: ResourceID, action: Action, reason: String? = nil, drift: String? = nil) {
        self.id = id
        self.action = action
        self.reason = reason
        self.drift = drift
    }

    public var description: String { "\(id) \(action.rawValue)" + (reason.map { ": \($0)" } ?? "") }
}

/// The outcome of one sync of one revision.
public struct SyncResult: Sendable {
    public var revision: String
    public var changes: [Change]
    /// Deletions the guard holds (ids), with why.
    public var pendingDeletions: [ResourceID]
    public var pruneHeldReason: String?
    /// The health of the applied objects as the sync saw them: those not current, and how many
    /// were assessed.
    public var unhealthy: [ResourceID: ObjectHealth] = [:]
    public var assessed = 0

    public init(revision: String, changes: [Change], pendingDeletions: [ResourceID], pruneHeldReason: String?,
                unhealthy: [ResourceID: ObjectHealth] = [:], assessed: Int = 0) {
        (self.revision, self.changes, self.pendingDeletions, self.pruneHeldReason) = (revision, changes, pendingDeletions, pruneHeldReason)
        (self.unhealthy, self.assessed) = (unhealthy, assessed)
    }

    /// Objects found differing from git (corrected or not).
    public var drifted: [Change] { changes.filter { $0.drift != nil } }

    public func count(_ action: Change.Action) -> Int { changes.reduce(0) { $0 + ($1.action == action ? 1 : 0) } }
    public func changes(_ action: Change.Action) -> [Change] { changes.filter { $0.action == action } }
}

/// Decides whether deletions may go ahead (pure). The blast-radius guard holds them all when the
/// rendered set is empty, when more than `maxDeletePercent` of the inventory (as it was before this
/// sync) would be deleted, or when a Namespace or CustomResourceDefinition would be deleted (that
/// deletes everything in it) — unless this revision was approved or the guard is off.
public struct PruneGuard: Sendable, Equatable {
    public var options: GarbageCollectionOptions

    public init(options: GarbageCollectionOptions) { self.options = options }

    /// Kinds whose deletion takes other objects with it.
    public static let cascadingKinds: Set<String> = ["Namespace", "CustomResourceDefinition"]

    /// Nil when the deletions may proceed; otherwise why they are held.
    public func holdReason(candidates: [ResourceID], inventory: Int, renderedObjects: Int, revision: String) -> String? {
        let deletions = candidates.count
        guard deletions > 0, options.guardEnabled else { return nil }
        if let approved = options.approvedRevision, approved.count >= 7, revision.hasPrefix(approved) { return nil }
        if renderedObjects == 0 {
            return "the revision renders no objects; \(deletions) deletion(s) held until approved"
        }
        if deletions * 100 > options.maxDeletePercent * max(inventory, 1) {
            let percent = deletions * 100 / max(inventory, 1)
            return "\(deletions) of \(inventory) objects (\(percent)%) would be deleted, more than the \(options.maxDeletePercent)% allowed; held until approved"
        }
        if let cascading = candidates.first(where: { Self.cascadingKinds.contains($0.kind) && ($0.group.isEmpty || $0.group == "apiextensions.k8s.io") }) {
            return "deleting \(cascading) would delete everything in it; held until approved"
        }
        return nil
    }
}
