import Synchronization

/// Which instance declares which object, across every instance of one process. When two instances
/// declare the same object, both see it as contested: neither applies it (no tug-of-war), both
/// report `Conflict`, and each is told when the other's claims change so it can report or resume
/// at once.
public final class ClaimRegistry: Sendable {
    struct State {
        var claims: [InstanceRef: Set<String>] = [:]
        var owners: [String: Set<InstanceRef>] = [:]
        var listeners: [InstanceRef: @Sendable () -> Void] = [:]
        /// Moves whenever an instance's contested objects may have changed through another's
        /// claims (the instances its listener is called for).
        var generations: [InstanceRef: Int] = [:]
        var nextGeneration = 0
        /// Claims made so far (for tests).
        var made = 0

        mutating func touch(_ instances: Set<InstanceRef>) -> [@Sendable () -> Void] {
            for instance in instances {
                nextGeneration += 1
                generations[instance] = nextGeneration
            }
            return instances.compactMap { listeners[$0] }
        }
    }
    private let state = Mutex(State())

    public init() {}

    /// Called when another instance's claims start or stop overlapping this one's.
    public func listen(_ instance: InstanceRef, _ changed: @escaping @Sendable () -> Void) {
        state.withLock { $0.listeners[instance] = changed }
    }

    /// Records the objects an instance declares now (Flux ids) and returns, for each contested one,
    /// the other instances that declare it too.
    public func claim(_ instance: InstanceRef, ids: Set<String>) -> [String: [InstanceRef]] {
        claimWithGeneration(instance, ids: ids).contested
    }

    /// `claim`, and the instance's generation as the answer left it (read under the same lock, so
    /// any later change by another instance moves it).
    public func claimWithGeneration(_ instance: InstanceRef, ids: Set<String>) -> (contested: [String: [InstanceRef]], generation: Int) {
        let (contested, notify, generation) = state.withLock { s -> ([String: [InstanceRef]], [@Sendable () -> Void], Int) in
            s.made += 1
            let old = s.claims[instance] ?? []
            var touched = Set<InstanceRef>()
            for id in old.subtracting(ids) {
                s.owners[id]?.remove(instance)
                touched.formUnion(s.owners[id] ?? [])
                if s.owners[id]?.isEmpty == true { s.owners[id] = nil }
            }
            for id in ids.subtracting(old) {
                touched.formUnion(s.owners[id] ?? [])
                s.owners[id, default: []].insert(instance)
            }
            s.claims[instance] = ids
            var contested: [String: [InstanceRef]] = [:]
            for id in ids {
                if let owners = s.owners[id], owners.count > 1 { contested[id] = owners.filter { $0 != instance }.sorted { $0.description < $1.description } }
            }
            touched.remove(instance)
            return (contested, s.touch(touched), s.generations[instance] ?? 0)
        }
        notify.forEach { $0() }
        return (contested, generation)
    }

    /// Where the instance's view of the others' claims stands: the generation a claim left
    /// (`claimWithGeneration`), unchanged since, means its contested objects are what that claim
    /// answered. -1 while the instance claims nothing (never claimed, or released).
    public func generation(of instance: InstanceRef) -> Int {
        state.withLock { $0.claims[instance] == nil ? -1 : $0.generations[instance] ?? 0 }
    }

    /// How many claims were made (for tests: a resync of the same objects makes none).
    public var claimsMade: Int { state.withLock { $0.made } }

    /// Forgets an instance (deleted or stopped); the instances it contested with are told.
    public func release(_ instance: InstanceRef) {
        let notify = state.withLock { s -> [@Sendable () -> Void] in
            var touched = Set<InstanceRef>()
            for id in s.claims[instance] ?? [] {
                s.owners[id]?.remove(instance)
                touched.formUnion(s.owners[id] ?? [])
                if s.owners[id]?.isEmpty == true { s.owners[id] = nil }
            }
            s.claims[instance] = nil
            s.listeners[instance] = nil
            s.generations[instance] = nil
            touched.remove(instance)
            return s.touch(touched)
        }
        notify.forEach { $0() }
    }
}
