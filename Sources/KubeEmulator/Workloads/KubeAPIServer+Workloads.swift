import KubeModel

/// Minimal stand-ins for kube-controller-manager's workload controllers and the kubelet, so that
/// what a GitOps tool applies rolls out as on a cluster: a Deployment gets a ReplicaSet per pod
/// template, a ReplicaSet gets its Pods, a Pod turns Ready after `workloadStartDelay` (never, when
/// its image's registry host ends in `.invalid` or it is kept unhealthy), old ReplicaSets scale to
/// zero once the new one is available, and a rollout past `progressDeadlineSeconds` reports
/// `ProgressDeadlineExceeded`. Jobs complete, claims bind, StatefulSets and DaemonSets report
/// ready replicas after the same delay.
extension KubeAPIServer {
    static let controllerManager = "kube-controller-manager"

    /// One pass of the workload controllers, when something changed or came due.
    func runWorkloads(_ s: inout State, now: ContinuousClock.Instant) {
        guard s.workloads.dirty || (s.workloads.nextDue.map { now >= $0 } ?? false) else { return }
        s.workloads.dirty = false
        s.workloads.nextDue = nil
        var uids = Set<String>()
        for key in Self.workloadKeys {
            for o in s.list(key, namespace: nil) { uids.insert(ObjectMeta.uid(o)) }
        }
        s.workloads.forget(except: uids)
        for d in s.list("deployments.apps", namespace: nil) where !ObjectMeta.isDeleting(d) { deploymentController(&s, d, now: now) }
        for rs in s.list("replicasets.apps", namespace: nil) where !ObjectMeta.isDeleting(rs) { replicaSetController(&s, rs) }
        for pod in s.list("pods", namespace: nil) where !ObjectMeta.isDeleting(pod) { kubelet(&s, pod, now: now) }
        for rs in s.list("replicasets.apps", namespace: nil) where !ObjectMeta.isDeleting(rs) { replicaSetStatus(&s, rs) }
        for d in s.list("deployments.apps", namespace: nil) where !ObjectMeta.isDeleting(d) { deploymentStatus(&s, d, now: now) }
        for job in s.list("jobs.batch", namespace: nil) where !ObjectMeta.isDeleting(job) { jobController(&s, job, now: now) }
        for claim in s.list("persistentvolumeclaims", namespace: nil) where !ObjectMeta.isDeleting(claim) { volumeBinder(&s, claim, now: now) }
        for set in s.list("statefulsets.apps", namespace: nil) where !ObjectMeta.isDeleting(set) { statefulSetController(&s, set, now: now) }
        for set in s.list("daemonsets.apps", namespace: nil) where !ObjectMeta.isDeleting(set) { daemonSetController(&s, set, now: now) }
    }

    // MARK: writing

    func resourceInfo(group: String, name: String) -> ResourceInfo? {
        Catalog.builtin.resource(group: group, name: name)
    }

    /// Writes `status` on the status subresource when it differs.
    func writeStatus(_ s: inout State, _ group: String, _ resource: String, _ object: JSONValue, _ status: JSONValue, manager: String = controllerManager) {
        guard object["status"] != status, let r = resourceInfo(group: group, name: resource),
              let live = s.get(r.storageKey, namespace: ObjectMeta.namespace(object), name: ObjectMeta.name(object)) else { return }
        var proposed = live
        proposed["status"] = status
        _ = try? updateObject(&s, resource: r, live: live, proposed: proposed, manager: manager, subresource: "status", dryRun: false)
    }

    static func ownerReference(_ owner: JSONValue) -> JSONValue {
        ["apiVersion": owner["apiVersion"] ?? "", "kind": owner["kind"] ?? "", "name": .string(ObjectMeta.name(owner)),
         "uid": .string(ObjectMeta.uid(owner)), "controller": true, "blockOwnerDeletion": true]
    }

    static func isOwned(_ object: JSONValue, by owner: JSONValue) -> Bool {
        (object["metadata"]?["ownerReferences"]?.arrayValue ?? []).contains { $0["uid"]?.stringValue == ObjectMeta.uid(owner) }
    }

