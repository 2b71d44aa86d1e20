import KubeModel

/// The emulated kubelet (Pods), Job controller, volume binder, and the StatefulSet and DaemonSet
/// controllers, at the level of detail health checks read: phases, conditions and counts.
extension KubeAPIServer {
    /// Does `pod`, or the ReplicaSet or Deployment that owns it, refuse to get healthy?
    func podKeptUnhealthy(_ s: State, _ pod: JSONValue) -> Bool {
        if isKeptUnhealthy(s, pod) { return true }
        let namespace = ObjectMeta.namespace(pod)
        var owner: JSONValue? = pod
        for _ in 0..<3 {
            guard let ref = owner?["metadata"]?["ownerReferences"]?.arrayValue?.first, let kind = ref["kind"]?.stringValue,
                  let name = ref["name"]?.stringValue else { return false }
            if s.workloads.unhealthy.contains(WorkloadState.key(kind: kind, namespace: namespace, name: name)) { return true }
            owner = kind == "ReplicaSet" ? s.get("replicasets.apps", namespace: namespace, name: name) : nil
        }
        return false
    }

    /// An image whose registry host ends in `.invalid` (RFC 2606) can never be pulled.
    static func unpullable(_ image: String) -> String? {
        let host = image.split(separator: "/").first.map(String.init) ?? ""
        guard image.contains("/"), host.contains(".") || host.contains(":") else { return nil }
        let bare = host.split(separator: ":").first.map(String.init) ?? host
        return bare.hasSuffix(".invalid") ? "dial tcp: lookup \(bare): no such host" : nil
    }

    func kubelet(_ s: inout State, _ pod: JSONValue, now: ContinuousClock.Instant) {
        let phase = pod["status"]?["phase"]?.stringValue
        guard phase != "Succeeded", phase != "Failed" else { return }
        let containers = pod["spec"]?["containers"]?.arrayValue ?? []
        let started = s.workloads.since(pod, now: now)
        let stamp = Timestamp.now()
        let pulled = containers.map { c -> String? in Self.unpullable(c["image"]?.stringValue ?? "") }
        let broken = podKeptUnhealthy(s, pod)
        let due = now - started >= configuration.workloadStartDelay
        var status: JSONValue = ["phase": "Pending", "hostIP": "10.0.0.1", "startTime": pod["status"]?["startTime"] ?? .string(stamp)]
        var statuses: [JSONValue] = []
        var ready = due
        for (c, pullError) in zip(containers, pulled) {
            var entry: JSONValue = ["name": c["name"] ?? "", "image": c["image"] ?? "", "imageID": "", "restartCount": 0, "started": false, "ready": false]
            if let pullError {
                let reason = due ? "ImagePullBackOff" : "ErrImagePull"
                entry["state"] = ["waiting": ["reason": .string(reason), "message": .string("failed to pull image \"\(c["image"]?.stringValue ?? "")\": \(pullError)")]]
                ready = false
            } else if broken {
                entry["state"] = ["waiting": ["reason": "CrashLoopBackOff", "message": "back-off restarting failed container (kept unhealthy by the emulator)"]]
                entry["restartCount"] = .int(due ? 1 : 0)
                ready = false
            } else if due {
                entry["state"] = ["running": ["startedAt": .string(stamp)]]
                entry["ready"] = true
                entry["started"] = true
            } else {
                entry["state"] = ["waiting": ["reason": "ContainerCreating"]]
            }
            if let old = pod["status"]?["containerStatuses"]?.arrayValue?.first(where: { $0["name"] == c["name"] }),
               old["state"]?["running"] != nil, entry["state"]?["running"] != nil {
                entry["state"] = old["state"]
            }
            statuses.append(entry)
        }
        if !due { s.workloads.due(started + configuration.workloadStartDelay) }
        if ready { status["phase"] = "Running" }
        if ready || broken || pulled.contains(where: { $0 != nil }) { status["podIP"] = "10.244.0.10" }
        let conditions = [
            Self.podCondition("PodScheduled", true, stamp), Self.podCondition("Initialized", true, stamp),
            Self.podCondition("ContainersReady", ready, stamp, reason: ready ? nil : "ContainersNotReady"),
            Self.podCondition("Ready", ready, stamp, reason: ready ? nil : "ContainersNotReady"),
        ]
        status["conditions"] = Self.keepTimes(conditions, previous: pod["status"])
        status["containerStatuses"] = .array(statuses)
        status["qosClass"] = "BestEffort"
        writeStatus(&s, "", "pods", pod, status, manager: "kubelet")
    }

    static func podCondition(_ type: String, _ value: Bool, _ stamp: String, reason: String? = nil) -> JSONValue {
        var c: JSONValue = ["type": .string(type), "status": value ? "True" : "False", "lastProbeTime": .null, "lastTransitionTime": .string(stamp)]
        if let reason { c["reason"] = .string(reason) }
        return c
    }

