import KubeModel

/// What kube-apiserver does between the versions one stored kind is served at: an object is kept
/// as it was written and converted whenever it is read at another version (a GET, a LIST, a watch
/// event, the base of a patch). Events are one kind at `v1` and `events.k8s.io/v1`; a
/// HorizontalPodAutoscaler is one at `autoscaling/v1` and `autoscaling/v2`; elsewhere (FlowSchemas at
/// v1 and v1beta3, custom resources without a conversion webhook) only `apiVersion` changes.
enum VersionConversion {
    static func convert(_ object: JSONValue, to apiVersion: String) -> JSONValue {
        guard let from = object["apiVersion"]?.stringValue, from != apiVersion else { return object }
        var out: JSONValue
        switch (object["kind"]?.stringValue ?? "", from, apiVersion) {
        case ("Event", "v1", "events.k8s.io/v1"): out = EventConversion.toEventsV1(object)
        case ("Event", "events.k8s.io/v1", "v1"): out = EventConversion.toCoreV1(object)
        case ("HorizontalPodAutoscaler", "autoscaling/v2", "autoscaling/v1"): out = HPAConversion.toV1(object)
        case ("HorizontalPodAutoscaler", "autoscaling/v1", "autoscaling/v2"): out = HPAConversion.toV2(object)
        default: out = object
        }
        out["apiVersion"] = .string(apiVersion)
        return out
    }
}

/// core/v1 Event ↔ events.k8s.io/v1 Event (k8s.io/kubernetes pkg/apis/events/v1/conversion.go).
enum EventConversion {
    /// events.k8s.io field ← core field.
    static let renamed: [(String, String)] = [
        ("regarding", "involvedObject"), ("note", "message"), ("reportingController", "reportingComponent"),
        ("deprecatedSource", "source"), ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"), ("deprecatedCount", "count"),
    ]
    static let shared = ["metadata", "eventTime", "series", "reportingInstance", "action", "reason", "related", "type"]

    static func toEventsV1(_ core: JSONValue) -> JSONValue {
        var out: JSONValue = ["kind": "Event"]
        for key in shared { if let v = core[key] { out[key] = v } }
        for (new, old) in renamed { if let v = core[old], !isEmpty(v) { out[new] = v } }
        // Always written by the Go types: a struct and a non-omitempty time.
        if out["regarding"] == nil { out["regarding"] = .emptyObject }
        if out["eventTime"] == nil { out["eventTime"] = .null }
        return out
    }

    static func toCoreV1(_ events: JSONValue) -> JSONValue {
        var out: JSONValue = ["kind": "Event"]
        for key in shared { if let v = events[key] { out[key] = v } }
        for (new, old) in renamed { if let v = events[new], !isEmpty(v) { out[old] = v } }
        if out["involvedObject"] == nil { out["involvedObject"] = .emptyObject }
        if out["source"] == nil { out["source"] = .emptyObject }
        for key in ["firstTimestamp", "lastTimestamp", "eventTime"] where out[key] == nil { out[key] = .null }
        for key in ["reportingComponent", "reportingInstance"] where out[key] == nil { out[key] = "" }
        return out
    }

    static func isEmpty(_ v: JSONValue) -> Bool {
        switch v {
        case .null: return true
        case .string(let s): return s.isEmpty
        case .int(let i): return i == 0
        case .object(let o): return o.isEmpty
        default: return false
        }
    }
}

/// autoscaling/v1 ↔ autoscaling/v2 HorizontalPodAutoscaler: v1's CPU target is v2's Resource metric
/// `cpu` with a Utilization target (k8s.io/kubernetes pkg/apis/autoscaling/v1/conversion.go). v2's
/// other metrics and its behavior are not visible at v1 (kube-apiserver keeps them in annotations).
enum HPAConversion {
    static let common = ["scaleTargetRef", "minReplicas", "maxReplicas"]
    static let commonStatus = ["observedGeneration", "lastScaleTime", "currentReplicas", "desiredReplicas"]

    static func toV1(_ v2: JSONValue) -> JSONValue {
        var out = v2
        var spec: JSONValue = .emptyObject
        for key in common { if let v = v2["spec"]?[key] { spec[key] = v } }
        if let cpu = cpuMetric(v2["spec"]?["metrics"]), let target = cpu["resource"]?["target"],
           target["type"]?.stringValue == "Utilization", let percent = target["averageUtilization"] {
            spec["targetCPUUtilizationPercentage"] = percent
        }
        out["spec"] = spec
        if let status = v2["status"] {
            var s: JSONValue = .emptyObject
            for key in commonStatus { if let v = status[key] { s[key] = v } }
            if let current = cpuMetric(status["currentMetrics"])?["resource"]?["current"]?["averageUtilization"] {
                s["currentCPUUtilizationPercentage"] = current
            }
            out["status"] = s
        }
        return out
    }

    static func toV2(_ v1: JSONValue) -> JSONValue {
        var out = v1
        var spec: JSONValue = .emptyObject
        for key in common { if let v = v1["spec"]?[key] { spec[key] = v } }
        if let percent = v1["spec"]?["targetCPUUtilizationPercentage"] {
            spec["metrics"] = [["type": "Resource", "resource": ["name": "cpu", "target": ["type": "Utilization", "averageUtilization": percent]]]]
        }
        out["spec"] = spec
        if let status = v1["status"] {
            var s: JSONValue = .emptyObject
            for key in commonStatus { if let v = status[key] { s[key] = v } }
            if let current = status["currentCPUUtilizationPercentage"] {
                s["currentMetrics"] = [["type": "Resource", "resource": ["name": "cpu", "current": ["averageUtilization": current]]]]
            }
            out["status"] = s
        }
        return out
    }

    static func cpuMetric(_ metrics: JSONValue?) -> JSONValue? {
        metrics?.arrayValue?.first { $0["type"]?.stringValue == "Resource" && $0["resource"]?["name"]?.stringValue == "cpu" }
    }
}
