import KubeModel
import Synchronization

/// The built-in controllers of a cluster that the API behaviour depends on: namespace deletion,
/// garbage collection through ownerReferences (background, foreground, orphan), CRD cleanup and
/// the expiry of Events.
extension KubeAPIServer {
    /// Runs the controllers until cancelled.
    public func runControllers() async {
        var nextExpiry = ContinuousClock.now
        while !Task.isCancelled {
            reconcileOnce()
            if ContinuousClock.now >= nextExpiry {
                expireEvents()
                nextExpiry = .now + min(configuration.eventTTL / 10, .seconds(10))
            }
            try? await Task.sleep(for: configuration.controllerInterval)
        }
    }

    /// One pass of every controller; cheap when nothing is being deleted.
    public func reconcileOnce() {
        let workloads = configuration.workloadControllers
        state.withLock { s in
            if workloads { runWorkloads(&s, now: .now) }
            guard s.deletionsPending else { return }
            s.deletionsPending = false
            var progress = true
            var rounds = 0
            while progress && rounds < 10 {
                progress = false
                rounds += 1
                progress = collectGarbage(&s) || progress
                progress = finishNamespaces(&s) || progress
                progress = cleanUpCRDs(&s) || progress
            }
            if s.deletionsPending || hasPendingDeletions(s) { s.deletionsPending = true }
        }
    }

    /// Deletes the Events whose last write is older than `eventTTL` at `now`; watches see DELETED.
    public func expireEvents(now: ContinuousClock.Instant = .now) {
        let ttl = configuration.eventTTL
        state.withLock { s in
            for (storageKey, writes) in s.eventWrites {
                for (key, written) in writes where now - written >= ttl {
                    let (namespace, name) = State.split(key)
                    guard var object = s.get(storageKey, namespace: namespace, name: name) else {
                        s.eventWrites[storageKey]?[key] = nil
                        continue
                    }
                    let old = object
                    object.set(path: ["metadata", "resourceVersion"], to: .string(String(s.nextRV())))
                    s.commit(type: "DELETED", storageKey: storageKey, namespace: ObjectMeta.namespace(old), name: ObjectMeta.name(old),
                             object: object, old: old)
                }
            }
        }
    }

    func hasPendingDeletions(_ s: State) -> Bool {
        s.everyObject.contains { ObjectMeta.isDeleting($0.object) }
    }

    func resourceInfo(_ s: State, storageKey: String) -> ResourceInfo? {
        s.catalog.allResources.first { $0.storageKey == storageKey && $0.verbs.contains("delete") }
    }

    func removeFinalizer(_ s: inout State, _ r: ResourceInfo, _ obj: JSONValue, _ finalizer: String) {
        var proposed = obj
        let remaining = ObjectMeta.finalizers(obj).filter { $0 != finalizer }
        proposed.set(path: ["metadata", "finalizers"], to: remaining.isEmpty ? nil : .array(remaining.map { .string($0) }))
        _ = try? updateObject(&s, resource: r, live: obj, proposed: proposed, manager: "", subresource: "", dryRun: false)
    }

