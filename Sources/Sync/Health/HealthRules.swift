import KubeModel

/// kstatus's rules, kind by kind, over a live object (pure). Kinds without a rule are current
/// unless they carry the generic signals: a deletion in progress, an `observedGeneration` behind
/// `metadata.generation`, `Reconciling=True`, `Stalled=True`, or a `Ready` condition not true.
enum HealthRules {
    /// Kinds with rules of their own (any group: the switch below checks it).
    static let ruled: Set<String> = ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "PersistentVolumeClaim", "Pod",
                                     "Namespace", "Service", "CustomResourceDefinition"]

    static func assess(_ object: JSONValue) -> ObjectHealth {
        if object["metadata"]?["deletionTimestamp"]?.stringValue != nil {
            return ObjectHealth(.inProgress, reason: "Terminating", message: "being deleted")
        }
        let kind = object["kind"]?.stringValue ?? ""
        // The common case of every resync: a ConfigMap, a Secret, RBAC… without status is current.
        if !ruled.contains(kind), object["status"]?.objectValue?.isEmpty ?? true { return .current }
        let group = (object["apiVersion"]?.stringValue ?? "").split(separator: "/").dropLast().first.map(String.init) ?? ""
        let status = object["status"] ?? .null
        let generation = object["metadata"]?["generation"]?.intValue
        if let generation, let observed = status["observedGeneration"]?.intValue, observed < generation {
            return ObjectHealth(.inProgress, reason: "Progressing", message: "generation \(generation) not observed yet (observed \(observed))")
        }
        switch (group, kind) {
        case ("apps", "Deployment"): return deployment(object, status)
        case ("apps", "StatefulSet"): return statefulSet(object, status)
        case ("apps", "DaemonSet"): return daemonSet(status)
        case ("apps", "ReplicaSet"): return replicaSet(object, status)
        case ("batch", "Job"): return job(status)
        case ("", "PersistentVolumeClaim"): return persistentVolumeClaim(status)
        case ("", "Pod"): return pod(status)
        case ("", "Namespace"):
            return status["phase"]?.stringValue == "Terminating" ? ObjectHealth(.inProgress, reason: "Terminating", message: "namespace terminating") : .current
        case ("", "Service"): return service(object, status)
        case ("apiextensions.k8s.io", "CustomResourceDefinition"): return customResourceDefinition(status)
        default: return generic(object, status)
        }
    }

    // MARK: conditions

    static func condition(_ status: JSONValue, _ type: String) -> JSONValue? {
        status["conditions"]?.arrayValue?.first { $0["type"]?.stringValue == type }
    }

    static func isTrue(_ status: JSONValue, _ type: String) -> Bool { condition(status, type)?["status"]?.stringValue == "True" }
    static func isFalse(_ status: JSONValue, _ type: String) -> Bool { condition(status, type)?["status"]?.stringValue == "False" }

    static func message(_ c: JSONValue?) -> String { c?["message"]?.stringValue ?? "" }

    /// Objects that follow the kstatus conventions (custom resources, mostly).
    static func generic(_ object: JSONValue, _ status: JSONValue) -> ObjectHealth {
        if isTrue(status, "Stalled") {
            let c = condition(status, "Stalled")
            return ObjectHealth(.failed, reason: c?["reason"]?.stringValue ?? "Stalled", message: message(c))
        }
        if isTrue(status, "Reconciling") {
            let c = condition(status, "Reconciling")
            return ObjectHealth(.inProgress, reason: c?["reason"]?.stringValue ?? "Reconciling", message: message(c))
        }
        guard let ready = condition(status, "Ready") else { return .current }
        // A Ready condition counts only for the generation it observed (when it says).
        if let generation = object["metadata"]?["generation"]?.intValue, let observed = ready["observedGeneration"]?.intValue, observed < generation {
            return ObjectHealth(.inProgress, reason: "Progressing", message: "Ready is for generation \(observed), not \(generation)")
        }
        switch ready["status"]?.stringValue {
        case "True": return .current
        case "False": return ObjectHealth(.inProgress, reason: ready["reason"]?.stringValue ?? "NotReady", message: message(ready))
        default: return ObjectHealth(.inProgress, reason: ready["reason"]?.stringValue ?? "Progressing", message: message(ready))
        }
    }

    // MARK: workloads

    static func int(_ v: JSONValue?) -> Int64 { v?.intValue ?? 0 }

    static func deployment(_ object: JSONValue, _ status: JSONValue) -> ObjectHealth {
        if status["observedGeneration"] == nil {
            return ObjectHealth(.inProgress, reason: "Progressing", message: "not observed by the deployment controller yet")
        }
        if let progressing = condition(status, "Progressing"), progressing["reason"]?.stringValue == "ProgressDeadlineExceeded" {
            return ObjectHealth(.failed, reason: "ProgressDeadlineExceeded", message: message(progressing))
        }
        let wanted = object["spec"]?["replicas"]?.intValue ?? 1
        let updated = int(status["updatedReplicas"]), replicas = int(status["replicas"])
        let ready = int(status["readyReplicas"]), available = int(status["availableReplicas"])
        if updated < wanted { return ObjectHealth(.inProgress, reason: "Progressing", message: "updated replicas: \(updated)/\(wanted)") }
        // (kstatus checks old replicas first; the new ones not becoming available says more.)
        if available < updated { return ObjectHealth(.inProgress, reason: "Progressing", message: "available replicas: \(available)/\(updated)") }
        if replicas > updated { return ObjectHealth(.inProgress, reason: "Progressing", message: "pending termination: \(replicas - updated)") }
        if ready < wanted { return ObjectHealth(.inProgress, reason: "Progressing", message: "ready replicas: \(ready)/\(wanted)") }
        if isFalse(status, "Available") {
            return ObjectHealth(.inProgress, reason: "Progressing", message: message(condition(status, "Available")))
        }
        return .current
    }

    static func statefulSet(_ object: JSONValue, _ status: JSONValue) -> ObjectHealth {
        if status["observedGeneration"] == nil {
            return ObjectHealth(.inProgress, reason: "Progressing", message: "not observed by the statefulset controller yet")
        }
        let strategy = object["spec"]?["updateStrategy"]?["type"]?.stringValue ?? "RollingUpdate"
        let wanted = object["spec"]?["replicas"]?.intValue ?? 1
        let ready = int(status["readyReplicas"]), replicas = int(status["replicas"])
        if replicas < wanted { return ObjectHealth(.inProgress, reason: "Progressing", message: "replicas: \(replicas)/\(wanted)") }
        if ready < wanted { return ObjectHealth(.inProgress, reason: "Progressing", message: "ready replicas: \(ready)/\(wanted)") }
        guard strategy == "RollingUpdate" else { return .current }
        if let partition = object["spec"]?["updateStrategy"]?["rollingUpdate"]?["partition"]?.intValue, partition > 0 {
            let updated = int(status["updatedReplicas"])
            return updated < wanted - partition
                ? ObjectHealth(.inProgress, reason: "Progressing", message: "partitioned roll out: \(updated)/\(wanted - partition) updated")
                : .current
        }
        if let update = status["updateRevision"]?.stringValue, status["currentRevision"]?.stringValue != update {
            return ObjectHealth(.inProgress, reason: "Progressing", message: "rolling out revision \(update)")
        }
        return .current
    }

    static func daemonSet(_ status: JSONValue) -> ObjectHealth {
        if status["observedGeneration"] == nil {
            return ObjectHealth(.inProgress, reason: "Progressing", message: "not observed by the daemonset controller yet")
        }
        let desired = int(status["desiredNumberScheduled"])
        let updated = int(status["updatedNumberScheduled"]), available = int(status["numberAvailable"]), ready = int(status["numberReady"])
        if updated < desired { return ObjectHealth(.inProgress, reason: "Progressing", message: "updated: \(updated)/\(desired)") }
        if available < desired { return ObjectHealth(.inProgress, reason: "Progressing", message: "available: \(available)/\(desired)") }
        if ready < desired { return ObjectHealth(.inProgress, reason: "Progressing", message: "ready: \(ready)/\(desired)") }
        return .current
    }

    static func replicaSet(_ object: JSONValue, _ status: JSONValue) -> ObjectHealth {
        if let failure = condition(status, "ReplicaFailure"), failure["status"]?.stringValue == "True" {
            return ObjectHealth(.inProgress, reason: failure["reason"]?.stringValue ?? "ReplicaFailure", message: message(failure))
        }
        let wanted = object["spec"]?["replicas"]?.intValue ?? 1
        let ready = int(status["readyReplicas"])
        return ready < wanted ? ObjectHealth(.inProgress, reason: "Progressing", message: "ready replicas: \(ready)/\(wanted)") : .current
    }

    static func job(_ status: JSONValue) -> ObjectHealth {
        if isTrue(status, "Failed") {
            let c = condition(status, "Failed")
            return ObjectHealth(.failed, reason: c?["reason"]?.stringValue ?? "JobFailed", message: message(c))
        }
        if isTrue(status, "Complete") { return .current }
        return ObjectHealth(.inProgress, reason: "JobInProgress",
                            message: "active: \(int(status["active"])), succeeded: \(int(status["succeeded"])), failed: \(int(status["failed"]))")
    }

    static func persistentVolumeClaim(_ status: JSONValue) -> ObjectHealth {
        let phase = status["phase"]?.stringValue ?? "Pending"
        if phase == "Bound" { return .current }
        if phase == "Lost" { return ObjectHealth(.failed, reason: "ClaimLost", message: "the bound volume is lost") }
        return ObjectHealth(.inProgress, reason: "NotBound", message: "phase \(phase)")
    }

    static func pod(_ status: JSONValue) -> ObjectHealth {
        switch status["phase"]?.stringValue {
        case "Succeeded": return .current
        case "Failed": return ObjectHealth(.failed, reason: status["reason"]?.stringValue ?? "PodFailed", message: status["message"]?.stringValue ?? "")
        case "Running" where isTrue(status, "Ready"): return .current
        default:
            for c in status["containerStatuses"]?.arrayValue ?? [] {
                if let waiting = c["state"]?["waiting"], let reason = waiting["reason"]?.stringValue, reason != "ContainerCreating" {
                    // As kstatus: only a crash loop fails; a pull may still succeed.
                    let failed = reason == "CrashLoopBackOff"
                    return ObjectHealth(failed ? .failed : .inProgress, reason: reason, message: waiting["message"]?.stringValue ?? "")
                }
            }
            return ObjectHealth(.inProgress, reason: "PodNotReady", message: "phase \(status["phase"]?.stringValue ?? "Pending")")
        }
    }

    static func service(_ object: JSONValue, _ status: JSONValue) -> ObjectHealth {
        guard object["spec"]?["type"]?.stringValue == "LoadBalancer" else { return .current }
        let ingress = status["loadBalancer"]?["ingress"]?.arrayValue ?? []
        return ingress.isEmpty ? ObjectHealth(.inProgress, reason: "Pending", message: "no load balancer address yet") : .current
    }

    static func customResourceDefinition(_ status: JSONValue) -> ObjectHealth {
        if isFalse(status, "NamesAccepted") {
            let c = condition(status, "NamesAccepted")
            return ObjectHealth(.failed, reason: c?["reason"]?.stringValue ?? "NamesNotAccepted", message: message(c))
        }
        return isTrue(status, "Established") ? .current : ObjectHealth(.inProgress, reason: "NotEstablished", message: "not established yet")
    }
}