    /// kube-controller-manager's pod-template-hash: FNV-1a of the template, digits made safe.
    static func templateHash(_ template: JSONValue?) -> String {
        var hash: UInt32 = 2_166_136_261
        for byte in (template ?? .null).jsonBytes() {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        return String(String(hash).map { Identifiers.suffixAlphabet[Int($0.asciiValue! - 48) % Identifiers.suffixAlphabet.count] }.prefix(10))
    }

    static func replicas(_ object: JSONValue) -> Int64 { object["spec"]?["replicas"]?.intValue ?? 1 }

    static func condition(_ type: String, _ status: Bool, _ reason: String, _ message: String, since: String) -> JSONValue {
        ["type": .string(type), "status": status ? "True" : "False", "reason": .string(reason), "message": .string(message),
         "lastUpdateTime": .string(since), "lastTransitionTime": .string(since)]
    }

    /// Keeps each condition's times when its status did not change.
    static func keepTimes(_ conditions: [JSONValue], previous: JSONValue?) -> JSONValue {
        .array(conditions.map { c in
            guard let old = previous?["conditions"]?.arrayValue?.first(where: { $0["type"] == c["type"] }), old["status"] == c["status"] else { return c }
            var kept = c
            for k in ["lastTransitionTime", "lastUpdateTime", "lastProbeTime"] where old[k] != nil { kept[k] = old[k] }
            if old["reason"] == c["reason"], let t = old["lastUpdateTime"] { kept["lastUpdateTime"] = t }
            return kept
        })
    }

    // MARK: Deployments

    func deploymentController(_ s: inout State, _ d: JSONValue, now: ContinuousClock.Instant) {
        guard let rsInfo = resourceInfo(group: "apps", name: "replicasets") else { return }
        let namespace = ObjectMeta.namespace(d)
        let hash = Self.templateHash(d["spec"]?["template"])
        let name = "\(ObjectMeta.name(d))-\(hash)"
        let owned = s.list("replicasets.apps", namespace: namespace).filter { Self.isOwned($0, by: d) }
        let wanted = Self.replicas(d)
        let revision = (owned.compactMap { $0["metadata"]?["annotations"]?["deployment.kubernetes.io/revision"]?.stringValue.flatMap { Int($0) } }.max() ?? 0)
        if let current = owned.first(where: { ObjectMeta.name($0) == name }) {
            if Self.replicas(current) != wanted {
                var proposed = current
                proposed.set(path: ["spec", "replicas"], to: .int(wanted))
                _ = try? updateObject(&s, resource: rsInfo, live: current, proposed: proposed, manager: Self.controllerManager, subresource: "", dryRun: false)
            }
        } else {
            var template = d["spec"]?["template"] ?? .emptyObject
            template.set(path: ["metadata", "labels", "pod-template-hash"], to: .string(hash))
            var selector = d["spec"]?["selector"] ?? .emptyObject
            selector.set(path: ["matchLabels", "pod-template-hash"], to: .string(hash))
            var labels = template["metadata"]?["labels"] ?? .emptyObject
            labels["pod-template-hash"] = .string(hash)
            let body: JSONValue = [
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": ["name": .string(name), "labels": labels, "ownerReferences": [Self.ownerReference(d)],
                             "annotations": ["deployment.kubernetes.io/desired-replicas": .string(String(wanted)),
                                             "deployment.kubernetes.io/revision": .string(String(revision + 1))]],
                "spec": ["replicas": .int(wanted), "selector": selector, "template": template],
            ]
            _ = try? createObject(&s, resource: rsInfo, namespace: namespace, body: body, manager: Self.controllerManager, dryRun: false)
        }
        // Old ReplicaSets keep serving until the new one is available.
        guard let fresh = s.get("replicasets.apps", namespace: namespace, name: name),
              (fresh["status"]?["availableReplicas"]?.intValue ?? 0) >= wanted else { return }
        for old in owned where ObjectMeta.name(old) != name && Self.replicas(old) != 0 {
            var proposed = old
            proposed.set(path: ["spec", "replicas"], to: .int(0))
            _ = try? updateObject(&s, resource: rsInfo, live: old, proposed: proposed, manager: Self.controllerManager, subresource: "", dryRun: false)
        }
    }