    func collectGarbage(_ s: inout State) -> Bool {
        var uids: Set<String> = []
        var dependents: [(String, JSONValue)] = []
        for (key, o) in s.everyObject {
            uids.insert(ObjectMeta.uid(o))
            if o["metadata"]?["ownerReferences"] != nil { dependents.append((key, o)) }
        }
        var changed = false
        // Owners being deleted in the foreground or orphaning their dependents.
        for (key, o) in s.everyObject.filter({ ObjectMeta.isDeleting($0.object) }) {
            let finalizers = ObjectMeta.finalizers(o)
            guard finalizers.contains("foregroundDeletion") || finalizers.contains("orphan"), let r = resourceInfo(s, storageKey: key) else { continue }
            let uid = ObjectMeta.uid(o)
            let mine = dependents.filter { ($0.1["metadata"]?["ownerReferences"]?.arrayValue ?? []).contains { $0["uid"]?.stringValue == uid } }
            if finalizers.contains("orphan") {
                for (dk, d) in mine {
                    guard let dr = resourceInfo(s, storageKey: dk), let current = s.get(dk, namespace: ObjectMeta.namespace(d), name: ObjectMeta.name(d)) else { continue }
                    var proposed = current
                    let refs = (current["metadata"]?["ownerReferences"]?.arrayValue ?? []).filter { $0["uid"]?.stringValue != uid }
                    proposed.set(path: ["metadata", "ownerReferences"], to: refs.isEmpty ? nil : .array(refs))
                    _ = try? updateObject(&s, resource: dr, live: current, proposed: proposed, manager: "", subresource: "", dryRun: false)
                }
                if let current = s.get(key, namespace: ObjectMeta.namespace(o), name: ObjectMeta.name(o)) { removeFinalizer(&s, r, current, "orphan") }
                changed = true
            } else if mine.isEmpty {
                removeFinalizer(&s, r, o, "foregroundDeletion")
                changed = true
            } else {
                for (dk, d) in mine where !ObjectMeta.isDeleting(d) {
                    guard let dr = resourceInfo(s, storageKey: dk) else { continue }
                    _ = try? deleteObject(&s, resource: dr, live: d, options: ["propagationPolicy": "Foreground"], query: [:], dryRun: false)
                    changed = true
                }
            }
        }
        // Dependents whose owners are all gone (background deletion).
        for (key, d) in dependents where !ObjectMeta.isDeleting(d) {
            let owners = (d["metadata"]?["ownerReferences"]?.arrayValue ?? []).compactMap { $0["uid"]?.stringValue }
            guard !owners.isEmpty, owners.allSatisfy({ !uids.contains($0) }), let r = resourceInfo(s, storageKey: key),
                  let current = s.get(key, namespace: ObjectMeta.namespace(d), name: ObjectMeta.name(d)) else { continue }
            _ = try? deleteObject(&s, resource: r, live: current, options: .emptyObject, query: [:], dryRun: false)
            changed = true
        }
        return changed
    }

    func finishNamespaces(_ s: inout State) -> Bool {
        var changed = false
        for ns in s.list("namespaces", namespace: nil) where ObjectMeta.isDeleting(ns) {
            let name = ObjectMeta.name(ns)
            // Like the real namespace controller, start a moment after the delete.
            if let since = s.namespaceDeletions[name], ContinuousClock.now - since < configuration.namespaceDeletionDelay {
                s.deletionsPending = true
                continue
            }
            for key in Array(s.objects.keys) {
                guard let r = resourceInfo(s, storageKey: key), r.namespaced else { continue }
                for o in s.list(key, namespace: name) where !ObjectMeta.isDeleting(o) {
                    _ = try? deleteObject(&s, resource: r, live: o, options: .emptyObject, query: [:], dryRun: false)
                    changed = true
                }
            }
            // Objects held by finalizers keep the namespace until they are gone.
            guard s.objects.values.allSatisfy({ $0[name] == nil }),
                  var current = s.get("namespaces", namespace: "", name: name) else { continue }
            let old = current
            current.set(path: ["spec", "finalizers"], to: nil)
            current.set(path: ["metadata", "resourceVersion"], to: .string(String(s.nextRV())))
            if ObjectMeta.finalizers(current).isEmpty {
                s.namespaceDeletions[name] = nil
                s.commit(type: "DELETED", storageKey: "namespaces", namespace: "", name: name, object: current, old: old)
            } else {
                s.commit(type: "MODIFIED", storageKey: "namespaces", namespace: "", name: name, object: current, old: old)
            }
            changed = true
        }
        return changed
    }

    func cleanUpCRDs(_ s: inout State) -> Bool {
        var changed = false
        for crd in s.list(Self.crdKey, namespace: nil) where ObjectMeta.isDeleting(crd) {
            guard ObjectMeta.finalizers(crd).contains("customresourcecleanup.apiextensions.k8s.io"),
                  let group = crd["spec"]?["group"]?.stringValue, let plural = crd["spec"]?["names"]?["plural"]?.stringValue else { continue }
            let key = "\(plural).\(group)"
            let objects = s.list(key, namespace: nil)
            if objects.isEmpty {
                if let r = resourceInfo(s, storageKey: Self.crdKey) { removeFinalizer(&s, r, crd, "customresourcecleanup.apiextensions.k8s.io") }
                changed = true
                continue
            }
            guard let r = resourceInfo(s, storageKey: key) else {
                s.objects[key] = nil
                continue
            }
            for o in objects where !ObjectMeta.isDeleting(o) {
                _ = try? deleteObject(&s, resource: r, live: o, options: .emptyObject, query: [:], dryRun: false)
                changed = true
            }
        }
        return changed
    }
}
