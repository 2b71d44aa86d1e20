import Foundation
import KubeModel

/// Server-side printing of the built-in kinds `kubectl get` shows most, with kube-apiserver 1.30's
/// columns and cells (k8s.io/kubernetes pkg/printers/internalversion/printers.go). The server always
/// prints the wide form; kubectl hides priority-1 columns unless `-o wide`.
extension KubeAPIServer {
    typealias Cell = (JSONValue) -> JSONValue

    static func col(_ name: String, _ type: String, priority: Int, _ cell: @escaping Cell) -> Column {
        Column(name: name, type: type, priority: priority, description: "", cell: cell)
    }

    static func col(_ name: String, _ cell: @escaping Cell) -> Column { col(name, "string", priority: 0, cell) }
    static func col(_ name: String, _ type: String, _ cell: @escaping Cell) -> Column { col(name, type, priority: 0, cell) }
    static func col(_ name: String, priority: Int, _ cell: @escaping Cell) -> Column { col(name, "string", priority: priority, cell) }

    static func text(_ path: String, default fallback: String = "") -> Cell {
        let parts = path.split(separator: ".").map(String.init)
        return { o in
            guard let v = o[path: parts], !v.isNull else { return .string(fallback) }
            if let s = v.stringValue { return .string(s) }
            return .string(v.goDisplay)
        }
    }

    static func int(_ path: String) -> Cell {
        let parts = path.split(separator: ".").map(String.init)
        return { .int($0[path: parts]?.intValue ?? 0) }
    }

    /// How long ago an RFC 3339 time was, or `<unknown>` (translateTimestampSince).
    static func since(_ value: JSONValue?) -> String {
        guard let s = value?.stringValue, let d = Timestamp.parse(s) else { return "<unknown>" }
        return Timestamp.humanDuration(Date().timeIntervalSince(d))
    }