    func jobController(_ s: inout State, _ job: JSONValue, now: ContinuousClock.Instant) {
        let status = job["status"] ?? .emptyObject
        if (status["conditions"]?.arrayValue ?? []).contains(where: { ($0["type"] == "Complete" || $0["type"] == "Failed") && $0["status"] == "True" }) { return }
        let started = s.workloads.since(job, now: now)
        let stamp = Timestamp.now()
        var next: JSONValue = ["startTime": status["startTime"] ?? .string(stamp)]
        if now - started < configuration.workloadStartDelay {
            next["active"] = .int(job["spec"]?["parallelism"]?.intValue ?? 1)
            next["ready"] = 0
            next["terminating"] = 0
            s.workloads.due(started + configuration.workloadStartDelay)
        } else if isKeptUnhealthy(s, job) {
            next["failed"] = .int((job["spec"]?["backoffLimit"]?.intValue ?? 6) + 1)
            next["ready"] = 0
            next["terminating"] = 0
            next["conditions"] = JSONValue.array([
                Self.condition("FailureTarget", true, "BackoffLimitExceeded", "Job has reached the specified backoff limit", since: stamp),
                Self.condition("Failed", true, "BackoffLimitExceeded", "Job has reached the specified backoff limit", since: stamp),
            ].map(Self.withProbe))
        } else {
            next["succeeded"] = .int(job["spec"]?["completions"]?.intValue ?? 1)
            next["completionTime"] = .string(stamp)
            next["ready"] = 0
            next["terminating"] = 0
            next["uncountedTerminatedPods"] = .emptyObject
            next["conditions"] = JSONValue.array([
                Self.condition("SuccessCriteriaMet", true, "CompletionsReached", "Reached expected number of succeeded pods", since: stamp),
                Self.condition("Complete", true, "CompletionsReached", "Reached expected number of succeeded pods", since: stamp),
            ].map(Self.withProbe))
        }
        writeStatus(&s, "batch", "jobs", job, next)
    }

    /// Job conditions carry `lastProbeTime` where Deployment's carry `lastUpdateTime`.
    static func withProbe(_ c: JSONValue) -> JSONValue {
        var out = c
        out["lastProbeTime"] = c["lastUpdateTime"]
        out["lastUpdateTime"] = nil
        return out
    }

    func volumeBinder(_ s: inout State, _ claim: JSONValue, now: ContinuousClock.Instant) {
        guard claim["status"]?["phase"]?.stringValue != "Bound" else { return }
        let started = s.workloads.since(claim, now: now)
        guard now - started >= configuration.workloadStartDelay, !isKeptUnhealthy(s, claim) else {
            if !isKeptUnhealthy(s, claim) { s.workloads.due(started + configuration.workloadStartDelay) }
            writeStatus(&s, "", "persistentvolumeclaims", claim, ["phase": "Pending"])
            return
        }
        let status: JSONValue = ["phase": "Bound", "accessModes": claim["spec"]?["accessModes"] ?? ["ReadWriteOnce"],
                                 "capacity": claim["spec"]?["resources"]?["requests"] ?? .emptyObject]
        writeStatus(&s, "", "persistentvolumeclaims", claim, status)
    }

    func statefulSetController(_ s: inout State, _ set: JSONValue, now: ContinuousClock.Instant) {
        let wanted = Self.replicas(set)
        let started = s.workloads.since(set, now: now)
        let revision = "\(ObjectMeta.name(set))-\(Self.templateHash(set["spec"]?["template"]))"
        let done = now - started >= configuration.workloadStartDelay && !isKeptUnhealthy(s, set)
        if !done && !isKeptUnhealthy(s, set) { s.workloads.due(started + configuration.workloadStartDelay) }
        let previous = set["status"]?["currentRevision"]?.stringValue ?? revision
        var status: JSONValue = [
            "observedGeneration": set["metadata"]?["generation"] ?? 1, "replicas": .int(wanted),
            "readyReplicas": .int(done ? wanted : 0), "availableReplicas": .int(done ? wanted : 0),
            "currentReplicas": .int(wanted), "updatedReplicas": .int(done ? wanted : 0),
            "currentRevision": .string(done ? revision : previous), "updateRevision": .string(revision), "collisionCount": 0,
        ]
        for k in ["readyReplicas", "availableReplicas", "updatedReplicas"] where status[k]?.intValue == 0 { status[k] = nil }
        writeStatus(&s, "apps", "statefulsets", set, status)
    }

    /// One emulated node: every DaemonSet wants one Pod.
    func daemonSetController(_ s: inout State, _ set: JSONValue, now: ContinuousClock.Instant) {
        let started = s.workloads.since(set, now: now)
        let done = now - started >= configuration.workloadStartDelay && !isKeptUnhealthy(s, set)
        if !done && !isKeptUnhealthy(s, set) { s.workloads.due(started + configuration.workloadStartDelay) }
        let n: Int64 = done ? 1 : 0
        var status: JSONValue = [
            "observedGeneration": set["metadata"]?["generation"] ?? 1, "desiredNumberScheduled": 1, "currentNumberScheduled": 1,
            "numberMisscheduled": 0, "numberReady": .int(n), "numberAvailable": .int(n), "updatedNumberScheduled": .int(n),
        ]
        if !done { status["numberUnavailable"] = 1 }
        if n == 0 { status["numberAvailable"] = nil; status["updatedNumberScheduled"] = nil }
        writeStatus(&s, "apps", "daemonsets", set, status)
    }
}