    func deploymentStatus(_ s: inout State, _ d: JSONValue, now: ContinuousClock.Instant) {
        let namespace = ObjectMeta.namespace(d)
        let name = "\(ObjectMeta.name(d))-\(Self.templateHash(d["spec"]?["template"]))"
        let owned = s.list("replicasets.apps", namespace: namespace).filter { Self.isOwned($0, by: d) }
        let wanted = Self.replicas(d)
        func sum(_ field: String) -> Int64 { owned.reduce(0) { $0 + ($1["status"]?[field]?.intValue ?? 0) } }
        let new = owned.first { ObjectMeta.name($0) == name }
        let updated = new?["status"]?["replicas"]?.intValue ?? 0
        let available = sum("availableReplicas"), replicas = sum("replicas")
        let complete = updated == wanted && replicas == wanted && (new?["status"]?["availableReplicas"]?.intValue ?? 0) == wanted
        let stamp = Timestamp.now()
        let deadline = Duration.seconds(d["spec"]?["progressDeadlineSeconds"]?.intValue ?? 600)
        let started = s.workloads.since(d, now: now)
        let progressing: JSONValue
        let previous = d["status"]?["conditions"]?.arrayValue?.first { $0["type"] == "Progressing" }
        // Once a generation has rolled out, losing a Pod later is not a stalled rollout.
        let rolledOut = previous?["reason"] == "NewReplicaSetAvailable" && d["status"]?["observedGeneration"] == d["metadata"]?["generation"]
        if complete || rolledOut {
            progressing = Self.condition("Progressing", true, "NewReplicaSetAvailable", "ReplicaSet \"\(name)\" has successfully progressed.", since: stamp)
        } else if now - started >= deadline {
            progressing = Self.condition("Progressing", false, "ProgressDeadlineExceeded", "ReplicaSet \"\(name)\" has timed out progressing.", since: stamp)
        } else {
            progressing = Self.condition("Progressing", true, "ReplicaSetUpdated", "ReplicaSet \"\(name)\" is progressing.", since: stamp)
            s.workloads.due(started + deadline)
        }
        let maxUnavailable = wanted / 4
        let availableCondition = available >= wanted - maxUnavailable
            ? Self.condition("Available", true, "MinimumReplicasAvailable", "Deployment has minimum availability.", since: stamp)
            : Self.condition("Available", false, "MinimumReplicasUnavailable", "Deployment does not have minimum availability.", since: stamp)
        var status: JSONValue = [
            "observedGeneration": d["metadata"]?["generation"] ?? 1, "replicas": .int(replicas), "updatedReplicas": .int(updated),
            "readyReplicas": .int(sum("readyReplicas")), "availableReplicas": .int(available),
            "conditions": Self.keepTimes([availableCondition, progressing], previous: d["status"]),
        ]
        if replicas - available > 0 { status["unavailableReplicas"] = .int(replicas - available) }
        for k in ["readyReplicas", "availableReplicas"] where status[k]?.intValue == 0 { status[k] = nil }
        writeStatus(&s, "apps", "deployments", d, status)
    }

    // MARK: ReplicaSets

    func replicaSetController(_ s: inout State, _ rs: JSONValue) {
        guard let podInfo = resourceInfo(group: "", name: "pods") else { return }
        let namespace = ObjectMeta.namespace(rs)
        let pods = s.list("pods", namespace: namespace).filter { Self.isOwned($0, by: rs) && !ObjectMeta.isDeleting($0) }
        let wanted = Int(Self.replicas(rs))
        if pods.count < wanted {
            let template = rs["spec"]?["template"] ?? .emptyObject
            for _ in pods.count..<wanted {
                var metadata = template["metadata"] ?? .emptyObject
                metadata["generateName"] = .string("\(ObjectMeta.name(rs))-")
                metadata["ownerReferences"] = [Self.ownerReference(rs)]
                let body: JSONValue = ["apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"] ?? .emptyObject]
                _ = try? createObject(&s, resource: podInfo, namespace: namespace, body: body, manager: Self.controllerManager, dryRun: false)
            }
        } else if pods.count > wanted {
            let extra = pods.sorted { ObjectMeta.name($0) > ObjectMeta.name($1) }.prefix(pods.count - wanted)
            for pod in extra { _ = try? deleteObject(&s, resource: podInfo, live: pod, options: .emptyObject, query: [:], dryRun: false) }
        }
    }

    func replicaSetStatus(_ s: inout State, _ rs: JSONValue) {
        let pods = s.list("pods", namespace: ObjectMeta.namespace(rs)).filter { Self.isOwned($0, by: rs) && !ObjectMeta.isDeleting($0) }
        let ready = Int64(pods.filter(Self.podReady).count)
        var status: JSONValue = ["replicas": .int(Int64(pods.count)), "fullyLabeledReplicas": .int(Int64(pods.count)),
                                 "readyReplicas": .int(ready), "availableReplicas": .int(ready),
                                 "observedGeneration": rs["metadata"]?["generation"] ?? 1]
        for k in ["fullyLabeledReplicas", "readyReplicas", "availableReplicas"] where status[k]?.intValue == 0 { status[k] = nil }
        writeStatus(&s, "apps", "replicasets", rs, status)
    }

    static func podReady(_ pod: JSONValue) -> Bool {
        (pod["status"]?["conditions"]?.arrayValue ?? []).contains { $0["type"] == "Ready" && $0["status"] == "True" }
    }
}