    static func labelSelector(_ selector: JSONValue?) -> String {
        guard let selector, !selector.isNull else { return "<none>" }
        var parts: [String] = []
        for (k, v) in (selector["matchLabels"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            parts.append("\(k)=\(v.stringValue ?? "")")
        }
        for e in selector["matchExpressions"]?.arrayValue ?? [] {
            let key = e["key"]?.stringValue ?? ""
            let values = (e["values"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ",")
            switch e["operator"]?.stringValue ?? "" {
            case "In": parts.append("\(key) in (\(values))")
            case "NotIn": parts.append("\(key) notin (\(values))")
            case "Exists": parts.append(key)
            case "DoesNotExist": parts.append("!\(key)")
            default: break
            }
        }
        return parts.isEmpty ? "<none>" : parts.joined(separator: ",")
    }

    /// The columns of a built-in kind, or nil for kube-apiserver's default (Name, Created At).
    func builtinColumns(_ r: ResourceInfo, name: Column, age: Column) -> [Column]? {
        typealias K = KubeAPIServer
        switch r.storageKey {
        case "events":
            return [K.col("Last Seen", K.eventLastSeen), K.col("Type", K.text("type")), K.col("Reason", K.text("reason")),
                    K.col("Object", K.eventObject), K.col("Subobject", priority: 1, K.text(r.group.isEmpty ? "involvedObject.fieldPath" : "regarding.fieldPath")),
                    K.col("Source", priority: 1, K.eventSource), K.col("Message", { o in .string((o["message"] ?? o["note"])?.stringValue?.trimmingSpaces ?? "") }),
                    K.col("First Seen", priority: 1, K.eventFirstSeen), K.col("Count", "integer", priority: 1, K.eventCount),
                    K.col("Name", priority: 1, { .string(ObjectMeta.name($0)) })]
        case "storageclasses.storage.k8s.io":
            return [name, K.col("Provisioner", K.text("provisioner")), K.col("ReclaimPolicy", K.text("reclaimPolicy", default: "Delete")),
                    K.col("VolumeBindingMode", K.text("volumeBindingMode", default: "Immediate")),
                    K.col("AllowVolumeExpansion", "boolean", { .bool($0["allowVolumeExpansion"]?.boolValue ?? false) }), age]
        case "priorityclasses.scheduling.k8s.io":
            return [name, K.col("Value", "integer", K.int("value")), K.col("Global-Default", "boolean", { .bool($0["globalDefault"]?.boolValue ?? false) }),
                    age, K.col("PreemptionPolicy", K.text("preemptionPolicy", default: "PreemptLowerPriority"))]
        case "ingressclasses.networking.k8s.io":
            return [name, K.col("Controller", K.text("spec.controller")), K.col("Parameters", { o in
                guard let p = o["spec"]?["parameters"], !p.isNull else { return "<none>" }
                let group = p["apiGroup"]?.stringValue.map { "\($0)/" } ?? ""
                return .string("\(group)\(p["kind"]?.stringValue ?? "")/\(p["name"]?.stringValue ?? "")")
            }), age]
        case "networkpolicies.networking.k8s.io":
            return [name, K.col("Pod-Selector", { .string(K.labelSelector($0["spec"]?["podSelector"]).replacingAll("<none>", with: "")) }), age]
        case "poddisruptionbudgets.policy":
            return [name, K.col("Min Available", K.text("spec.minAvailable", default: "N/A")),
                    K.col("Max Unavailable", K.text("spec.maxUnavailable", default: "N/A")),
                    K.col("Allowed Disruptions", "integer", K.int("status.disruptionsAllowed")), age]
        case "runtimeclasses.node.k8s.io":
            return [name, K.col("Handler", K.text("handler")), age]
        case "csidrivers.storage.k8s.io":
            return [name, K.col("AttachRequired", "boolean", { .bool($0["spec"]?["attachRequired"]?.boolValue ?? true) }),
                    K.col("PodInfoOnMount", "boolean", { .bool($0["spec"]?["podInfoOnMount"]?.boolValue ?? false) }),
                    K.col("StorageCapacity", "boolean", { .bool($0["spec"]?["storageCapacity"]?.boolValue ?? false) }),
                    K.col("TokenRequests", { o in .string((o["spec"]?["tokenRequests"]?.arrayValue ?? []).compactMap { $0["audience"]?.stringValue }.joined(separator: ",").nonEmpty ?? "<unset>") }),
                    K.col("RequiresRepublish", "boolean", { .bool($0["spec"]?["requiresRepublish"]?.boolValue ?? false) }),
                    K.col("Modes", { o in .string((o["spec"]?["volumeLifecycleModes"]?.arrayValue ?? ["Persistent"]).compactMap(\.stringValue).joined(separator: ",")) }),
                    age]
        case "leases.coordination.k8s.io":
            return [name, K.col("Holder", K.text("spec.holderIdentity")), age]
        case "jobs.batch":
            return [name, K.col("Status", K.jobStatus), K.col("Completions", { o in
                        .string("\(o["status"]?["succeeded"]?.intValue ?? 0)/\(o["spec"]?["completions"]?.intValue ?? 1)") }),
                    K.col("Duration", K.jobDuration), age,
                    K.col("Containers", priority: 1, K.containers("name")), K.col("Images", priority: 1, K.containers("image")),
                    K.col("Selector", priority: 1, { .string(K.labelSelector($0["spec"]?["selector"])) })]
        case "cronjobs.batch":
            return [name, K.col("Schedule", K.text("spec.schedule")), K.col("Timezone", K.text("spec.timeZone", default: "<none>")),
                    K.col("Suspend", "boolean", { .bool($0["spec"]?["suspend"]?.boolValue ?? false) }),
                    K.col("Active", "integer", { .int(Int64($0["status"]?["active"]?.arrayValue?.count ?? 0)) }),
                    K.col("Last Schedule", { o in .string(o["status"]?["lastScheduleTime"].map { K.since($0) } ?? "<none>") }), age,
                    K.col("Containers", priority: 1, K.containers("name", template: ["spec", "jobTemplate", "spec", "template", "spec"])),
                    K.col("Images", priority: 1, K.containers("image", template: ["spec", "jobTemplate", "spec", "template", "spec"])),
                    K.col("Selector", priority: 1, { .string(K.labelSelector($0["spec"]?["jobTemplate"]?["spec"]?["selector"])) })]
        case "persistentvolumeclaims":
            return [name, K.col("Status", K.text("status.phase", default: "Pending")), K.col("Volume", K.text("spec.volumeName")),
                    K.col("Capacity", K.text("status.capacity.storage")), K.col("Access Modes", K.accessModes(["status", "accessModes"])),
                    K.col("StorageClass", K.text("spec.storageClassName", default: "<unset>")),
                    K.col("VolumeAttributesClass", K.text("spec.volumeAttributesClassName", default: "<unset>")), age,
                    K.col("VolumeMode", priority: 1, K.text("spec.volumeMode", default: "Filesystem"))]
        case "persistentvolumes":
            return [name, K.col("Capacity", K.text("spec.capacity.storage")), K.col("Access Modes", K.accessModes(["spec", "accessModes"])),
                    K.col("Reclaim Policy", K.text("spec.persistentVolumeReclaimPolicy", default: "Retain")),
                    K.col("Status", K.text("status.phase", default: "Pending")), K.col("Claim", { o in
                        guard let c = o["spec"]?["claimRef"], !c.isNull else { return "" }
                        return .string("\(c["namespace"]?.stringValue ?? "")/\(c["name"]?.stringValue ?? "")") }),
                    K.col("StorageClass", K.text("spec.storageClassName")), K.col("VolumeAttributesClass", K.text("spec.volumeAttributesClassName", default: "<unset>")),
                    K.col("Reason", K.text("status.reason")), age,
                    K.col("VolumeMode", priority: 1, K.text("spec.volumeMode", default: "Filesystem"))]
        default:
            return nil
        }
    }

    static func accessModes(_ path: [String]) -> Cell {
        { o in
            let short = ["ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"]
            return .string((o[path: path]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap { short[$0] } }.joined(separator: ","))
        }
    }

    static func containers(_ field: String, template: [String] = ["spec", "template", "spec"]) -> Cell {
        { o in .string((o[path: template + ["containers"]]?.arrayValue ?? []).compactMap { $0[field]?.stringValue }.joined(separator: ",")) }
    }

    static func jobStatus(_ o: JSONValue) -> JSONValue {
        let conditions = o["status"]?["conditions"]?.arrayValue ?? []
        func has(_ type: String) -> Bool { conditions.contains { $0["type"]?.stringValue == type && $0["status"]?.stringValue == "True" } }
        if has("Complete") { return "Complete" }
        if has("Failed") { return "Failed" }
        if o["metadata"]?["deletionTimestamp"] != nil { return "Terminating" }
        if has("Suspended") { return "Suspended" }
        if has("FailureTarget") { return "FailureTarget" }
        if has("SuccessCriteriaMet") { return "SuccessCriteriaMet" }
        return "Running"
    }

    static func jobDuration(_ o: JSONValue) -> JSONValue {
        guard let start = o["status"]?["startTime"]?.stringValue.flatMap(Timestamp.parse) else { return "" }
        let end = o["status"]?["completionTime"]?.stringValue.flatMap(Timestamp.parse) ?? Date()
        return .string(Timestamp.humanDuration(end.timeIntervalSince(start)))
    }

    // MARK: Events (printEvent): either version, the same columns.

    static func eventFirstSeen(_ o: JSONValue) -> JSONValue {
        let first = o["firstTimestamp"] ?? o["deprecatedFirstTimestamp"]
        if let f = first, !f.isNull { return .string(since(f)) }
        return .string(since(o["eventTime"]))
    }

    static func eventLastSeen(_ o: JSONValue) -> JSONValue {
        if let series = o["series"], !series.isNull { return .string(since(series["lastObservedTime"])) }
        let last = o["lastTimestamp"] ?? o["deprecatedLastTimestamp"]
        if let l = last, !l.isNull { return .string(since(l)) }
        return eventFirstSeen(o)
    }

    static func eventCount(_ o: JSONValue) -> JSONValue {
        if let n = o["series"]?["count"]?.intValue { return .int(n) }
        let count = (o["count"] ?? o["deprecatedCount"])?.intValue ?? 0
        return .int(count == 0 ? 1 : count)
    }

    static func eventObject(_ o: JSONValue) -> JSONValue {
        let ref = o["involvedObject"] ?? o["regarding"] ?? .emptyObject
        let kind = (ref["kind"]?.stringValue ?? "").lowercased()
        let name = ref["name"]?.stringValue ?? ""
        return .string(name.isEmpty ? kind : "\(kind)/\(name)")
    }

    /// formatEventSource: the component (else the reporting controller), then the host (else the instance).
    static func eventSource(_ o: JSONValue) -> JSONValue {
        let source = o["source"] ?? o["deprecatedSource"] ?? .emptyObject
        func first(_ values: JSONValue?...) -> String { values.lazy.compactMap { $0?.stringValue }.first { !$0.isEmpty } ?? "" }
        let component = first(source["component"], o["reportingComponent"], o["reportingController"])
        let instance = first(source["host"], o["reportingInstance"])
        return .string(instance.isEmpty ? component : "\(component), \(instance)")
    }
}

private extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
